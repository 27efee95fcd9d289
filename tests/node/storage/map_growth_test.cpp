#include <doctest/doctest.h>
#include <sys/mount.h>

#include <cerrno>
#include <cstring>

#include "store_fixture.hpp"

using namespace annal::storage;
using namespace annal::storage::test;

namespace {

AppendRequest big_request(const std::string& stream, std::size_t events, std::size_t bytes) {
    AppendRequest request;
    request.stream = stream;
    for (std::size_t i = 0; i < events; ++i) {
        request.events.push_back(make_event("Big", 1, std::string(bytes, 'b')));
        request.events.back().data_is_json = false;
    }
    return request;
}

// Appends until the store refuses; returns the refusal. Checks every Ok result extends
// the log without gaps.
AppendResult fill_until_refused(EventStore& store, std::size_t event_bytes,
                                std::size_t max_attempts, std::uint64_t& acknowledged) {
    for (std::size_t attempt = 0; attempt < max_attempts; ++attempt) {
        AppendResult result = append_sync(store, big_request("fill", 4, event_bytes));
        if (result.status != AppendStatus::Ok) {
            return result;
        }
        REQUIRE(result.first_position == acknowledged + 1);
        acknowledged = result.last_position;
    }
    FAIL("the store never refused an append");
    return {};
}

void check_all_readable(EventStore& store, std::uint64_t expected_events) {
    std::uint64_t next = 1;
    for (;;) {
        const ReadResult chunk = store.read_all(next, Direction::Forwards, 64);
        REQUIRE(chunk.status == ReadStatus::Ok);
        if (chunk.events.empty()) {
            break;
        }
        for (const StoredEvent& event : chunk.events) {
            REQUIRE(event.position == next);
            ++next;
        }
    }
    CHECK(next - 1 == expected_events);
}

}  // namespace

TEST_CASE("the map grows before it is full") {
    TempDir dir;
    StoreOptions options = test_options(dir.str());
    options.initial_map_bytes = 1ull << 20;
    auto store = open_store(options);
    const std::uint64_t initial_map = store->stats().map_bytes;
    CHECK(initial_map == options.initial_map_bytes);

    for (int i = 0; i < 150; ++i) {
        const AppendResult result = append_sync(*store, big_request("grow", 8, 4000));
        REQUIRE(result.status == AppendStatus::Ok);
    }
    const StoreStats stats = store->stats();
    CHECK(stats.map_grows >= 3);
    CHECK(stats.map_bytes >= 8 * initial_map);
    CHECK(stats.map_bytes > stats.map_used_bytes);
    CHECK(stats.map_full_retries == 0);  // growth happened ahead of time
    CHECK(stats.head_position == 1200);
    check_all_readable(*store, 1200);

    store.reset();
    auto reopened = open_store(options);
    CHECK(reopened->stats().map_bytes >= stats.map_used_bytes);
    check_all_readable(*reopened, 1200);
}

TEST_CASE("a map at its maximum refuses appends cleanly and stays usable") {
    TempDir dir;
    StoreOptions options = test_options(dir.str());
    options.initial_map_bytes = 1ull << 20;
    options.max_map_bytes = 4ull << 20;
    std::uint64_t acknowledged = 0;
    {
        auto store = open_store(options);
        const AppendResult refused = fill_until_refused(*store, 16 << 10, 1000, acknowledged);
        CHECK(refused.status == AppendStatus::StorageFull);
        CHECK_FALSE(refused.message.empty());
        CHECK(acknowledged > 0);
        CHECK(store->head_position() == acknowledged);
        CHECK(store->stream_version("fill") == acknowledged - 1);
        CHECK(store->stats().storage_full >= 1);
        CHECK(store->stats().map_bytes <= options.max_map_bytes);
        check_all_readable(*store, acknowledged);

        // A request far larger than the whole map fails alone; small ones still fit or
        // fail cleanly, never half-written.
        const AppendResult huge = append_sync(*store, big_request("huge", 1, 8 << 20));
        CHECK(huge.status == AppendStatus::StorageFull);
        CHECK_FALSE(store->stream_version("huge").has_value());
        CHECK(store->head_position() == acknowledged);
    }
    // Raising the limit makes the same store writable again, continuing the log.
    options.max_map_bytes = 64ull << 20;
    auto store = open_store(options);
    CHECK(store->head_position() == acknowledged);
    const AppendResult after = append_sync(*store, big_request("fill", 4, 16 << 10));
    REQUIRE(after.status == AppendStatus::Ok);
    CHECK(after.first_position == acknowledged + 1);
    CHECK(after.current_version == acknowledged + 3);
    check_all_readable(*store, acknowledged + 4);
}

TEST_CASE("a request larger than the maximum map alone fails and nothing is written") {
    TempDir dir;
    StoreOptions options = test_options(dir.str());
    options.initial_map_bytes = 1ull << 20;
    options.max_map_bytes = 2ull << 20;
    auto store = open_store(options);
    REQUIRE(append_sync(*store, make_request("s", ExpectedVersion::any(), 1)).status ==
            AppendStatus::Ok);
    const AppendResult huge = append_sync(*store, big_request("s", 3, 1 << 20));
    CHECK(huge.status == AppendStatus::StorageFull);
    CHECK(store->stats().map_full_retries >= 1);
    CHECK(store->head_position() == 1);
    const AppendResult small = append_sync(*store, make_request("s", ExpectedVersion::exact(0), 1));
    CHECK(small.status == AppendStatus::Ok);
    CHECK(small.first_position == 2);
}

TEST_CASE("a full disk is StorageFull, not a crash or a torn write") {
    TempDir dir;
    const auto mount_point = dir.path() / "tiny";
    std::filesystem::create_directories(mount_point);
    if (::mount("tmpfs", mount_point.c_str(), "tmpfs", 0, "size=2m") != 0) {
        MESSAGE("skipped: cannot mount a tmpfs here (" << std::strerror(errno) << ")");
        return;
    }
    struct Unmount {
        std::filesystem::path path;
        ~Unmount() { ::umount2(path.c_str(), MNT_DETACH); }
    } unmount{mount_point};

    StoreOptions options = test_options((mount_point / "store").string());
    options.durable = true;
    options.initial_map_bytes = 1ull << 20;
    options.max_map_bytes = 64ull << 20;  // the disk, not the map, is the limit here
    std::uint64_t acknowledged = 0;
    {
        auto store = open_store(options);
        const AppendResult refused = fill_until_refused(*store, 16 << 10, 1000, acknowledged);
        CHECK(refused.status == AppendStatus::StorageFull);
        INFO(refused.message);
        CHECK(acknowledged > 0);
        CHECK(store->head_position() == acknowledged);
        check_all_readable(*store, acknowledged);
        // Still refusing cleanly, not crashing.
        CHECK(append_sync(*store, big_request("fill", 4, 16 << 10)).status ==
              AppendStatus::StorageFull);
    }
    auto reopened = open_store(options);
    CHECK(reopened->head_position() == acknowledged);
    check_all_readable(*reopened, acknowledged);
}
