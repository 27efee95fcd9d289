#include "transport/callback_gate.hpp"

namespace annal::transport {
namespace {

// The gate whose callback this thread is running (nullptr outside callbacks).
thread_local const CallbackGate* running_gate = nullptr;

}  // namespace

bool CallbackGate::run(const std::function<void()>& callback) noexcept {
    {
        std::lock_guard lock(mutex_);
        if (!open_) {
            return false;
        }
        ++running_;
    }
    const CallbackGate* outer = running_gate;
    running_gate = this;
    try {
        callback();
    } catch (...) {
        // Nothing sensible to do with it here; the handler contract says it must not throw.
    }
    running_gate = outer;
    std::lock_guard lock(mutex_);
    if (--running_ == 0) {
        idle_.notify_all();
    }
    return true;
}

void CallbackGate::close() noexcept {
    std::unique_lock lock(mutex_);
    open_ = false;
    if (running_gate == this) {
        return;
    }
    idle_.wait(lock, [this] { return running_ == 0; });
}

bool CallbackGate::is_open() const noexcept {
    std::lock_guard lock(mutex_);
    return open_;
}

}  // namespace annal::transport
