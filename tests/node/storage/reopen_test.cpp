#include <doctest/doctest.h>

#include "store_fixture.hpp"

using namespace annal::storage;
using namespace annal::storage::test;

TEST_CASE("reopening restores head, versions, every index and idempotency") {
    TempDir dir;
    const StoreOptions options = test_options(dir.str());
    std::vector<AppendRequest> requests;
    std::vector<StoredEvent> before_all;
    std::vector<StoredEvent> before_time;
    {
        auto store = open_store(options);
        for (int i = 0; i < 12; ++i) {
            requests.push_back(make_request("r-" + std::to_string(i % 3), ExpectedVersion::any(),
                                            1 + i % 2, 1000 - 10 * i));
            REQUIRE(append_sync(*store, requests.back()).status == AppendStatus::Ok);
        }
        before_all = store->read_all(1, Direction::Forwards, 1000).events;
        before_time = store->read_time_range(0, 100000, 1000).events;
        CHECK(before_all.size() == 18);
    }
    auto store = open_store(options);
    CHECK(store->head_position() == 18);
    CHECK(store->stream_version("r-0") == 5);
    CHECK(store->stream_version("r-1") == 5);
    CHECK(store->stream_version("r-2") == 5);

    const auto after_all = store->read_all(1, Direction::Forwards, 1000).events;
    const auto after_time = store->read_time_range(0, 100000, 1000).events;
    REQUIRE(after_all.size() == before_all.size());
    REQUIRE(after_time.size() == before_time.size());
    for (std::size_t i = 0; i < after_all.size(); ++i) {
        CHECK(after_all[i].id == before_all[i].id);
        CHECK(after_all[i].position == before_all[i].position);
        CHECK(after_time[i].position == before_time[i].position);
    }
    CHECK(store->read_stream("r-1", 5, Direction::Backwards, 100).events.size() == 6);

    // The idempotency index survived: a retry of an early request is deduplicated.
    const AppendResult retry = append_sync(*store, requests[1]);
    CHECK(retry.deduplicated);
    CHECK(retry.first_position == 2);
    // New appends continue the log, the stream versions and the time index.
    const AppendResult next =
        append_sync(*store, make_request("r-1", ExpectedVersion::exact(5), 1, 2000));
    REQUIRE(next.status == AppendStatus::Ok);
    CHECK(next.first_position == 19);
    CHECK(next.current_version == 6);
    const auto newest = store->read_time_range(1500, 2500, 10).events;
    REQUIRE(newest.size() == 1);
    CHECK(newest[0].position == 19);
}
