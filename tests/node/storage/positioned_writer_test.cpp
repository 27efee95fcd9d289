// A replica that copies stored records byte for byte (snapshot install) must end up with
// exactly the tables it would have had by applying the commands itself.
#include <doctest/doctest.h>

#include <map>
#include <utility>
#include <vector>

#include "storage/batch_writer.hpp"
#include "storage/event_tables.hpp"
#include "storage/lmdb_environment.hpp"
#include "storage/positioned_writer.hpp"
#include "storage/raw_records.hpp"
#include "store_fixture.hpp"

using namespace annal::storage;
using namespace annal::storage::test;

namespace {

using Dump = std::vector<std::pair<std::string, std::string>>;

Dump dump(MDB_txn* txn, MDB_dbi dbi) {
    Dump out;
    Cursor cursor(txn, dbi);
    REQUIRE(cursor.open_status() == 0);
    MDB_val key{};
    MDB_val value{};
    for (int rc = cursor.get(key, value, MDB_FIRST); rc == 0;
         rc = cursor.get(key, value, MDB_NEXT)) {
        out.emplace_back(std::string(to_view(key)), std::string(to_view(value)));
    }
    return out;
}

// Every event table and index of the store in `directory`, in key order.
std::map<std::string, Dump> dump_tables(const std::string& directory) {
    std::string error;
    auto environment = LmdbEnvironment::open(test_options(directory), error);
    REQUIRE_MESSAGE(environment != nullptr, error);
    ReadTransaction txn(*environment);
    REQUIRE(txn.status() == 0);
    const Databases& dbs = environment->databases();
    return {{"events", dump(txn.get(), dbs.events)},
            {"stream_index", dump(txn.get(), dbs.stream_index)},
            {"stream_heads", dump(txn.get(), dbs.stream_heads)},
            {"time_index", dump(txn.get(), dbs.time_index)},
            {"event_ids", dump(txn.get(), dbs.event_ids)}};
}

// Requests over a few streams, long enough to cross the sparse stream index stride, with
// timestamps that sometimes go backwards (the time index is not append-only then).
std::vector<AppendRequest> workload() {
    std::vector<AppendRequest> requests;
    for (int i = 0; i < 60; ++i) {
        requests.push_back(make_request("s-" + std::to_string(i % 4), ExpectedVersion::any(),
                                        1 + static_cast<std::size_t>(i % 3),
                                        5000 + 10 * i - (i % 7 == 0 ? 400 : 0)));
    }
    return requests;
}

struct Copied {
    std::uint64_t events = 0;
    std::uint64_t payload_bytes = 0;
};

// Copies the source's records after the target's head into the target, in one transaction.
int copy_records(const std::string& source_dir, const std::string& target_dir,
                 std::size_t chunk_bytes, std::string& problem, Copied& copied) {
    std::string error;
    auto source = LmdbEnvironment::open(test_options(source_dir), error);
    REQUIRE_MESSAGE(source != nullptr, error);
    auto target = LmdbEnvironment::open(test_options(target_dir), error);
    REQUIRE_MESSAGE(target != nullptr, error);
    Transaction txn;
    REQUIRE(target->begin_write(txn) == 0);
    CommittedState committed;
    REQUIRE(load_committed_state(txn.get(), target->databases(), committed) == 0);
    PositionedWriter writer(txn.get(), target->databases(), committed);
    std::uint64_t after = committed.head_position;
    for (;;) {
        const RawRecords chunk = read_raw_records(*source, after, ~0ull, chunk_bytes);
        REQUIRE(chunk.status == ReadStatus::Ok);
        std::vector<RawRecordView> records;
        REQUIRE(decode_raw_records(chunk.body, records));
        REQUIRE(records.size() == chunk.records);
        if (records.empty()) {
            break;
        }
        for (const RawRecordView& record : records) {
            if (const int rc = writer.append(record.position, record.record); rc != 0) {
                problem = writer.problem();
                return rc;
            }
        }
        after = records.back().position;
    }
    copied = Copied{writer.events_written(), writer.payload_bytes_written()};
    return txn.commit();
}

}  // namespace

TEST_CASE("positioned records copied from a replica yield the same tables as applying") {
    TempDir source_dir;
    TempDir target_dir;
    const std::vector<AppendRequest> requests = workload();
    {
        auto source = open_store(test_options(source_dir.str()));
        auto target = open_store(test_options(target_dir.str()));
        for (std::size_t i = 0; i < requests.size(); ++i) {
            REQUIRE(append_sync(*source, requests[i]).status == AppendStatus::Ok);
            if (i < 10) {  // the target already holds a prefix, as a lagging replica does
                REQUIRE(append_sync(*target, requests[i]).status == AppendStatus::Ok);
            }
        }
    }
    std::string problem;
    Copied counts;
    REQUIRE_MESSAGE(copy_records(source_dir.str(), target_dir.str(), 700, problem, counts) == 0,
                    problem);
    // Counted as BatchWriter counts what it applies (the store's statistics add them up).
    Copied expected_counts;
    for (std::size_t i = 10; i < requests.size(); ++i) {
        for (const auto& event : requests[i].events) {
            ++expected_counts.events;
            expected_counts.payload_bytes += event.data.size() + event.metadata.size();
        }
    }
    CHECK(counts.events == expected_counts.events);
    CHECK(counts.payload_bytes == expected_counts.payload_bytes);
    CHECK(counts.payload_bytes > 0);

    const auto expected = dump_tables(source_dir.str());
    const auto copied = dump_tables(target_dir.str());
    for (const auto& [name, rows] : expected) {
        INFO("table " << name);
        CHECK(rows.size() > 0);
        CHECK(copied.at(name) == rows);
    }

    // The copy behaves like the original: reads, idempotent retries, appends that follow.
    auto source = open_store(test_options(source_dir.str()));
    auto target = open_store(test_options(target_dir.str()));
    CHECK(target->head_position() == source->head_position());
    const auto all_source = source->read_all(1, Direction::Forwards, 10000).events;
    const auto all_target = target->read_all(1, Direction::Forwards, 10000).events;
    REQUIRE(all_target.size() == all_source.size());
    for (std::size_t i = 0; i < all_source.size(); ++i) {
        CHECK(all_target[i].id == all_source[i].id);
        CHECK(all_target[i].data == all_source[i].data);
    }
    CHECK(target->read_stream("s-1", 40, Direction::Backwards, 100).events.size() ==
          source->read_stream("s-1", 40, Direction::Backwards, 100).events.size());
    CHECK(target->read_time_range(0, 100000, 10000).events.size() == all_source.size());
    const AppendResult retry = append_sync(*target, requests[42]);
    CHECK(retry.deduplicated);
    const AppendResult next = append_sync(*target, make_request("s-2", ExpectedVersion::any(), 1));
    REQUIRE(next.status == AppendStatus::Ok);
    CHECK(next.first_position == source->head_position() + 1);
}

TEST_CASE("positioned records that do not fit the replica's history are refused") {
    TempDir source_dir;
    {
        auto source = open_store(test_options(source_dir.str()));
        for (const AppendRequest& request : workload()) {
            REQUIRE(append_sync(*source, request).status == AppendStatus::Ok);
        }
    }
    std::string error;
    auto source = LmdbEnvironment::open(test_options(source_dir.str()), error);
    REQUIRE(source != nullptr);
    const RawRecords all = read_raw_records(*source, 0, ~0ull, 1 << 20);
    std::vector<RawRecordView> records;
    REQUIRE(decode_raw_records(all.body, records));
    REQUIRE(records.size() > 20);

    TempDir target_dir;
    auto target = LmdbEnvironment::open(test_options(target_dir.str()), error);
    REQUIRE(target != nullptr);
    auto refused = [&](auto&& feed) {
        Transaction txn;
        REQUIRE(target->begin_write(txn) == 0);
        PositionedWriter writer(txn.get(), target->databases(), CommittedState{});
        const int rc = feed(writer);
        INFO(writer.problem());
        return rc == MDB_CORRUPTED && !writer.problem().empty();
    };
    SUBCASE("a gap in positions") {
        CHECK(refused([&](PositionedWriter& w) { return w.append(2, records[1].record); }));
    }
    SUBCASE("a record under another position (its checksum covers the position)") {
        CHECK(refused([&](PositionedWriter& w) { return w.append(1, records[1].record); }));
    }
    SUBCASE("a flipped byte") {
        std::string damaged(records[0].record);
        damaged.back() = static_cast<char>(damaged.back() ^ 0x01);
        CHECK(refused([&](PositionedWriter& w) { return w.append(1, damaged); }));
    }
    SUBCASE("a stream that does not continue the stored one") {
        // A replica with another history: its position 1 is a different event of s-1, so
        // the source's s-1 version 0 at position 2 does not follow it.
        TempDir other_dir;
        {
            auto other = open_store(test_options(other_dir.str()));
            REQUIRE(append_sync(*other, make_request("s-1", ExpectedVersion::any(), 1)).status ==
                    AppendStatus::Ok);
        }
        auto other = LmdbEnvironment::open(test_options(other_dir.str()), error);
        REQUIRE(other != nullptr);
        Transaction txn;
        REQUIRE(other->begin_write(txn) == 0);
        CommittedState committed;
        REQUIRE(load_committed_state(txn.get(), other->databases(), committed) == 0);
        PositionedWriter writer(txn.get(), other->databases(), committed);
        REQUIRE(records[1].position == 2);
        CHECK(writer.append(2, records[1].record) == MDB_CORRUPTED);
        CHECK(writer.problem().find("does not continue the stored stream") != std::string::npos);
    }
    SUBCASE("truncated wire form") {
        std::vector<RawRecordView> parsed;
        CHECK_FALSE(decode_raw_records(std::string_view(all.body).substr(0, 30), parsed));
        CHECK(decode_raw_records(std::string_view(all.body).substr(0, 0), parsed));
        CHECK(parsed.empty());
    }
}
