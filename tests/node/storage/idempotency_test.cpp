#include <doctest/doctest.h>

#include "store_fixture.hpp"

using namespace annal::storage;
using namespace annal::storage::test;

TEST_CASE("a retried append is answered with the original positions and writes nothing") {
    TempDir dir;
    auto store = open_store(test_options(dir.str()));
    REQUIRE(append_sync(*store, make_request("other", ExpectedVersion::any(), 2)).status ==
            AppendStatus::Ok);
    const AppendRequest request = make_request("s", ExpectedVersion::no_stream(), 3);
    const AppendResult original = append_sync(*store, request);
    REQUIRE(original.status == AppendStatus::Ok);
    CHECK(original.first_position == 3);
    CHECK(original.last_position == 5);
    REQUIRE(append_sync(*store, make_request("s", ExpectedVersion::any(), 1)).status ==
            AppendStatus::Ok);

    // The retry carries an expected version that no longer holds: the ids decide first.
    const AppendResult retry = append_sync(*store, request);
    CHECK(retry.status == AppendStatus::Ok);
    CHECK(retry.deduplicated);
    CHECK(retry.first_position == 3);
    CHECK(retry.last_position == 5);
    CHECK(retry.current_version == 3);
    CHECK(store->head_position() == 6);
    CHECK(store->stream_version("s") == 3);
    CHECK(store->read_all(1, Direction::Forwards, 100).events.size() == 6);
    CHECK(store->stats().deduplicated == 1);

    // A retry of a suffix of the original request is a full duplicate too.
    AppendRequest suffix = request;
    suffix.events.erase(suffix.events.begin());
    const AppendResult suffix_retry = append_sync(*store, suffix);
    CHECK(suffix_retry.deduplicated);
    CHECK(suffix_retry.first_position == 4);
    CHECK(suffix_retry.last_position == 5);
}

TEST_CASE("a request mixing stored and new ids is a partial duplicate") {
    TempDir dir;
    auto store = open_store(test_options(dir.str()));
    const AppendRequest request = make_request("s", ExpectedVersion::any(), 2);
    REQUIRE(append_sync(*store, request).status == AppendStatus::Ok);
    AppendRequest mixed = request;
    mixed.events.push_back(make_event());
    const AppendResult result = append_sync(*store, mixed);
    CHECK(result.status == AppendStatus::InvalidRequest);
    CHECK(result.invalid_reason == InvalidReason::PartialDuplicate);
    CHECK(result.message.find("partial duplicate") != std::string::npos);
    CHECK(store->head_position() == 2);
    // The new id was not stored either: appending it alone works.
    AppendRequest only_new;
    only_new.stream = "s";
    only_new.events.push_back(mixed.events.back());
    const AppendResult fresh = append_sync(*store, only_new);
    CHECK(fresh.status == AppendStatus::Ok);
    CHECK_FALSE(fresh.deduplicated);
    CHECK(fresh.first_position == 3);
}

TEST_CASE("an id stored in another stream is rejected") {
    TempDir dir;
    auto store = open_store(test_options(dir.str()));
    const AppendRequest request = make_request("first", ExpectedVersion::any(), 1);
    REQUIRE(append_sync(*store, request).status == AppendStatus::Ok);
    AppendRequest elsewhere = request;
    elsewhere.stream = "second";
    const AppendResult result = append_sync(*store, elsewhere);
    CHECK(result.status == AppendStatus::InvalidRequest);
    CHECK(result.invalid_reason == InvalidReason::IdInOtherStream);
    CHECK(result.message.find("first") != std::string::npos);
    CHECK_FALSE(store->stream_version("second").has_value());
    CHECK(store->head_position() == 1);
}

TEST_CASE("duplicates within one group commit see the requests before them") {
    TempDir dir;
    auto store = open_store(test_options(dir.str()));
    CommitterHold hold(*store);
    hold.engage();  // position 1 is the hold's own event

    const AppendRequest original = make_request("s", ExpectedVersion::no_stream(), 2);
    AppendRequest same_stream_retry = original;
    AppendRequest other_stream = original;
    other_stream.stream = "t";
    AppendRequest partial = original;
    partial.events.push_back(make_event());
    AppendRequest conflicting = make_request("s", ExpectedVersion::no_stream(), 1);
    AppendRequest following = make_request("s", ExpectedVersion::exact(1), 1);

    AsyncAppends appends(6);
    appends.append(*store, 0, original);
    appends.append(*store, 1, same_stream_retry);
    appends.append(*store, 2, other_stream);
    appends.append(*store, 3, partial);
    appends.append(*store, 4, conflicting);
    appends.append(*store, 5, following);
    const std::uint64_t commits_before = store->stats().commits;
    hold.release();
    appends.wait_all();
    const auto& results = appends.results();

    CHECK(results[0].status == AppendStatus::Ok);
    CHECK(results[0].first_position == 2);
    CHECK(results[1].status == AppendStatus::Ok);
    CHECK(results[1].deduplicated);
    CHECK(results[1].first_position == 2);
    CHECK(results[1].last_position == 3);
    CHECK(results[2].invalid_reason == InvalidReason::IdInOtherStream);
    CHECK(results[3].invalid_reason == InvalidReason::PartialDuplicate);
    CHECK(results[4].status == AppendStatus::WrongExpectedVersion);
    CHECK(results[4].current_version == 1);
    CHECK(results[5].status == AppendStatus::Ok);
    CHECK(results[5].first_position == 4);
    CHECK(results[5].current_version == 2);
    // All six were decided in one group commit.
    CHECK(store->stats().commits == commits_before + 1);
    CHECK(store->head_position() == 4);
}
