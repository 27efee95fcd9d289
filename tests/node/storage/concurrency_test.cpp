#include <doctest/doctest.h>

#include <algorithm>
#include <atomic>
#include <map>
#include <thread>

#include "store_fixture.hpp"

using namespace annal::storage;
using namespace annal::storage::test;

TEST_CASE("concurrent appenders share commits and get gapless positions") {
    TempDir dir;
    StoreOptions options = test_options(dir.str());
    options.durable = true;  // real fsyncs: the reason appends group up
    auto store = open_store(options);

    constexpr std::size_t kThreads = 16;
    constexpr std::size_t kAppendsPerThread = 40;
    std::vector<std::vector<AppendResult>> results(kThreads);
    std::vector<std::thread> threads;
    for (std::size_t t = 0; t < kThreads; ++t) {
        threads.emplace_back([&store, &results, t] {
            for (std::size_t i = 0; i < kAppendsPerThread; ++i) {
                // Streams are shared between threads; sizes vary 1..3 events.
                results[t].push_back(
                    append_sync(*store, make_request("stream-" + std::to_string(t % 4),
                                                     ExpectedVersion::any(), 1 + (i + t) % 3)));
            }
        });
    }
    for (auto& thread : threads) {
        thread.join();
    }

    std::vector<std::pair<std::uint64_t, std::uint64_t>> ranges;
    std::uint64_t events = 0;
    for (const auto& mine : results) {
        for (const AppendResult& result : mine) {
            REQUIRE(result.status == AppendStatus::Ok);
            ranges.emplace_back(result.first_position, result.last_position);
            events += result.last_position - result.first_position + 1;
        }
    }
    std::sort(ranges.begin(), ranges.end());
    std::uint64_t expected_next = 1;
    for (const auto& [first, last] : ranges) {
        REQUIRE(first == expected_next);  // no gap, no overlap
        expected_next = last + 1;
    }
    CHECK(expected_next - 1 == events);
    CHECK(store->head_position() == events);

    // Per stream: versions gapless and in position order.
    std::map<std::string, std::uint64_t> next_version;
    const ReadResult all = store->read_all(1, Direction::Forwards, events + 1);
    REQUIRE(all.status == ReadStatus::Ok);
    REQUIRE(all.events.size() == events);
    for (const StoredEvent& event : all.events) {
        CHECK(event.version == next_version[event.stream]++);
    }

    const StoreStats stats = store->stats();
    CHECK(stats.appends == kThreads * kAppendsPerThread);
    CHECK(stats.events == events);
    CHECK(stats.commits < stats.appends);  // group commit happened
    CHECK(stats.batch_events.count == stats.commits);
    CHECK(stats.batch_events.sum == events);
    CHECK(stats.commit_latency_us.count == stats.commits);
    CHECK(stats.append_latency_us.count == stats.appends);
    MESSAGE("commits: " << stats.commits << " for " << stats.appends << " appends");
}

TEST_CASE("queued appends are committed together, bounded by max_batch_events") {
    TempDir dir;
    StoreOptions options = test_options(dir.str());
    options.max_batch_events = 4;
    auto store = open_store(options);
    CommitterHold hold(*store);
    hold.engage();
    CHECK(store->stats().commits == 1);

    constexpr std::size_t kQueued = 10;
    AsyncAppends appends(kQueued);
    for (std::size_t i = 0; i < kQueued; ++i) {
        appends.append(*store, i, make_request("q", ExpectedVersion::any(), 1));
    }
    CHECK(store->stats().queued_requests == kQueued);
    hold.release();
    appends.wait_all();
    for (std::size_t i = 0; i < kQueued; ++i) {
        CHECK(appends.results()[i].status == AppendStatus::Ok);
        CHECK(appends.results()[i].first_position == i + 2);  // queue order is commit order
    }
    const StoreStats stats = store->stats();
    CHECK(stats.commits == 1 + 3);              // 4 + 4 + 2
    CHECK(stats.batch_events.buckets[0] == 1);  // the hold's single event
    CHECK(stats.batch_events.buckets[1] == 1);  // 2 events
    CHECK(stats.batch_events.buckets[2] == 2);  // 4 events, twice
    CHECK(stats.queued_requests == 0);
}

TEST_CASE("close commits queued work, then refuses appends") {
    TempDir dir;
    StoreOptions options = test_options(dir.str());
    options.durable = true;
    std::uint64_t acknowledged = 0;
    {
        auto store = open_store(options);
        auto hold = std::make_unique<CommitterHold>(*store);
        hold->engage();

        constexpr std::size_t kQueued = 25;
        AsyncAppends appends(kQueued);
        for (std::size_t i = 0; i < kQueued; ++i) {
            appends.append(*store, i, make_request("c", ExpectedVersion::any(), 2));
        }
        std::thread closer([&store] { store->close(); });
        // Once close() has begun, appends are refused at once, on the caller's thread.
        // Appends that slipped in before are queued and committed like the others.
        std::atomic<std::size_t> late_ok{0};
        std::atomic<std::size_t> late_completed{0};
        std::size_t late_sent = 0;
        bool refused_inline = false;
        while (!refused_inline) {
            std::this_thread::yield();
            std::atomic<bool> refused{false};
            ++late_sent;
            store->append(make_request("late", ExpectedVersion::any(), 1),
                          [&](AppendResult result) {
                              if (result.status == AppendStatus::ShuttingDown) {
                                  refused = true;
                              } else if (result.status == AppendStatus::Ok) {
                                  ++late_ok;
                              }
                              ++late_completed;
                          });
            refused_inline = refused.load();
        }
        CHECK(refused_inline);
        hold->release();
        closer.join();
        appends.wait_all();                         // every queued append was completed by close()
        CHECK(late_completed.load() == late_sent);  // close() completed everything queued
        CHECK(late_ok.load() == late_sent - 1);
        for (const AppendResult& result : appends.results()) {
            CHECK(result.status == AppendStatus::Ok);
        }
        acknowledged = store->head_position();
        CHECK(append_sync(*store, make_request("after", ExpectedVersion::any(), 1)).status ==
              AppendStatus::ShuttingDown);
        store->close();  // idempotent
        hold.reset();
    }
    auto reopened = open_store(options);
    CHECK(reopened->head_position() == acknowledged);
    CHECK(reopened->stream_version("c") == 49);
}

TEST_CASE("commit listeners see every new head until removed") {
    TempDir dir;
    auto store = open_store(test_options(dir.str()));
    std::mutex mutex;
    std::vector<std::uint64_t> heads;
    const std::uint64_t token = store->add_commit_listener([&](std::uint64_t head) {
        std::lock_guard lock(mutex);
        heads.push_back(head);
    });
    REQUIRE(append_sync(*store, make_request("l", ExpectedVersion::any(), 2)).status ==
            AppendStatus::Ok);
    REQUIRE(append_sync(*store, make_request("l", ExpectedVersion::any(), 3)).status ==
            AppendStatus::Ok);
    // A rejected append commits nothing and notifies nobody.
    REQUIRE(append_sync(*store, make_request("l", ExpectedVersion::no_stream(), 1)).status ==
            AppendStatus::WrongExpectedVersion);
    store->remove_commit_listener(token);
    REQUIRE(append_sync(*store, make_request("l", ExpectedVersion::any(), 1)).status ==
            AppendStatus::Ok);
    std::lock_guard lock(mutex);
    CHECK(heads == std::vector<std::uint64_t>{2, 5});
}

TEST_CASE("reads run safely while the committer grows the map") {
    TempDir dir;
    StoreOptions options = test_options(dir.str());
    options.initial_map_bytes = 1ull << 20;
    auto store = open_store(options);
    std::atomic<bool> stop{false};
    std::atomic<std::uint64_t> reads{0};
    std::atomic<std::uint64_t> bad_reads{0};
    std::vector<std::thread> readers;
    for (int r = 0; r < 4; ++r) {
        readers.emplace_back([&, r] {
            while (!stop.load()) {
                const ReadResult result =
                    r % 2 == 0 ? store->read_all(1, Direction::Forwards, 32)
                               : store->read_stream("grow", ~0ull, Direction::Backwards, 32);
                bool ok = result.status == ReadStatus::Ok;
                for (std::size_t i = 1; ok && i < result.events.size(); ++i) {
                    const auto step = r % 2 == 0 ? 1 : -1;
                    ok = result.events[i].position ==
                         result.events[i - 1].position + static_cast<std::uint64_t>(step);
                }
                if (!ok) {
                    bad_reads.fetch_add(1);
                }
                reads.fetch_add(1);
            }
        });
    }
    for (int i = 0; i < 60; ++i) {
        AppendRequest request;
        request.stream = "grow";
        for (int e = 0; e < 8; ++e) {
            request.events.push_back(make_event("Big", i, std::string(3000, 'g')));
        }
        REQUIRE(append_sync(*store, request).status == AppendStatus::Ok);
    }
    stop = true;
    for (auto& reader : readers) {
        reader.join();
    }
    CHECK(store->stats().map_grows >= 1);
    CHECK(reads.load() > 0);
    CHECK(bad_reads.load() == 0);
}
