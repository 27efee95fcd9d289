#include <doctest/doctest.h>

#include <cstdint>
#include <limits>
#include <map>
#include <string>
#include <utility>

#include "storage/index_keys.hpp"
#include "store_fixture.hpp"

using namespace annal::storage;
using namespace annal::storage::test;

namespace {

std::vector<std::uint64_t> versions_of(const ReadResult& result) {
    std::vector<std::uint64_t> versions;
    for (const StoredEvent& event : result.events) {
        versions.push_back(event.version);
    }
    return versions;
}

std::vector<std::uint64_t> positions_of(const ReadResult& result) {
    std::vector<std::uint64_t> positions;
    for (const StoredEvent& event : result.events) {
        positions.push_back(event.position);
    }
    return positions;
}

using V = std::vector<std::uint64_t>;

}  // namespace

TEST_CASE("stream reads forwards and backwards with limits") {
    TempDir dir;
    auto store = open_store(test_options(dir.str()));
    // Interleave streams whose names extend each other to prove index walks stay inside
    // one stream.
    for (int round = 0; round < 5; ++round) {
        for (const char* stream : {"a", "ab", "a~", "b"}) {
            REQUIRE(append_sync(*store, make_request(stream, ExpectedVersion::any(), 1)).status ==
                    AppendStatus::Ok);
        }
    }
    const auto forwards = store->read_stream("a", 0, Direction::Forwards, 100);
    REQUIRE(forwards.status == ReadStatus::Ok);
    CHECK(versions_of(forwards) == V{0, 1, 2, 3, 4});
    CHECK(positions_of(forwards) == V{1, 5, 9, 13, 17});
    for (const StoredEvent& event : forwards.events) {
        CHECK(event.stream == "a");
    }
    CHECK(versions_of(store->read_stream("a", 2, Direction::Forwards, 2)) == V{2, 3});
    CHECK(versions_of(store->read_stream("a", 4, Direction::Forwards, 10)) == V{4});
    CHECK(store->read_stream("a", 5, Direction::Forwards, 10).events.empty());
    CHECK(versions_of(store->read_stream("ab", 3, Direction::Backwards, 10)) == V{3, 2, 1, 0});
    CHECK(versions_of(store->read_stream("ab", 3, Direction::Backwards, 2)) == V{3, 2});
    CHECK(versions_of(store->read_stream("a~", std::numeric_limits<std::uint64_t>::max(),
                                         Direction::Backwards, 3)) == V{4, 3, 2});
    CHECK(versions_of(store->read_stream("b", 99, Direction::Backwards, 1)) == V{4});
    CHECK(versions_of(store->read_stream("b", 0, Direction::Backwards, 5)) == V{0});
    CHECK(store->read_stream("a", 0, Direction::Forwards, 0).events.empty());

    const auto unknown = store->read_stream("zzz", 0, Direction::Forwards, 10);
    CHECK(unknown.status == ReadStatus::Ok);
    CHECK(unknown.events.empty());
    CHECK(store->read_stream("0", 0, Direction::Backwards, 10).events.empty());
}

TEST_CASE("read_all walks the global log both ways") {
    TempDir dir;
    auto store = open_store(test_options(dir.str()));
    REQUIRE(append_sync(*store, make_request("x", ExpectedVersion::any(), 4)).status ==
            AppendStatus::Ok);
    REQUIRE(append_sync(*store, make_request("y", ExpectedVersion::any(), 3)).status ==
            AppendStatus::Ok);

    CHECK(positions_of(store->read_all(0, Direction::Forwards, 100)) == V{1, 2, 3, 4, 5, 6, 7});
    CHECK(positions_of(store->read_all(3, Direction::Forwards, 2)) == V{3, 4});
    CHECK(store->read_all(8, Direction::Forwards, 10).events.empty());
    CHECK(positions_of(store->read_all(5, Direction::Backwards, 3)) == V{5, 4, 3});
    CHECK(positions_of(store->read_all(std::numeric_limits<std::uint64_t>::max(),
                                       Direction::Backwards, 2)) == V{7, 6});
    CHECK(store->read_all(0, Direction::Backwards, 10).events.empty());
}

TEST_CASE("time ranges are half-open and ordered by (timestamp, position)") {
    TempDir dir;
    auto store = open_store(test_options(dir.str()));
    constexpr std::int64_t kMin = std::numeric_limits<std::int64_t>::min();
    constexpr std::int64_t kMax = std::numeric_limits<std::int64_t>::max();
    // Timestamps out of order, equal, negative, zero and at the extremes.
    const std::int64_t timestamps[] = {50, -10, 0, 50, kMin, 7, 50, -1, kMax - 1, 0};
    for (std::int64_t timestamp : timestamps) {
        REQUIRE(
            append_sync(*store, make_request("t", ExpectedVersion::any(), 1, timestamp)).status ==
            AppendStatus::Ok);
    }
    // Positions are 1..10 in the order above.
    const auto everything = store->read_time_range(kMin, kMax, 100);
    REQUIRE(everything.status == ReadStatus::Ok);
    CHECK(positions_of(everything) == V{5, 2, 8, 3, 10, 6, 1, 4, 7, 9});
    for (std::size_t i = 1; i < everything.events.size(); ++i) {
        const auto& previous = everything.events[i - 1];
        const auto& current = everything.events[i];
        CHECK(std::make_pair(previous.timestamp_us, previous.position) <
              std::make_pair(current.timestamp_us, current.position));
    }

    CHECK(positions_of(store->read_time_range(0, 50, 100)) == V{3, 10, 6});   // to excluded
    CHECK(positions_of(store->read_time_range(50, 51, 100)) == V{1, 4, 7});   // equal stamps
    CHECK(positions_of(store->read_time_range(-10, 0, 100)) == V{2, 8});      // negatives
    CHECK(positions_of(store->read_time_range(-1, 1, 100)) == V{8, 3, 10});   // around zero
    CHECK(positions_of(store->read_time_range(kMin, kMin + 1, 10)) == V{5});  // extreme low
    CHECK(positions_of(store->read_time_range(kMax - 1, kMax, 10)) == V{9});  // extreme high
    CHECK(store->read_time_range(51, 51, 10).events.empty());
    CHECK(store->read_time_range(60, 0, 10).events.empty());
    CHECK(positions_of(store->read_time_range(kMin, kMax, 3)) == V{5, 2, 8});

    // Paging with the (timestamp, position) cursor visits every event exactly once, also
    // when a page boundary falls between equal timestamps.
    for (std::size_t page = 1; page <= 4; ++page) {
        CAPTURE(page);
        ReadResult chunk = store->read_time_range(kMin, kMax, page);
        V seen = positions_of(chunk);
        while (!chunk.events.empty()) {
            const StoredEvent& last = chunk.events.back();
            chunk = store->read_time_range_after(last.timestamp_us, last.position, kMax, page);
            REQUIRE(chunk.status == ReadStatus::Ok);
            for (std::uint64_t position : positions_of(chunk)) {
                seen.push_back(position);
            }
        }
        CHECK(seen == positions_of(everything));
    }
    CHECK(positions_of(store->read_time_range_after(50, 1, kMax, 10)) == V{4, 7, 9});
    CHECK(positions_of(store->read_time_range_after(50, 4, 51, 10)) == V{7});
}

TEST_CASE("the sparse stream index answers every read like a full index would") {
    // Streams of lengths around multiples of the index stride, appended interleaved in
    // batches of varying size; every (from, direction, limit) is checked against a model.
    TempDir dir;
    auto store = open_store(test_options(dir.str()));
    const std::uint64_t stride = kStreamIndexStride;
    const std::vector<std::pair<std::string, std::uint64_t>> lengths = {{"s-short", 3},
                                                                        {"s-stride", stride},
                                                                        {"s-stride+1", stride + 1},
                                                                        {"s-long", 3 * stride + 5},
                                                                        {"s-two", 2 * stride - 1}};
    std::map<std::string, std::vector<std::uint64_t>> model;  // stream -> positions by version
    std::uint64_t position = 0;
    bool progress = true;
    for (std::size_t round = 0; progress; ++round) {
        progress = false;
        for (const auto& [stream, length] : lengths) {
            auto& positions = model[stream];
            if (positions.size() >= length) {
                continue;
            }
            const std::size_t batch =
                std::min<std::size_t>(1 + round % 4, length - positions.size());
            REQUIRE(
                append_sync(*store, make_request(stream, ExpectedVersion::any(), batch)).status ==
                AppendStatus::Ok);
            for (std::size_t i = 0; i < batch; ++i) {
                positions.push_back(++position);
            }
            progress = true;
        }
    }
    auto check_all = [&](const EventStore& reader) {
        for (const auto& [stream, positions] : model) {
            const std::uint64_t head = positions.size() - 1;
            CHECK(reader.stream_version(stream) == head);
            for (std::uint64_t from = 0; from <= head + 2; ++from) {
                for (const std::size_t limit : {std::size_t{1}, std::size_t{2}, std::size_t{7},
                                                std::size_t{stride}, std::size_t{1000}}) {
                    V expected_forwards;
                    for (std::uint64_t v = from; v <= head && expected_forwards.size() < limit;
                         ++v) {
                        expected_forwards.push_back(positions[v]);
                    }
                    V expected_backwards;
                    for (std::uint64_t v = std::min(from, head) + 1;
                         v-- > 0 && expected_backwards.size() < limit;) {
                        expected_backwards.push_back(positions[v]);
                    }
                    CAPTURE(stream);
                    CAPTURE(from);
                    CAPTURE(limit);
                    const auto forwards =
                        reader.read_stream(stream, from, Direction::Forwards, limit);
                    REQUIRE(forwards.status == ReadStatus::Ok);
                    CHECK(positions_of(forwards) == expected_forwards);
                    const auto backwards =
                        reader.read_stream(stream, from, Direction::Backwards, limit);
                    REQUIRE(backwards.status == ReadStatus::Ok);
                    CHECK(positions_of(backwards) == expected_backwards);
                }
            }
        }
    };
    check_all(*store);
    // The chain and the sparse index are on disk, not in memory.
    store->close();
    store.reset();
    auto reopened = open_store(test_options(dir.str()));
    check_all(*reopened);
    // Appends after reopen continue each stream's chain.
    REQUIRE(append_sync(*reopened, make_request("s-long", ExpectedVersion::any(), 2)).status ==
            AppendStatus::Ok);
    model["s-long"].push_back(++position);
    model["s-long"].push_back(++position);
    check_all(*reopened);
}
