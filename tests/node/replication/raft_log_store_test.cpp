#include <doctest/doctest.h>

#include <atomic>
#include <functional>
#include <random>
#include <thread>

#include "raft/codec.hpp"
#include "replication/log_records.hpp"
#include "replication/raft_log_store.hpp"
#include "storage/lmdb_environment.hpp"
#include "test_support.hpp"

namespace annal::replication {
namespace {

using test::entry;
using test::kThree;
using test::make_entries;
using test::open_log;
using test::ready_with;
using test::TempDir;

raft::Storage& create(RaftLogStore& store, raft::GroupId group,
                      const raft::Membership& membership = kThree) {
    std::string error;
    raft::Storage* storage = store.create_group(group, membership, error);
    REQUIRE_MESSAGE(storage != nullptr, error);
    return *storage;
}

// Entry keys of `group` physically present in LMDB (garbage included).
std::size_t stored_entry_count(const RaftLogStore& store, raft::GroupId group) {
    const storage::LmdbEnvironment& env = store.environment();
    storage::ReadTransaction reader(env);
    REQUIRE(reader.status() == 0);
    storage::Cursor cursor(reader.get(), env.databases().raft_entries);
    const std::string start = entry_key(group, 0);
    MDB_val k = storage::to_val(start);
    MDB_val v{};
    std::size_t count = 0;
    for (int rc = cursor.get(k, v, MDB_SET_RANGE); rc == 0; rc = cursor.get(k, v, MDB_NEXT)) {
        const auto key = parse_entry_key(storage::to_view(k));
        if (!key || key->group != group) {
            break;
        }
        ++count;
    }
    return count;
}

// Overwrites one raw value in a closed store's environment.
void overwrite_raw(const std::string& directory, bool entries_db, const std::string& key,
                   const std::function<void(std::string&)>& damage) {
    storage::StoreOptions options;
    options.directory = directory;
    std::string error;
    auto env = storage::LmdbEnvironment::open(options, error);
    REQUIRE_MESSAGE(env, error);
    storage::Transaction txn;
    REQUIRE(env->begin_write(txn) == 0);
    const MDB_dbi dbi = entries_db ? env->databases().raft_entries : env->databases().raft_state;
    MDB_val k = storage::to_val(key);
    MDB_val v{};
    REQUIRE(mdb_get(txn.get(), dbi, &k, &v) == 0);
    std::string value(storage::to_view(v));
    damage(value);
    v = storage::to_val(value);
    REQUIRE(mdb_put(txn.get(), dbi, &k, &v, 0) == 0);
    REQUIRE(txn.commit() == 0);
}

}  // namespace

TEST_CASE("records: round trip, and every bit flip or misplacement is detected") {
    const raft::Entry original{7, 42, raft::EntryType::Config, "membership bytes"};
    const std::string record = encode_entry_record(3, original);
    REQUIRE(decode_entry_record(3, 42, record) == original);
    CHECK_FALSE(decode_entry_record(4, 42, record));  // another group's key
    CHECK_FALSE(decode_entry_record(3, 43, record));  // another index's key
    for (std::size_t bit = 0; bit < record.size() * 8; ++bit) {
        std::string damaged = record;
        damaged[bit / 8] = static_cast<char>(damaged[bit / 8] ^ (1 << (bit % 8)));
        REQUIRE_FALSE(decode_entry_record(3, 42, damaged));
    }
    for (std::size_t size = 0; size < record.size(); ++size) {
        REQUIRE_FALSE(decode_entry_record(3, 42, record.substr(0, size)));
    }
    CHECK(parse_entry_key(entry_key(9, 10))->index == 10);
    CHECK(parse_state_key(state_key(9, StateKind::HardState), StateKind::HardState) == 9u);
    CHECK_FALSE(parse_state_key(state_key(9, StateKind::LogBase), StateKind::HardState));
}

TEST_CASE("a new group looks like MemoryStorage's new node, and survives reopen") {
    TempDir dir;
    {
        auto store = open_log(dir.str());
        raft::Storage& log = create(*store, 7);
        CHECK(log.first_index() == 1);
        CHECK(log.last_index() == 0);
        CHECK(log.term(0) == 0u);
        CHECK_FALSE(log.term(1));
        CHECK(log.initial_state() == raft::HardState{});
        CHECK(log.snapshot()->meta.membership == kThree);
        CHECK(log.snapshot()->meta.index == 0);
        // Creating again returns the same, unchanged group.
        std::string error;
        CHECK(store->create_group(7, raft::Membership{{9}, {}}, error) == &log);
        CHECK(store->group(8) == nullptr);
    }
    auto store = open_log(dir.str());
    REQUIRE(store->groups() == std::vector<raft::GroupId>{7});
    CHECK(store->group(7)->snapshot()->meta.membership == kThree);
    CHECK(store->verify(7).empty());
}

TEST_CASE("persist writes entries and hard state; reopen restores exactly") {
    TempDir dir;
    const raft::HardState hard{4, 2, 9};
    std::vector<raft::Entry> written;
    {
        auto store = open_log(dir.str());
        raft::Storage& log = create(*store, 1);
        auto first = make_entries(1, 5, 1);
        auto second = make_entries(6, 12, 3);
        second[0].type = raft::EntryType::Noop;
        second[0].data.clear();
        REQUIRE(store->persist(1, ready_with(first, raft::HardState{1, 1, 0})).ok());
        REQUIRE(store->persist(1, ready_with(second, hard)).ok());
        written = first;
        written.insert(written.end(), second.begin(), second.end());
        CHECK(log.last_index() == 12);
        CHECK(log.entries(1, 13, UINT64_MAX) == written);
        CHECK(log.initial_state() == hard);
        CHECK(log.term(5) == 1u);
        CHECK(log.term(6) == 3u);
    }
    auto store = open_log(dir.str());
    const raft::Storage& log = *store->group(1);
    CHECK(log.first_index() == 1);
    CHECK(log.last_index() == 12);
    CHECK(log.initial_state() == hard);
    CHECK(log.entries(1, 13, UINT64_MAX) == written);
    for (const raft::Entry& e : written) {
        CHECK(log.term(e.index) == e.term);
    }
    CHECK(store->verify(1).empty());
}

TEST_CASE("entries() honours the byte limit but returns at least one entry") {
    TempDir dir;
    auto store = open_log(dir.str(), false);
    raft::Storage& log = create(*store, 1);
    REQUIRE(store->persist(1, ready_with(make_entries(1, 10, 1))).ok());
    const std::uint64_t one = raft::entry_bytes(log.entries(1, 2, UINT64_MAX)[0]);
    CHECK(log.entries(1, 11, 0).size() == 1);
    CHECK(log.entries(1, 11, one * 3).size() == 3);
    CHECK(log.entries(4, 6, UINT64_MAX).size() == 2);
    CHECK(log.entries(4, 6, UINT64_MAX)[1].index == 5);
}

TEST_CASE("a conflicting suffix is replaced, longer or shorter, in one step") {
    TempDir dir;
    {
        auto store = open_log(dir.str());
        raft::Storage& log = create(*store, 1);
        REQUIRE(store->persist(1, ready_with(make_entries(1, 10, 1))).ok());
        // Shorter replacement: 6..8 at term 2, so 9 and 10 must disappear.
        REQUIRE(store->persist(1, ready_with(make_entries(6, 8, 2))).ok());
        CHECK(log.last_index() == 8);
        CHECK(log.term(5) == 1u);
        CHECK(log.term(6) == 2u);
        CHECK_FALSE(log.term(9));
        // Longer replacement from 8.
        REQUIRE(store->persist(1, ready_with(make_entries(8, 14, 4))).ok());
        CHECK(log.last_index() == 14);
        CHECK(log.term(7) == 2u);
        CHECK(log.term(8) == 4u);
        CHECK(store->verify(1).empty());
        CHECK(stored_entry_count(*store, 1) == 14);
    }
    auto store = open_log(dir.str());
    const raft::Storage& log = *store->group(1);
    CHECK(log.last_index() == 14);
    CHECK(log.entries(7, 9, UINT64_MAX) == std::vector<raft::Entry>{entry(7, 2), entry(8, 4)});
    CHECK(store->verify(1).empty());
}

TEST_CASE("contract violations are refused and change nothing") {
    TempDir dir;
    auto store = open_log(dir.str(), false);
    raft::Storage& log = create(*store, 1);
    REQUIRE(store->persist(1, ready_with(make_entries(1, 5, 2), raft::HardState{2, 1, 3})).ok());
    const auto commits = store->stats().commits;

    auto gap = store->persist(1, ready_with(make_entries(7, 8, 2), raft::HardState{9, 9, 9}));
    CHECK(gap.status == PersistStatus::InvalidInput);
    auto lower_term = store->persist(1, ready_with(make_entries(6, 6, 1)));
    CHECK(lower_term.status == PersistStatus::InvalidInput);
    auto unknown = store->persist(2, ready_with(make_entries(1, 1, 1)));
    CHECK(unknown.status == PersistStatus::UnknownGroup);
    // A batch where the second group fails writes nothing of the first either.
    create(*store, 3);
    const raft::Ready good = ready_with(make_entries(6, 6, 2));
    const raft::Ready bad = ready_with(make_entries(5, 5, 1));
    const GroupReady batch[] = {{1, &good}, {3, &bad}};
    CHECK(store->persist(batch).status == PersistStatus::InvalidInput);

    CHECK(log.last_index() == 5);
    CHECK(log.initial_state() == raft::HardState{2, 1, 3});
    CHECK(store->stats().commits == commits + 1);  // only create_group(3) committed
    CHECK(stored_entry_count(*store, 1) == 5);
    CHECK(store->verify(1).empty());

    REQUIRE(store->create_snapshot(1, 4, kThree, "state").ok());
    REQUIRE(store->compact(1, 3).ok());
    CHECK(store->persist(1, ready_with(make_entries(3, 3, 2))).status ==
          PersistStatus::InvalidInput);
    CHECK(store->compact(1, 5).status == PersistStatus::InvalidInput);  // beyond snapshot
    CHECK(store->create_snapshot(1, 9, kThree, "x").status == PersistStatus::InvalidInput);
}

TEST_CASE("a batch persists many groups, and several Readys of one group, in one commit") {
    TempDir dir;
    std::vector<std::vector<raft::Entry>> expected(4);
    {
        auto store = open_log(dir.str());
        for (raft::GroupId g = 1; g <= 3; ++g) {
            create(*store, g);
        }
        const auto before = store->stats();
        const raft::Ready a1 = ready_with(make_entries(1, 3, 1), raft::HardState{1, 1, 0});
        const raft::Ready b1 = ready_with(make_entries(1, 2, 5), raft::HardState{5, 2, 1});
        const raft::Ready a2 = ready_with(make_entries(3, 4, 2), raft::HardState{2, 3, 2});
        const raft::Ready c1 = ready_with({}, raft::HardState{8, 8, 0});
        const GroupReady batch[] = {{1, &a1}, {2, &b1}, {1, &a2}, {3, &c1}};
        REQUIRE(store->persist(batch).ok());
        const auto after = store->stats();
        CHECK(after.commits == before.commits + 1);
        CHECK(after.entries_written == before.entries_written + 7);
        expected[1] = {entry(1, 1), entry(2, 1), entry(3, 2), entry(4, 2)};
        expected[2] = make_entries(1, 2, 5);
    }
    auto store = open_log(dir.str());
    CHECK(store->groups() == std::vector<raft::GroupId>{1, 2, 3});
    CHECK(store->group(1)->entries(1, 5, UINT64_MAX) == expected[1]);
    CHECK(store->group(1)->initial_state() == raft::HardState{2, 3, 2});
    CHECK(store->group(2)->entries(1, 3, UINT64_MAX) == expected[2]);
    CHECK(store->group(2)->initial_state() == raft::HardState{5, 2, 1});
    CHECK(store->group(3)->last_index() == 0);
    CHECK(store->group(3)->initial_state() == raft::HardState{8, 8, 0});
    for (raft::GroupId g = 1; g <= 3; ++g) {
        CHECK(store->verify(g).empty());
    }
}

TEST_CASE("a snapshot from the leader replaces the log; old entries go in steps") {
    TempDir dir;
    raft::Snapshot snap{raft::SnapshotMeta{50, 3, raft::Membership{{1, 2, 3}, {4}}}, "state@50"};
    {
        auto store = open_log(dir.str(), true, 4);
        raft::Storage& log = create(*store, 1);
        REQUIRE(store->persist(1, ready_with(make_entries(1, 20, 1))).ok());
        // Entries past the snapshot index must also go: they may conflict with the leader.
        REQUIRE(store->persist(1, ready_with(make_entries(21, 60, 2))).ok());
        raft::Ready install;
        install.snapshot = snap;
        install.entries = make_entries(51, 52, 3);
        install.hard_state = raft::HardState{3, 0, 50};
        REQUIRE(store->persist(1, install).ok());
        CHECK(log.first_index() == 51);
        CHECK(log.last_index() == 52);
        CHECK(log.term(50) == 3u);
        CHECK_FALSE(log.term(49));
        CHECK(*log.snapshot() == snap);
        // 8 entries after 52 deleted at once; 4 garbage entries deleted by the same commit.
        CHECK(stored_entry_count(*store, 1) == 2 + 50 - 4);
        CHECK(store->verify(1).empty());
    }
    auto store = open_log(dir.str(), true, 4);
    raft::Storage& log = *store->group(1);
    CHECK(log.first_index() == 51);
    CHECK(log.last_index() == 52);
    CHECK(*log.snapshot() == snap);
    CHECK(log.initial_state() == raft::HardState{3, 0, 50});
    bool remaining = true;
    int steps = 0;
    while (remaining) {
        REQUIRE(store->collect_garbage(remaining).ok());
        ++steps;
    }
    CHECK(steps == 12);  // 46 garbage entries, 4 per step
    CHECK(stored_entry_count(*store, 1) == 2);
    CHECK(store->verify(1).empty());
}

TEST_CASE("compaction moves first_index at once and deletes in bounded steps") {
    TempDir dir;
    {
        auto store = open_log(dir.str(), false, 100);
        raft::Storage& log = create(*store, 1);
        raft::Storage& other = create(*store, 2);
        for (raft::Index from = 1; from <= 5000; from += 500) {
            REQUIRE(store->persist(1, ready_with(make_entries(from, from + 499, 1 + from / 1000)))
                        .ok());
        }
        REQUIRE(store->persist(2, ready_with(make_entries(1, 10, 1))).ok());
        REQUIRE(store->create_snapshot(1, 4000, kThree, "snap").ok());
        const auto deleted_before = store->stats().entries_deleted;
        REQUIRE(store->compact(1, 4000).ok());
        CHECK(log.first_index() == 4001);
        CHECK(log.term(4000) == 4u);
        CHECK_FALSE(log.term(3999));
        CHECK(store->stats().entries_deleted == deleted_before + 100);
        // Persists of this group carry one more step each; other groups' persists do not
        // touch it.
        REQUIRE(store->persist(2, ready_with(make_entries(11, 11, 1))).ok());
        CHECK(stored_entry_count(*store, 1) == 4900);
        REQUIRE(store->persist(1, ready_with(make_entries(5001, 5001, 9))).ok());
        CHECK(stored_entry_count(*store, 1) == 4801);
        CHECK(other.last_index() == 11);
    }
    // Reopening mid-way keeps first_index and still finds the rest of the garbage.
    auto store = open_log(dir.str(), false, 1000);
    CHECK(store->group(1)->first_index() == 4001);
    CHECK(store->group(1)->last_index() == 5001);
    bool remaining = true;
    while (remaining) {
        REQUIRE(store->collect_garbage(remaining).ok());
    }
    CHECK(stored_entry_count(*store, 1) == 1001);
    CHECK(stored_entry_count(*store, 2) == 11);
    CHECK(store->verify(1).empty());
    CHECK(store->verify(2).empty());
}

TEST_CASE("reopen restores the term of every entry across many terms (bisection)") {
    TempDir dir;
    std::vector<raft::Term> terms{0};
    {
        auto store = open_log(dir.str(), false);
        create(*store, 5);
        std::mt19937_64 rng(7);
        raft::Term term = 1;
        std::vector<raft::Entry> batch;
        for (raft::Index i = 1; i <= 3000; ++i) {
            if (rng() % 97 == 0) {
                term += 1 + rng() % 5;
            }
            terms.push_back(term);
            batch.push_back(entry(i, term, "x"));
        }
        REQUIRE(store->persist(5, ready_with(batch)).ok());
    }
    auto store = open_log(dir.str(), false);
    const raft::Storage& log = *store->group(5);
    REQUIRE(log.last_index() == 3000);
    for (raft::Index i = 0; i <= 3000; ++i) {
        REQUIRE(log.term(i) == terms[i]);
    }
}

TEST_CASE("the map grows ahead of need and the store stays readable") {
    TempDir dir;
    {
        auto store = open_log(dir.str(), false, 1024, 256 * 1024);
        raft::Storage& log = create(*store, 1);
        const std::string big(4000, 'b');
        for (raft::Index from = 1; from <= 3000; from += 100) {
            std::vector<raft::Entry> batch;
            for (raft::Index i = from; i < from + 100; ++i) {
                batch.push_back(entry(i, 1, big));
            }
            REQUIRE(store->persist(1, ready_with(batch)).ok());
        }
        CHECK(store->stats().map_grows > 0);
        CHECK(store->stats().map_bytes > 12u << 20);
        CHECK(log.entries(2999, 3001, UINT64_MAX).back().data == big);
    }
    auto store = open_log(dir.str(), false);
    CHECK(store->group(1)->last_index() == 3000);
    CHECK(store->verify(1).empty());
}

TEST_CASE("damaged records are found: state at open, entries by verify()") {
    TempDir dir;
    {
        auto store = open_log(dir.str());
        create(*store, 1);
        REQUIRE(
            store->persist(1, ready_with(make_entries(1, 20, 1), raft::HardState{1, 1, 1})).ok());
    }
    // Entry 7 is not read at open (all terms equal: only both ends are), so open succeeds
    // and verify() reports it.
    overwrite_raw(dir.str(), true, entry_key(1, 7), [](std::string& v) { v.back() ^= 0x01; });
    {
        auto store = open_log(dir.str());
        const std::string report = store->verify(1);
        CHECK(report.find("entry 7") != std::string::npos);
    }
    // A damaged last entry or hard state record stops open with a message.
    overwrite_raw(dir.str(), true, entry_key(1, 20), [](std::string& v) { v[6] ^= 0x40; });
    {
        LogStoreOptions options;
        options.directory = dir.str();
        std::string error;
        CHECK(RaftLogStore::open(options, error) == nullptr);
        CHECK(error.find("entry 20") != std::string::npos);
    }
    overwrite_raw(dir.str(), true, entry_key(1, 20), [](std::string& v) { v[6] ^= 0x40; });
    overwrite_raw(dir.str(), false, state_key(1, StateKind::HardState),
                  [](std::string& v) { v[1] ^= 0x10; });
    LogStoreOptions options;
    options.directory = dir.str();
    std::string error;
    CHECK(RaftLogStore::open(options, error) == nullptr);
    CHECK(error.find("checksum") != std::string::npos);
}

TEST_CASE("reads on other threads run concurrently with persists and map growth") {
    TempDir dir;
    auto store = open_log(dir.str(), false, 1024, 256 * 1024);
    raft::Storage& log = create(*store, 1);
    REQUIRE(store->persist(1, ready_with(make_entries(1, 1, 1))).ok());
    std::atomic<bool> done{false};
    std::atomic<std::uint64_t> reads{0};
    std::atomic<bool> consistent{true};
    std::vector<std::thread> readers;
    for (int t = 0; t < 2; ++t) {
        readers.emplace_back([&] {
            while (!done.load()) {
                const raft::Index last = log.last_index();
                const raft::Index lo = last > 20 ? last - 20 : 1;
                const auto got = log.entries(lo, last + 1, UINT64_MAX);
                if (got.size() != last + 1 - lo || got.back().index != last ||
                    log.term(last) != got.back().term) {
                    consistent = false;
                }
                reads.fetch_add(1);
            }
        });
    }
    const std::string data(2000, 'd');
    for (raft::Index from = 2; from < 4002; from += 50) {
        std::vector<raft::Entry> batch;
        for (raft::Index i = from; i < from + 50; ++i) {
            batch.push_back(entry(i, 1 + i / 1000, data));
        }
        REQUIRE(
            store->persist(1, ready_with(batch, raft::HardState{1 + from / 1000, 1, from})).ok());
    }
    done = true;
    for (auto& t : readers) {
        t.join();
    }
    CHECK(consistent.load());
    CHECK(reads.load() > 0);
    CHECK(store->stats().map_grows > 0);
    CHECK(store->verify(1).empty());
}

}  // namespace annal::replication
