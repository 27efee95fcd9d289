#include "api/subscription_hub.hpp"

#include <boost/asio/post.hpp>

#include "api/metrics.hpp"
#include "storage/event_store.hpp"

namespace annal::api {

SubscriptionHub::SubscriptionHub(storage::EventStore& store, Metrics& metrics)
    : store_(store), metrics_(metrics) {}

SubscriptionHub::~SubscriptionHub() {
    stop();
}

void SubscriptionHub::start(boost::asio::any_io_executor executor) {
    if (listening_) {
        return;
    }
    executor_ = std::move(executor);
    listener_token_ = store_.add_commit_listener([this](std::uint64_t) { on_commit(); });
    listening_ = true;
}

void SubscriptionHub::stop() {
    if (listening_) {
        store_.remove_commit_listener(listener_token_);
        listening_ = false;
    }
    std::vector<std::shared_ptr<Subscriber>> everyone;
    {
        std::lock_guard lock(mutex_);
        for (auto& [key, weak] : all_) {
            if (auto subscriber = weak.lock()) {
                everyone.push_back(std::move(subscriber));
            }
        }
        waiting_.clear();
    }
    for (auto& subscriber : everyone) {
        subscriber->shut_down();
    }
}

void SubscriptionHub::add(const std::shared_ptr<Subscriber>& subscriber) {
    {
        std::lock_guard lock(mutex_);
        all_.emplace(subscriber.get(), subscriber);
    }
    metrics_.subscriber_added();
}

void SubscriptionHub::remove(const Subscriber* subscriber) {
    bool removed = false;
    {
        std::lock_guard lock(mutex_);
        removed = all_.erase(subscriber) > 0;
    }
    if (removed) {
        metrics_.subscriber_removed();
    }
}

void SubscriptionHub::wait_for_commit(const std::shared_ptr<Subscriber>& subscriber) {
    std::lock_guard lock(mutex_);
    waiting_.push_back(subscriber);
}

std::size_t SubscriptionHub::size() const {
    std::lock_guard lock(mutex_);
    return all_.size();
}

void SubscriptionHub::on_commit() {
    // Committer thread: one atomic exchange and at most one post, whatever the number
    // of subscribers.
    if (!fan_out_scheduled_.exchange(true, std::memory_order_acq_rel)) {
        boost::asio::post(executor_, [this] { fan_out(); });
    }
}

void SubscriptionHub::fan_out() {
    // Cleared before taking the list: a commit landing from here on schedules another
    // fan-out, so no wake-up is lost.
    fan_out_scheduled_.store(false, std::memory_order_release);
    std::vector<std::weak_ptr<Subscriber>> to_wake;
    {
        std::lock_guard lock(mutex_);
        to_wake.swap(waiting_);
    }
    for (auto& weak : to_wake) {
        if (auto subscriber = weak.lock()) {
            subscriber->wake();
        }
    }
}

}  // namespace annal::api
