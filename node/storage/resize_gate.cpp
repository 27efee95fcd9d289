#include "storage/resize_gate.hpp"

namespace annal::storage {

ResizeGate::SharedHold::SharedHold(ResizeGate& gate) : gate_(gate) {
    while (gate_.resize_pending_.load(std::memory_order_acquire)) {
        gate_.resize_pending_.wait(true, std::memory_order_acquire);
    }
    gate_.mutex_.lock_shared();
}

ResizeGate::SharedHold::~SharedHold() {
    gate_.mutex_.unlock_shared();
}

void ResizeGate::begin_exclusive() {
    resize_pending_.store(true, std::memory_order_release);
    mutex_.lock();
}

void ResizeGate::end_exclusive() {
    mutex_.unlock();
    resize_pending_.store(false, std::memory_order_release);
    resize_pending_.notify_all();
}

}  // namespace annal::storage
