// Wakes live subscribers when the store commits, without ever making the committer
// wait for them.
//
// The store calls the commit listener on its committer thread after every durable
// commit. The listener does O(1) work: it schedules at most one "fan-out" task on the io
// executor (an atomic flag coalesces bursts of commits). The fan-out, on an io thread,
// wakes only the subscribers that have caught up and are idle; busy subscribers notice
// new events themselves when their current write completes. Subscribers read the
// events from the store in pages at their own pace, so a slow one costs nothing but its
// own bounded page buffer.
#pragma once

#include <atomic>
#include <boost/asio/any_io_executor.hpp>
#include <cstdint>
#include <memory>
#include <mutex>
#include <unordered_map>
#include <vector>

namespace annal::storage {
class EventStore;
}

namespace annal::api {

class Metrics;

class Subscriber {
  public:
    virtual ~Subscriber() = default;
    // Both may be called from any thread; they only post to the subscriber's strand.
    virtual void wake() = 0;
    virtual void shut_down() = 0;
};

class SubscriptionHub {
  public:
    SubscriptionHub(storage::EventStore& store, Metrics& metrics);
    ~SubscriptionHub();
    SubscriptionHub(const SubscriptionHub&) = delete;
    SubscriptionHub& operator=(const SubscriptionHub&) = delete;

    // Registers the commit listener; fan-outs run on `executor`.
    void start(boost::asio::any_io_executor executor);
    // Unregisters the listener and asks every subscriber to shut down.
    void stop();

    void add(const std::shared_ptr<Subscriber>& subscriber);
    void remove(const Subscriber* subscriber);
    // One-shot: `subscriber` is woken after the next commit. Callers re-check the head
    // after registering, so a commit racing with the registration is never missed.
    void wait_for_commit(const std::shared_ptr<Subscriber>& subscriber);
    std::size_t size() const;

  private:
    void on_commit();
    void fan_out();

    storage::EventStore& store_;
    boost::asio::any_io_executor executor_;
    Metrics& metrics_;
    std::uint64_t listener_token_ = 0;
    bool listening_ = false;
    std::atomic<bool> fan_out_scheduled_{false};
    mutable std::mutex mutex_;
    std::vector<std::weak_ptr<Subscriber>> waiting_;
    std::unordered_map<const Subscriber*, std::weak_ptr<Subscriber>> all_;
};

}  // namespace annal::api
