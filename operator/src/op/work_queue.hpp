// A de-duplicating work queue of keys ("namespace/name"), like client-go's: a key queued
// twice is processed once; a key being processed is never handed to a second worker, and
// if it is re-added meanwhile it is processed again afterwards. Failed keys come back after
// a per-key exponential backoff.
#pragma once

#include <chrono>
#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>

namespace annal::op {

struct Backoff {
    std::chrono::milliseconds base{50};
    std::chrono::milliseconds max{60000};
};

// base * 2^failures, capped at max.
std::chrono::milliseconds backoff_delay(const Backoff& backoff, int failures);

class WorkQueue {
  public:
    using Clock = std::chrono::steady_clock;
    explicit WorkQueue(Backoff backoff = {});

    void add(const std::string& key);
    void add_after(const std::string& key, std::chrono::milliseconds delay);
    // Re-adds after the key's next backoff delay; returns the delay used.
    std::chrono::milliseconds add_rate_limited(const std::string& key);
    // Clears the key's failure count (after a success).
    void forget(const std::string& key);
    int failures(const std::string& key) const;

    // Blocks for the next key; nullopt once shut down.
    std::optional<std::string> get();
    // Marks a key from get() as processed.
    void done(const std::string& key);
    void shut_down();
    std::size_t depth() const;

  private:
    void add_locked(const std::string& key);
    void promote_due_locked(Clock::time_point now);

    Backoff backoff_;
    mutable std::mutex mutex_;
    std::condition_variable cv_;
    std::deque<std::string> queue_;
    std::set<std::string> dirty_;       // queued, waiting for a worker
    std::set<std::string> processing_;  // handed to a worker
    std::multimap<Clock::time_point, std::string> delayed_;
    std::map<std::string, int> failures_;
    bool shutting_down_ = false;
};

}  // namespace annal::op
