// Guards the transport's user callbacks so that none runs after stop() returns.
//
// Callbacks run concurrently on the io threads; close() marks the gate closed (no callback
// starts after that) and waits until those already running have finished. A callback that
// itself calls close() (stop() from a handler) would wait for itself: close() notices that
// case and returns without waiting.
#pragma once

#include <condition_variable>
#include <functional>
#include <mutex>

namespace annal::transport {

class CallbackGate {
  public:
    // Runs `callback` unless the gate is closed; returns whether it ran. An exception from
    // the callback is swallowed: it must not unwind through an io thread's run loop.
    bool run(const std::function<void()>& callback) noexcept;
    void close() noexcept;
    bool is_open() const noexcept;

  private:
    // A counter and a condition variable rather than a reader-writer lock: with callbacks
    // arriving back to back, a reader-preferring rwlock can starve close() indefinitely.
    mutable std::mutex mutex_;
    std::condition_variable idle_;
    bool open_ = true;
    int running_ = 0;
};

}  // namespace annal::transport
