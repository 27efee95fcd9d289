#include "op/work_queue.hpp"

#include <algorithm>

namespace annal::op {

std::chrono::milliseconds backoff_delay(const Backoff& backoff, int failures) {
    std::chrono::milliseconds delay = backoff.base;
    for (int i = 0; i < failures && delay < backoff.max; ++i)
        delay *= 2;
    return std::min(delay, backoff.max);
}

WorkQueue::WorkQueue(Backoff backoff) : backoff_(backoff) {}

void WorkQueue::add_locked(const std::string& key) {
    if (shutting_down_ || dirty_.count(key))
        return;
    dirty_.insert(key);
    // A key in flight is re-queued by done(), so one key never runs on two workers.
    if (processing_.count(key))
        return;
    queue_.push_back(key);
    cv_.notify_one();
}

void WorkQueue::add(const std::string& key) {
    std::lock_guard lock(mutex_);
    add_locked(key);
}

void WorkQueue::add_after(const std::string& key, std::chrono::milliseconds delay) {
    if (delay <= std::chrono::milliseconds::zero()) {
        add(key);
        return;
    }
    std::lock_guard lock(mutex_);
    if (shutting_down_)
        return;
    delayed_.emplace(Clock::now() + delay, key);
    cv_.notify_all();  // a sleeping get() may need an earlier wake-up
}

std::chrono::milliseconds WorkQueue::add_rate_limited(const std::string& key) {
    int failures = 0;
    {
        std::lock_guard lock(mutex_);
        failures = failures_[key]++;
    }
    const auto delay = backoff_delay(backoff_, failures);
    add_after(key, delay);
    return delay;
}

void WorkQueue::forget(const std::string& key) {
    std::lock_guard lock(mutex_);
    failures_.erase(key);
}

int WorkQueue::failures(const std::string& key) const {
    std::lock_guard lock(mutex_);
    auto it = failures_.find(key);
    return it == failures_.end() ? 0 : it->second;
}

void WorkQueue::promote_due_locked(Clock::time_point now) {
    while (!delayed_.empty() && delayed_.begin()->first <= now) {
        const std::string key = delayed_.begin()->second;
        delayed_.erase(delayed_.begin());
        add_locked(key);
    }
}

std::optional<std::string> WorkQueue::get() {
    std::unique_lock lock(mutex_);
    while (true) {
        if (shutting_down_)
            return std::nullopt;
        promote_due_locked(Clock::now());
        if (!queue_.empty())
            break;
        if (delayed_.empty()) {
            cv_.wait(lock);
        } else {
            // A copy: wait_until reads its deadline after releasing the lock, when another
            // worker may already have erased the map entry (found by ASan).
            const Clock::time_point deadline = delayed_.begin()->first;
            cv_.wait_until(lock, deadline);
        }
    }
    std::string key = queue_.front();
    queue_.pop_front();
    dirty_.erase(key);
    processing_.insert(key);
    return key;
}

void WorkQueue::done(const std::string& key) {
    std::lock_guard lock(mutex_);
    processing_.erase(key);
    if (dirty_.count(key)) {
        queue_.push_back(key);
        cv_.notify_one();
    }
}

void WorkQueue::shut_down() {
    std::lock_guard lock(mutex_);
    shutting_down_ = true;
    cv_.notify_all();
}

std::size_t WorkQueue::depth() const {
    std::lock_guard lock(mutex_);
    return queue_.size() + delayed_.size();
}

}  // namespace annal::op
