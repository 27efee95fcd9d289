#include <doctest/doctest.h>

#include "store_fixture.hpp"

using namespace annal::storage;
using namespace annal::storage::test;

TEST_CASE("positions are global and gapless, versions are per stream and gapless") {
    TempDir dir;
    auto store = open_store(test_options(dir.str()));
    CHECK(store->head_position() == 0);

    const AppendResult first =
        append_sync(*store, make_request("orders", ExpectedVersion::any(), 3));
    REQUIRE(first.status == AppendStatus::Ok);
    CHECK(first.first_position == 1);
    CHECK(first.last_position == 3);
    CHECK(first.current_version == 2);
    CHECK_FALSE(first.deduplicated);

    const AppendResult second =
        append_sync(*store, make_request("users", ExpectedVersion::any(), 2));
    REQUIRE(second.status == AppendStatus::Ok);
    CHECK(second.first_position == 4);
    CHECK(second.last_position == 5);
    CHECK(second.current_version == 1);

    const AppendResult third =
        append_sync(*store, make_request("orders", ExpectedVersion::any(), 1));
    REQUIRE(third.status == AppendStatus::Ok);
    CHECK(third.first_position == 6);
    CHECK(third.current_version == 3);

    CHECK(store->head_position() == 6);
    CHECK(store->stream_version("orders") == 3);
    CHECK(store->stream_version("users") == 1);
    CHECK_FALSE(store->stream_version("nobody").has_value());

    const ReadResult all = store->read_all(1, Direction::Forwards, 100);
    REQUIRE(all.status == ReadStatus::Ok);
    REQUIRE(all.events.size() == 6);
    const char* streams[] = {"orders", "orders", "orders", "users", "users", "orders"};
    const std::uint64_t versions[] = {0, 1, 2, 0, 1, 3};
    for (std::size_t i = 0; i < all.events.size(); ++i) {
        CHECK(all.events[i].position == i + 1);
        CHECK(all.events[i].stream == streams[i]);
        CHECK(all.events[i].version == versions[i]);
    }
    const StoreStats stats = store->stats();
    CHECK(stats.appends == 3);
    CHECK(stats.events == 6);
    CHECK(stats.head_position == 6);
}

TEST_CASE("every expected-version kind") {
    TempDir dir;
    auto store = open_store(test_options(dir.str()));

    SUBCASE("no_stream") {
        CHECK(append_sync(*store, make_request("s", ExpectedVersion::no_stream(), 1)).status ==
              AppendStatus::Ok);
        const AppendResult conflict =
            append_sync(*store, make_request("s", ExpectedVersion::no_stream(), 1));
        CHECK(conflict.status == AppendStatus::WrongExpectedVersion);
        CHECK(conflict.current_version == 0);
        CHECK_FALSE(conflict.message.empty());
    }
    SUBCASE("exists") {
        const AppendResult conflict =
            append_sync(*store, make_request("s", ExpectedVersion::exists(), 1));
        CHECK(conflict.status == AppendStatus::WrongExpectedVersion);
        CHECK_FALSE(conflict.current_version.has_value());
        CHECK(append_sync(*store, make_request("s", ExpectedVersion::any(), 2)).status ==
              AppendStatus::Ok);
        const AppendResult ok =
            append_sync(*store, make_request("s", ExpectedVersion::exists(), 1));
        CHECK(ok.status == AppendStatus::Ok);
        CHECK(ok.current_version == 2);
    }
    SUBCASE("exact") {
        // Exact(0) on a missing stream is a conflict: version 0 means "one event".
        AppendResult conflict =
            append_sync(*store, make_request("s", ExpectedVersion::exact(0), 1));
        CHECK(conflict.status == AppendStatus::WrongExpectedVersion);
        CHECK_FALSE(conflict.current_version.has_value());
        CHECK(append_sync(*store, make_request("s", ExpectedVersion::no_stream(), 2)).status ==
              AppendStatus::Ok);
        conflict = append_sync(*store, make_request("s", ExpectedVersion::exact(0), 1));
        CHECK(conflict.status == AppendStatus::WrongExpectedVersion);
        CHECK(conflict.current_version == 1);
        conflict = append_sync(*store, make_request("s", ExpectedVersion::exact(2), 1));
        CHECK(conflict.status == AppendStatus::WrongExpectedVersion);
        const AppendResult ok =
            append_sync(*store, make_request("s", ExpectedVersion::exact(1), 3));
        CHECK(ok.status == AppendStatus::Ok);
        CHECK(ok.current_version == 4);
    }
    SUBCASE("any") {
        CHECK(append_sync(*store, make_request("s", ExpectedVersion::any(), 1)).status ==
              AppendStatus::Ok);
        CHECK(append_sync(*store, make_request("s", ExpectedVersion::any(), 1)).status ==
              AppendStatus::Ok);
        CHECK(store->stream_version("s") == 1);
    }
    // Whatever the conflicts, the log holds exactly what was acknowledged.
    const ReadResult all = store->read_all(1, Direction::Forwards, 100);
    REQUIRE(all.status == ReadStatus::Ok);
    CHECK(all.events.size() == store->head_position());
}

TEST_CASE("a conflicting request writes nothing and is counted") {
    TempDir dir;
    auto store = open_store(test_options(dir.str()));
    REQUIRE(append_sync(*store, make_request("s", ExpectedVersion::any(), 2)).status ==
            AppendStatus::Ok);
    const AppendResult conflict =
        append_sync(*store, make_request("s", ExpectedVersion::exact(7), 5));
    CHECK(conflict.status == AppendStatus::WrongExpectedVersion);
    CHECK(store->head_position() == 2);
    CHECK(store->stream_version("s") == 1);
    CHECK(store->stats().wrong_expected_version == 1);
    CHECK(store->stats().commits == 1);
}

TEST_CASE("invalid requests are rejected with a reason and write nothing") {
    TempDir dir;
    auto store = open_store(test_options(dir.str()));

    AppendRequest no_stream_name = make_request("", ExpectedVersion::any(), 1);
    AppendResult result = append_sync(*store, no_stream_name);
    CHECK(result.status == AppendStatus::InvalidRequest);
    CHECK(result.invalid_reason == InvalidReason::InvalidStream);

    result = append_sync(*store, make_request(std::string(256, 's'), ExpectedVersion::any(), 1));
    CHECK(result.invalid_reason == InvalidReason::InvalidStream);

    result = append_sync(*store, make_request("s", ExpectedVersion::any(), 0));
    CHECK(result.status == AppendStatus::InvalidRequest);
    CHECK(result.invalid_reason == InvalidReason::InvalidEvent);

    AppendRequest bad_id = make_request("s", ExpectedVersion::any(), 2);
    bad_id.events[1].id = "not-a-uuid";
    result = append_sync(*store, bad_id);
    CHECK(result.invalid_reason == InvalidReason::InvalidEvent);
    CHECK(result.message.find("event 1") != std::string::npos);

    AppendRequest empty_type = make_request("s", ExpectedVersion::any(), 1);
    empty_type.events[0].type.clear();
    CHECK(append_sync(*store, empty_type).invalid_reason == InvalidReason::InvalidEvent);

    AppendRequest twice = make_request("s", ExpectedVersion::any(), 3);
    twice.events[2].id = twice.events[0].id;
    result = append_sync(*store, twice);
    CHECK(result.status == AppendStatus::InvalidRequest);
    CHECK(result.invalid_reason == InvalidReason::DuplicateEventId);

    CHECK(store->head_position() == 0);
    CHECK(store->stats().invalid_requests == 6);
    CHECK(store->stats().commits == 0);
}

TEST_CASE("event fields round-trip byte for byte") {
    TempDir dir;
    auto store = open_store(test_options(dir.str()));
    AppendRequest request;
    request.stream = "round-trip";
    ProposedEvent binary;
    binary.id = "A0B1C2D3-E4F5-4a6b-8c7d-9E8F00112233";  // upper case accepted
    binary.type = "Binary";
    binary.timestamp_us = -123456789;
    binary.data = std::string("\0\xff\x01zero", 7);
    binary.metadata = R"({"trace":"x"})";
    binary.data_is_json = false;
    request.events.push_back(binary);
    ProposedEvent json = make_event("Json", 0, R"({"a":[1,2,3]})");
    request.events.push_back(json);
    REQUIRE(append_sync(*store, request).status == AppendStatus::Ok);

    const ReadResult read = store->read_stream("round-trip", 0, Direction::Forwards, 10);
    REQUIRE(read.status == ReadStatus::Ok);
    REQUIRE(read.events.size() == 2);
    const StoredEvent& first = read.events[0];
    CHECK(first.id == "a0b1c2d3-e4f5-4a6b-8c7d-9e8f00112233");
    CHECK(first.stream == "round-trip");
    CHECK(first.type == "Binary");
    CHECK(first.timestamp_us == -123456789);
    CHECK(first.data == binary.data);
    CHECK(first.metadata == binary.metadata);
    CHECK_FALSE(first.data_is_json);
    CHECK(read.events[1].id == json.id);
    CHECK(read.events[1].data == json.data);
    CHECK(read.events[1].metadata.empty());
    CHECK(read.events[1].data_is_json);
    CHECK(store->stats().bytes == binary.data.size() + binary.metadata.size() + json.data.size());
}
