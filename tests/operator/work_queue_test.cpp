#include <doctest/doctest.h>

#include <thread>

#include "op/work_queue.hpp"

using namespace annal::op;
using namespace std::chrono_literals;

TEST_CASE("backoff doubles per failure up to the cap") {
    Backoff b{10ms, 1000ms};
    CHECK(backoff_delay(b, 0) == 10ms);
    CHECK(backoff_delay(b, 1) == 20ms);
    CHECK(backoff_delay(b, 3) == 80ms);
    CHECK(backoff_delay(b, 7) == 1000ms);
    CHECK(backoff_delay(b, 1000) == 1000ms);
}

TEST_CASE("a key queued twice is handed out once") {
    WorkQueue q;
    q.add("ns/a");
    q.add("ns/b");
    q.add("ns/a");
    CHECK(q.depth() == 2);
    CHECK(*q.get() == "ns/a");
    CHECK(*q.get() == "ns/b");
    CHECK(q.depth() == 0);
}

TEST_CASE("a key re-added while processing comes back after done, never concurrently") {
    WorkQueue q;
    q.add("ns/a");
    auto first = q.get();
    q.add("ns/a");
    CHECK(q.depth() == 0);  // held back while in flight
    q.done(*first);
    CHECK(q.depth() == 1);
    CHECK(*q.get() == "ns/a");
}

TEST_CASE("rate-limited re-adds back off per key and forget resets") {
    WorkQueue q(Backoff{5ms, 1000ms});
    CHECK(q.add_rate_limited("ns/a") == 5ms);
    CHECK(q.add_rate_limited("ns/a") == 10ms);
    CHECK(q.failures("ns/a") == 2);
    CHECK(q.add_rate_limited("ns/b") == 5ms);
    q.forget("ns/a");
    CHECK(q.failures("ns/a") == 0);
    // Delayed keys are delivered once due (de-duplicated).
    auto k1 = q.get();
    auto k2 = q.get();
    REQUIRE(k1);
    REQUIRE(k2);
    CHECK(*k1 != *k2);
}

TEST_CASE("delayed keys wait; shut_down wakes a blocked get") {
    WorkQueue q;
    const auto start = WorkQueue::Clock::now();
    q.add_after("ns/late", 30ms);
    q.add("ns/now");
    CHECK(*q.get() == "ns/now");
    CHECK(*q.get() == "ns/late");
    CHECK(WorkQueue::Clock::now() - start >= 30ms);

    std::optional<std::string> got = "unset";
    std::thread waiter([&] { got = q.get(); });
    std::this_thread::sleep_for(10ms);
    q.shut_down();
    waiter.join();
    CHECK_FALSE(got.has_value());
}
