#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <random>
#include <thread>

#include "raft/memory_storage.hpp"
#include "replication/raft_wal.hpp"
#include "replication/wal_records.hpp"
#include "replication/wal_segment.hpp"
#include "replication/wal_segment_preparer.hpp"
#include "test_support.hpp"

namespace annal::replication {
namespace {

using test::entry;
using test::kThree;
using test::make_entries;
using test::ready_with;
using test::TempDir;
namespace fs = std::filesystem;

std::unique_ptr<RaftWal> open_wal(const std::string& directory, bool durable = false,
                                  std::uint64_t segment_bytes = 1ull << 20,
                                  bool prepare_ahead = true) {
    WalOptions options;
    options.directory = directory;
    options.durable = durable;
    options.segment_bytes = segment_bytes;
    options.prepare_segments_ahead = prepare_ahead;
    std::string error;
    auto wal = RaftWal::open(options, error);
    REQUIRE_MESSAGE(wal != nullptr, error);
    return wal;
}

raft::Storage& create(RaftWal& wal, raft::GroupId group,
                      const raft::Membership& membership = kThree) {
    std::string error;
    raft::Storage* storage = wal.create_group(group, membership, error);
    REQUIRE_MESSAGE(storage != nullptr, error);
    return *storage;
}

void expect_ok(const PersistResult& result) {
    CHECK_MESSAGE(result.ok(), result.message);
}

// Everything the core can read from `actual` equals what it reads from `expected`.
void expect_same(const raft::Storage& actual, const raft::Storage& expected) {
    REQUIRE(actual.first_index() == expected.first_index());
    REQUIRE(actual.last_index() == expected.last_index());
    CHECK(actual.initial_state() == expected.initial_state());
    CHECK(*actual.snapshot() == *expected.snapshot());
    for (raft::Index i = expected.first_index() - 1; i <= expected.last_index() + 1; ++i) {
        REQUIRE_MESSAGE(actual.term(i) == expected.term(i), "term of " << i);
    }
    CHECK(actual.term(expected.first_index() - 2) == expected.term(expected.first_index() - 2));
    if (expected.last_index() >= expected.first_index()) {
        CHECK(actual.entries(expected.first_index(), expected.last_index() + 1, UINT64_MAX) ==
              expected.entries(expected.first_index(), expected.last_index() + 1, UINT64_MAX));
    }
}

std::vector<fs::path> segment_files(const std::string& directory) {
    std::vector<fs::path> out;
    for (const auto& item : fs::directory_iterator(directory)) {
        if (parse_wal_segment_name(item.path().filename().string())) {
            out.push_back(item.path());
        }
    }
    std::sort(out.begin(), out.end());
    return out;
}

void overwrite_byte(const fs::path& file, std::uint64_t offset, char value) {
    std::fstream stream(file, std::ios::in | std::ios::out | std::ios::binary);
    REQUIRE(stream.good());
    stream.seekp(static_cast<std::streamoff>(offset));
    stream.put(value);
    REQUIRE(stream.good());
}

char byte_at(const fs::path& file, std::uint64_t offset) {
    std::ifstream stream(file, std::ios::binary);
    stream.seekg(static_cast<std::streamoff>(offset));
    return static_cast<char>(stream.get());
}

fs::path spare_file(const std::string& directory) {
    return fs::path(directory) / wal_spare_name();
}

std::string file_bytes(const fs::path& file) {
    std::string out(static_cast<std::size_t>(fs::file_size(file)), '\0');
    std::ifstream stream(file, std::ios::binary);
    stream.read(out.data(), static_cast<std::streamsize>(out.size()));
    REQUIRE(stream.good());
    return out;
}

// Waits until the log has prepared `count` spares since it opened. Not a timing assertion:
// the bound only keeps a broken preparer from hanging the suite.
void wait_for_spares(const RaftWal& wal, std::uint64_t count) {
    const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    while (wal.stats().spares_prepared < count && std::chrono::steady_clock::now() < give_up) {
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    REQUIRE(wal.stats().spares_prepared >= count);
}

// The spare as a prepared one must be: `capacity` zeros.
void expect_fresh_spare(const std::string& directory, std::uint64_t capacity) {
    const std::string bytes = file_bytes(spare_file(directory));
    CHECK(bytes.size() == capacity);
    CHECK(bytes.find_first_not_of('\0') == std::string::npos);
}

// Appends batches of 8 entries of 200 bytes to group 1 (and `model`) until `rollovers` new
// segments were started; returns the last index.
raft::Index persist_until_rollovers(RaftWal& wal, raft::MemoryStorage& model, raft::Index last,
                                    std::uint64_t rollovers) {
    const std::uint64_t target = wal.stats().segments_created + rollovers;
    while (wal.stats().segments_created < target) {
        const raft::Ready ready =
            ready_with(make_entries(last + 1, last + 8, 1, 200), raft::HardState{1, 1, last});
        expect_ok(wal.persist(1, ready));
        model.persist(ready);
        last += 8;
    }
    return last;
}

TEST_CASE("wal records: round trip, and any flipped bit is detected") {
    std::string bytes;
    append_wal_record(bytes, WalRecordType::Entry, 7, "payload");
    WalRecord record;
    REQUIRE(parse_wal_record(bytes, record) == WalParse::Ok);
    CHECK(record.type == WalRecordType::Entry);
    CHECK(record.group == 7);
    CHECK(record.payload == "payload");
    CHECK(record.size == bytes.size());
    for (std::size_t i = 0; i < bytes.size(); ++i) {
        for (int bit = 0; bit < 8; ++bit) {
            std::string damaged = bytes;
            damaged[i] = static_cast<char>(damaged[i] ^ (1 << bit));
            CHECK_MESSAGE(parse_wal_record(damaged, record) != WalParse::Ok, i << ":" << bit);
        }
    }
    CHECK(parse_wal_record(bytes.substr(0, bytes.size() - 1), record) == WalParse::Truncated);
    CHECK(parse_wal_record(std::string(16, '\0'), record) == WalParse::Unwritten);
    CHECK(parse_wal_segment_name(wal_segment_name(0x1234abcd)) == 0x1234abcdu);
    CHECK_FALSE(parse_wal_segment_name("wal-0000.log").has_value());
}

TEST_CASE("wal: a new group looks like MemoryStorage's new node, and survives reopen") {
    TempDir dir;
    raft::MemoryStorage model(kThree);
    {
        auto wal = open_wal(dir.str());
        raft::Storage& storage = create(*wal, 5);
        expect_same(storage, model);
        CHECK(&create(*wal, 5, raft::Membership{{9}, {}}) == &storage);  // unchanged
        CHECK(wal->groups() == std::vector<raft::GroupId>{5});
        CHECK(wal->group(6) == nullptr);
    }
    auto wal = open_wal(dir.str());
    REQUIRE(wal->group(5) != nullptr);
    expect_same(*wal->group(5), model);
}

TEST_CASE("wal: persist writes entries and hard state; reopen restores exactly") {
    TempDir dir;
    raft::MemoryStorage model(kThree);
    {
        auto wal = open_wal(dir.str(), true);
        create(*wal, 1);
        for (raft::Term term = 1; term <= 4; ++term) {
            const raft::Ready ready = ready_with(make_entries(term * 10 - 9, term * 10, term),
                                                 raft::HardState{term, 2, term * 10 - 3});
            expect_ok(wal->persist(1, ready));
            model.persist(ready);
        }
        expect_same(*wal->group(1), model);
        CHECK(wal->verify(1).empty());
    }
    auto wal = open_wal(dir.str(), true);
    expect_same(*wal->group(1), model);
    CHECK(wal->verify(1).empty());
    CHECK(wal->group(1)->entries(1, 41, 0).size() == 1);  // at least one entry
    const auto limited = wal->group(1)->entries(1, 41, 3 * raft::entry_bytes(entry(1, 1)));
    CHECK(limited.size() == 3);
}

TEST_CASE("wal: a conflicting suffix is replaced, also across a reopen") {
    TempDir dir;
    raft::MemoryStorage model(kThree);
    auto apply = [&](RaftWal& wal, const raft::Ready& ready) {
        expect_ok(wal.persist(1, ready));
        model.persist(ready);
        expect_same(*wal.group(1), model);
    };
    {
        auto wal = open_wal(dir.str());
        create(*wal, 1);
        apply(*wal, ready_with(make_entries(1, 10, 1), raft::HardState{1, 1, 0}));
        apply(*wal, ready_with(make_entries(6, 8, 2), raft::HardState{2, 3, 0}));  // shorter
        CHECK(wal->group(1)->last_index() == 8);
        apply(*wal, ready_with(make_entries(8, 15, 3)));  // longer
    }
    {
        auto wal = open_wal(dir.str());
        expect_same(*wal->group(1), model);
        apply(*wal, ready_with(make_entries(3, 4, 4)));
        CHECK(wal->group(1)->last_index() == 4);
    }
    auto wal = open_wal(dir.str());
    expect_same(*wal->group(1), model);
    CHECK(wal->verify(1).empty());
}

TEST_CASE("wal: one batch persists many groups and several Readys of one group, one fdatasync") {
    TempDir dir;
    std::map<raft::GroupId, raft::MemoryStorage> models;
    {
        auto wal = open_wal(dir.str(), true);
        for (raft::GroupId g = 1; g <= 3; ++g) {
            create(*wal, g);
            models.emplace(g, raft::MemoryStorage(kThree));
        }
        const WalStats before = wal->stats();
        const raft::Ready a1 = ready_with(make_entries(1, 5, 1), raft::HardState{1, 1, 0});
        const raft::Ready a2 = ready_with(make_entries(4, 9, 2), raft::HardState{2, 1, 3});
        const raft::Ready b = ready_with(make_entries(1, 2, 1));
        const raft::Ready c = ready_with({}, raft::HardState{5, 3, 0});
        const std::vector<GroupReady> batch{{1, &a1}, {2, &b}, {1, &a2}, {3, &c}};
        expect_ok(wal->persist(batch));
        const WalStats after = wal->stats();
        CHECK(after.data_syncs == before.data_syncs + 1);
        CHECK(after.commits == before.commits + 1);
        CHECK(after.entries_written == before.entries_written + 13);
        models.at(1).persist(a1);
        models.at(1).persist(a2);
        models.at(2).persist(b);
        models.at(3).persist(c);
        for (auto& [g, model] : models) {
            expect_same(*wal->group(g), model);
        }
        // An unknown group refuses the whole batch.
        const std::vector<GroupReady> bad{{1, &b}, {9, &b}};
        CHECK(wal->persist(bad).status == PersistStatus::UnknownGroup);
        CHECK(wal->stats().commits == after.commits);
    }
    auto wal = open_wal(dir.str(), true);
    for (auto& [g, model] : models) {
        expect_same(*wal->group(g), model);
    }
}

TEST_CASE("wal: contract violations are refused and nothing is written") {
    TempDir dir;
    raft::MemoryStorage model(kThree);
    auto wal = open_wal(dir.str());
    create(*wal, 1);
    const raft::Ready first = ready_with(make_entries(1, 10, 3), raft::HardState{3, 1, 0});
    expect_ok(wal->persist(1, first));
    model.persist(first);
    expect_ok(wal->create_snapshot(1, 4, kThree, "state"));
    model.create_snapshot(4, kThree, "state");
    expect_ok(wal->compact(1, 4));
    model.compact(4);
    const WalStats before = wal->stats();
    auto refused = [&](const raft::Ready& ready) {
        CHECK(wal->persist(1, ready).status == PersistStatus::InvalidInput);
    };
    refused(ready_with(make_entries(12, 13, 3)));                           // gap
    refused(ready_with(make_entries(11, 12, 2)));                           // lower term
    refused(ready_with(make_entries(3, 5, 4)));                             // compacted
    refused(ready_with({entry(11, 3), entry(13, 3)}, raft::HardState{9}));  // out of sequence
    CHECK(wal->compact(1, 8).status == PersistStatus::InvalidInput);        // past snapshot
    CHECK(wal->create_snapshot(1, 11, kThree, "x").status == PersistStatus::InvalidInput);
    CHECK(wal->create_snapshot(1, 3, kThree, "x").status == PersistStatus::InvalidInput);
    CHECK(wal->compact(7, 1).status == PersistStatus::UnknownGroup);
    CHECK(wal->stats().bytes_written == before.bytes_written);
    CHECK(wal->stats().commits == before.commits);
    expect_same(*wal->group(1), model);
    wal.reset();
    wal = open_wal(dir.str());
    expect_same(*wal->group(1), model);
}

TEST_CASE("wal: a leader's snapshot replaces the log, also after reopen") {
    TempDir dir;
    raft::MemoryStorage model(kThree);
    {
        auto wal = open_wal(dir.str());
        create(*wal, 1);
        const raft::Ready first = ready_with(make_entries(1, 10, 1), raft::HardState{1, 1, 5});
        expect_ok(wal->persist(1, first));
        model.persist(first);
        raft::Ready install;
        install.snapshot = raft::Snapshot{raft::SnapshotMeta{50, 3, kThree}, "leader state"};
        install.entries = make_entries(51, 53, 3);
        install.hard_state = raft::HardState{3, 2, 50};
        expect_ok(wal->persist(1, install));
        model.persist(install);
        expect_same(*wal->group(1), model);
        CHECK(wal->group(1)->first_index() == 51);
    }
    auto wal = open_wal(dir.str());
    expect_same(*wal->group(1), model);
}

TEST_CASE("wal: snapshot + compaction move first_index, and old segments are deleted") {
    TempDir dir;
    raft::MemoryStorage model(kThree);
    constexpr std::uint64_t kSegment = 8192;
    std::size_t files_at_peak = 0;
    {
        auto wal = open_wal(dir.str(), false, kSegment);
        create(*wal, 1);
        create(*wal, 2);
        raft::Index last = 0;
        for (int batch = 0; batch < 60; ++batch) {
            const raft::Ready ready =
                ready_with(make_entries(last + 1, last + 8, 1, 200), raft::HardState{1, 1, last});
            const raft::Ready other = ready_with(make_entries(batch + 1, batch + 1, 1));
            const std::vector<GroupReady> both{{1, &ready}, {2, &other}};
            expect_ok(wal->persist(both));
            model.persist(ready);
            last += 8;
        }
        files_at_peak = segment_files(dir.str()).size();
        CHECK(files_at_peak > 10);
        CHECK(wal->stats().live_segments == files_at_peak);
        // Group 2 keeps its entries in the oldest segment: nothing can go yet.
        expect_ok(wal->create_snapshot(1, 300, kThree, "snap"));
        model.create_snapshot(300, kThree, "snap");
        expect_ok(wal->compact(1, 300));
        model.compact(300);
        CHECK(segment_files(dir.str()).size() >= files_at_peak);
        expect_ok(wal->create_snapshot(2, 60, kThree, "two"));
        expect_ok(wal->compact(2, 60));
        const std::size_t after_partial = segment_files(dir.str()).size();
        CHECK(after_partial < files_at_peak / 2 + 3);
        CHECK(after_partial > 2);
        CHECK(wal->stats().segments_deleted > 0);
        expect_same(*wal->group(1), model);
        CHECK(wal->group(1)->first_index() == 301);
        CHECK(wal->group(1)->term(300) == 1u);
        CHECK(wal->group(1)->term(299) == std::nullopt);
        CHECK(wal->verify(1).empty());
    }
    {
        // Replay starts at a segment whose checkpoint predates the compaction.
        auto wal = open_wal(dir.str(), false, kSegment);
        expect_same(*wal->group(1), model);
        CHECK(wal->group(2)->first_index() == 61);
        expect_ok(wal->create_snapshot(1, 480, kThree, "all"));
        model.create_snapshot(480, kThree, "all");
        expect_ok(wal->compact(1, 480));
        model.compact(480);
        CHECK(segment_files(dir.str()).size() == 1);
        expect_same(*wal->group(1), model);
        const raft::Ready more = ready_with(make_entries(481, 490, 2), raft::HardState{2, 1, 480});
        expect_ok(wal->persist(1, more));
        model.persist(more);
    }
    auto wal = open_wal(dir.str(), false, kSegment);
    expect_same(*wal->group(1), model);
    CHECK(wal->verify(1).empty());
    CHECK(wal->verify(2).empty());
}

TEST_CASE("wal: a torn tail loses exactly the unsynced batches, and the log goes on") {
    TempDir source;
    constexpr int kBatches = 10;
    std::vector<std::uint64_t> batch_end;  // offset in the segment where batch k ends
    std::vector<raft::Ready> readys;
    {
        auto wal = open_wal(source.str());
        create(*wal, 1);
        for (int k = 0; k < kBatches; ++k) {
            const auto first = static_cast<raft::Index>(k * 5 + 1);
            readys.push_back(
                ready_with(make_entries(first, first + 4, 1 + k / 3, 40),
                           raft::HardState{static_cast<raft::Term>(1 + k / 3), 1, first}));
            expect_ok(wal->persist(1, readys.back()));
            batch_end.push_back(wal->stats().bytes_written);
        }
        REQUIRE(segment_files(source.str()).size() == 1);
    }
    const fs::path segment_name = segment_files(source.str()).front().filename();
    // The model after the first `count` batches.
    auto model_after = [&](int count) {
        raft::MemoryStorage model(kThree);
        for (int k = 0; k < count; ++k) {
            model.persist(readys[static_cast<std::size_t>(k)]);
        }
        return model;
    };
    auto batches_before = [&](std::uint64_t cut) {
        int n = 0;
        while (n < kBatches && batch_end[static_cast<std::size_t>(n)] <= cut) {
            ++n;
        }
        return n;
    };
    enum class Damage { Truncate, Garble, ZeroHole };
    struct Cut {
        Damage damage;
        std::uint64_t at;
    };
    std::vector<Cut> cuts;
    for (int k : {2, 6, 9}) {
        const std::uint64_t start = batch_end[static_cast<std::size_t>(k - 1)];
        const std::uint64_t end = batch_end[static_cast<std::size_t>(k)];
        cuts.push_back({Damage::Truncate, start + 3});
        cuts.push_back({Damage::Truncate, (start + end) / 2});
        cuts.push_back({Damage::Truncate, end - 1});  // inside the commit record
        cuts.push_back({Damage::Garble, (start + end) / 2});
        cuts.push_back({Damage::Garble, end - 2});
        cuts.push_back({Damage::ZeroHole, start + 1});  // later pages made it, this one not
    }
    cuts.push_back({Damage::Truncate, batch_end.back()});  // clean end, file cut short
    for (const Cut& cut : cuts) {
        CAPTURE(static_cast<int>(cut.damage));
        CAPTURE(cut.at);
        TempDir dir;
        fs::copy(source.str(), dir.str(), fs::copy_options::recursive);
        const fs::path file = fs::path(dir.str()) / segment_name;
        switch (cut.damage) {
            case Damage::Truncate:
                fs::resize_file(file, cut.at);
                break;
            case Damage::Garble:
                overwrite_byte(file, cut.at, static_cast<char>(~byte_at(file, cut.at)));
                break;
            case Damage::ZeroHole:
                for (std::uint64_t i = 0; i < 40; ++i) {
                    overwrite_byte(file, cut.at + i, '\0');
                }
                break;
        }
        const int kept = batches_before(cut.at);
        raft::MemoryStorage model = model_after(kept);
        {
            auto wal = open_wal(dir.str());
            expect_same(*wal->group(1), model);
            CHECK(wal->verify(1).empty());
            if (cut.damage != Damage::Truncate) {
                CHECK(wal->stats().zeroed_tail_bytes > 0);
            }
            // The log goes on from the cut, with a batch of exactly the lost batch's size
            // (a new term): were the stale bytes after it not zeroed, the intact batches
            // that followed the damage would be replayed after it.
            const raft::Index next = model.last_index() + 1;
            const raft::Ready more =
                ready_with(make_entries(next, next + 4, 9, 40), raft::HardState{9, 1, next});
            expect_ok(wal->persist(1, more));
            model.persist(more);
            expect_same(*wal->group(1), model);
        }
        auto wal = open_wal(dir.str());
        expect_same(*wal->group(1), model);
        CHECK(wal->stats().zeroed_tail_bytes == 0);
    }
}

TEST_CASE("wal: a torn tail right after a rollover keeps the batches of earlier segments") {
    TempDir source;
    std::vector<raft::Ready> readys;
    int in_last_segment_from = -1;  // first batch written to the last segment
    {
        auto wal = open_wal(source.str(), false, 4096);
        create(*wal, 1);
        for (int k = 0; k < 40 && in_last_segment_from < 0; ++k) {
            const auto first = static_cast<raft::Index>(k * 4 + 1);
            readys.push_back(
                ready_with(make_entries(first, first + 3, 2, 150), raft::HardState{2, 1, first}));
            const std::uint64_t segments = wal->stats().segments_created;
            expect_ok(wal->persist(1, readys.back()));
            if (k > 3 && wal->stats().segments_created > segments) {
                in_last_segment_from = k;
            }
        }
    }
    REQUIRE(in_last_segment_from > 0);
    const auto files = segment_files(source.str());
    REQUIRE(files.size() >= 2);
    const fs::path last_name = files.back().filename();
    raft::MemoryStorage expected(kThree);
    for (int k = 0; k < in_last_segment_from; ++k) {
        expected.persist(readys[static_cast<std::size_t>(k)]);
    }
    for (std::uint64_t cut : {0u, 20u, 60u}) {
        CAPTURE(cut);
        TempDir dir;
        fs::copy(source.str(), dir.str(), fs::copy_options::recursive);
        fs::resize_file(fs::path(dir.str()) / last_name, cut);
        raft::MemoryStorage model = expected;
        {
            auto wal = open_wal(dir.str(), false, 4096);
            expect_same(*wal->group(1), model);
            // The next batch starts the segment again, with a checkpoint before it.
            const raft::Index next = model.last_index() + 1;
            const raft::Ready more =
                ready_with(make_entries(next, next + 2, 3, 10), raft::HardState{3, 1, next});
            expect_ok(wal->persist(1, more));
            model.persist(more);
        }
        auto wal = open_wal(dir.str(), false, 4096);
        expect_same(*wal->group(1), model);
        CHECK(wal->verify(1).empty());
    }
}

TEST_CASE("wal: verify() finds an entry damaged on disk") {
    TempDir dir;
    auto wal = open_wal(dir.str());
    create(*wal, 1);
    expect_ok(wal->persist(1, ready_with(make_entries(1, 8, 1, 40), raft::HardState{1, 1, 0})));
    CHECK(wal->verify(1).empty());
    // The batch ends with entry 8's record, the hard state record (< 40 bytes) and the
    // commit record (21 bytes): 60 bytes from the end is inside entry 8's data.
    const fs::path file = segment_files(dir.str()).front();
    const std::uint64_t at = wal->stats().bytes_written - 60;
    overwrite_byte(file, at, static_cast<char>(~byte_at(file, at)));
    const std::string problem = wal->verify(1);
    CHECK(problem.find("entry 8") != std::string::npos);
    CHECK_MESSAGE(problem.find(file.filename().string()) != std::string::npos, problem);
    CHECK(wal->group(1)->entries(1, 8, UINT64_MAX).size() == 7);  // the others still read
}

TEST_CASE("wal: damage in a segment before the last fails open, naming the file") {
    TempDir source;
    {
        auto wal = open_wal(source.str(), false, 4096);
        create(*wal, 1);
        raft::Index last = 0;
        for (int k = 0; k < 12; ++k) {
            expect_ok(wal->persist(1, ready_with(make_entries(last + 1, last + 6, 1, 300))));
            last += 6;
        }
    }
    const auto files = segment_files(source.str());
    REQUIRE(files.size() >= 3);
    const fs::path victim = files[1].filename();
    for (int damage = 0; damage < 3; ++damage) {
        TempDir dir;
        fs::copy(source.str(), dir.str(), fs::copy_options::recursive);
        const fs::path file = fs::path(dir.str()) / victim;
        if (damage == 0) {
            overwrite_byte(file, 200, static_cast<char>(~byte_at(file, 200)));
        } else if (damage == 1) {
            fs::resize_file(file, 1000);
        } else {
            for (std::uint64_t i = 0; i < 4; ++i) {
                overwrite_byte(file, i, '\0');  // the first record's length reads "unwritten"
            }
        }
        WalOptions options;
        options.directory = dir.str();
        options.durable = false;
        options.segment_bytes = 4096;
        std::string error;
        CHECK(RaftWal::open(options, error) == nullptr);
        CHECK_MESSAGE(error.find(victim.string()) != std::string::npos, error);
    }
    // A missing middle segment is found too (its entries are not covered by compaction).
    TempDir dir;
    fs::copy(source.str(), dir.str(), fs::copy_options::recursive);
    fs::remove(fs::path(dir.str()) / victim);
    WalOptions options;
    options.directory = dir.str();
    options.durable = false;
    options.segment_bytes = 4096;
    std::string error;
    CHECK(RaftWal::open(options, error) == nullptr);
    CHECK_MESSAGE(error.find("misses entries") != std::string::npos, error);
}

TEST_CASE("wal: readers on other threads run while persists, rollovers and compactions run") {
    TempDir dir;
    auto wal = open_wal(dir.str(), false, 16384);
    raft::Storage& storage = create(*wal, 1);
    std::mutex compaction_gate;  // readers' ranges must not be compacted mid-read
    std::atomic<bool> done{false};
    std::atomic<std::uint64_t> reads{0};
    std::atomic<int> bad{0};
    auto reader = [&](unsigned seed) {
        std::mt19937_64 rng(seed);
        while (!done.load()) {
            std::unique_lock gate(compaction_gate);
            const raft::Index first = storage.first_index();
            const raft::Index last = storage.last_index();
            if (last < first) {
                continue;
            }
            const raft::Index lo = first + rng() % (last - first + 1);
            const auto got = storage.entries(lo, last + 1, 4096);
            for (std::size_t k = 0; k < got.size(); ++k) {
                const raft::Entry& e = got[k];
                if (e.index != lo + k || e.data != entry(e.index, e.term).data ||
                    storage.term(e.index).value_or(e.term) != e.term) {
                    bad.fetch_add(1);
                }
            }
            reads.fetch_add(1);
            gate.unlock();
            std::this_thread::yield();
        }
    };
    std::thread r1(reader, 1);
    std::thread r2(reader, 2);
    raft::Index last = 0;
    for (int k = 0; k < 300; ++k) {
        const raft::Term term = 1 + static_cast<raft::Term>(k / 50);
        expect_ok(wal->persist(1, ready_with(make_entries(last + 1, last + 10, term),
                                             raft::HardState{term, 1, last})));
        last += 10;
        if (k % 40 == 39) {
            std::unique_lock gate(compaction_gate);
            expect_ok(wal->create_snapshot(1, last - 50, kThree, "s"));
            expect_ok(wal->compact(1, last - 50));
        }
    }
    while (reads.load() < 20) {
        std::this_thread::yield();
    }
    done = true;
    r1.join();
    r2.join();
    CHECK(bad.load() == 0);
    CHECK(wal->stats().segments_deleted > 0);
    CHECK(wal->verify(1).empty());
}

// A seeded random walk of persists (appends, conflicts, leader snapshots), application
// snapshots, compactions and reopens, checked after every step against MemoryStorage.
TEST_CASE("wal: randomized operations agree with MemoryStorage across reopens") {
    std::uint64_t reopens = 0;
    std::uint64_t segments_deleted = 0;
    for (std::uint64_t seed : {11u, 23u, 37u, 41u, 53u, 67u, 79u, 97u}) {
        INFO("seed " << seed);
        std::mt19937_64 rng(seed);
        auto below = [&](std::uint64_t n) { return n == 0 ? 0 : rng() % n; };
        TempDir dir;
        const std::uint64_t segment_bytes = 4096 + below(3) * 8192;
        auto wal = open_wal(dir.str(), false, segment_bytes);
        std::map<raft::GroupId, raft::MemoryStorage> models;
        std::map<raft::GroupId, raft::Term> terms;
        for (raft::GroupId g : {1u, 2u, 3u}) {
            create(*wal, g);
            models.emplace(g, raft::MemoryStorage(kThree));
            terms[g] = 1;
        }
        for (int step = 0; step < 300; ++step) {
            CAPTURE(step);
            const std::uint64_t action = below(100);
            if (action < 70) {
                std::vector<raft::Ready> readys;
                std::vector<raft::GroupId> owners;
                const std::size_t count = 1 + below(4);
                // Plan each Ready against a copy of the model so that several Readys of one
                // group build on each other.
                std::map<raft::GroupId, raft::MemoryStorage> planned = models;
                for (std::size_t n = 0; n < count; ++n) {
                    const raft::GroupId g = 1 + below(3);
                    raft::MemoryStorage& model = planned.at(g);
                    raft::Ready ready;
                    const std::uint64_t kind = below(20);
                    if (kind == 0) {
                        terms[g] += 1;
                        const raft::Index at = model.last_index() + 1 + below(30);
                        ready.snapshot = raft::Snapshot{raft::SnapshotMeta{at, terms[g], kThree},
                                                        "leader-" + std::to_string(at)};
                    } else if (kind < 16) {
                        raft::Index from = model.last_index() + 1;
                        if (kind < 5 && model.last_index() >= model.first_index()) {
                            terms[g] += 1;  // a new leader overwrites a suffix
                            from = model.first_index() +
                                   below(model.last_index() - model.first_index() + 1);
                        }
                        const raft::Index to = from + below(12);
                        for (raft::Index i = from; i <= to; ++i) {
                            ready.entries.push_back(
                                entry(i, terms[g],
                                      std::string(below(400), static_cast<char>('a' + i % 26))));
                        }
                    }
                    if (below(2) == 0 || kind >= 16) {
                        ready.hard_state = raft::HardState{terms[g], below(4), below(50)};
                    }
                    model.persist(ready);
                    readys.push_back(std::move(ready));
                    owners.push_back(g);
                }
                std::vector<GroupReady> batch;
                for (std::size_t n = 0; n < readys.size(); ++n) {
                    batch.push_back(GroupReady{owners[n], &readys[n]});
                }
                expect_ok(wal->persist(batch));
                models = std::move(planned);
            } else if (action < 82) {
                const raft::GroupId g = 1 + below(3);
                raft::MemoryStorage& model = models.at(g);
                const raft::Index low =
                    std::max(model.snapshot()->meta.index, model.first_index() - 1);
                if (model.last_index() > low) {
                    const raft::Index at = low + 1 + below(model.last_index() - low);
                    const std::string data = "app-" + std::to_string(at);
                    expect_ok(wal->create_snapshot(g, at, kThree, data));
                    model.create_snapshot(at, kThree, data);
                }
            } else if (action < 94) {
                const raft::GroupId g = 1 + below(3);
                raft::MemoryStorage& model = models.at(g);
                const raft::Index through =
                    std::min(model.snapshot()->meta.index, model.last_index());
                if (through >= model.first_index()) {
                    const raft::Index at =
                        model.first_index() + below(through - model.first_index() + 1);
                    expect_ok(wal->compact(g, at));
                    model.compact(at);
                }
            } else {
                segments_deleted += wal->stats().segments_deleted;
                ++reopens;
                wal.reset();
                wal = open_wal(dir.str(), false, segment_bytes);
            }
            for (auto& [g, model] : models) {
                REQUIRE(wal->group(g) != nullptr);
                expect_same(*wal->group(g), model);
            }
        }
        for (auto& [g, model] : models) {
            CHECK(wal->verify(g).empty());
        }
        segments_deleted += wal->stats().segments_deleted;
        wal.reset();
        wal = open_wal(dir.str(), false, segment_bytes);
        for (auto& [g, model] : models) {
            expect_same(*wal->group(g), model);
        }
    }
    // The walk did reach the paths it is meant to cover.
    CHECK(reopens > 10);
    CHECK(segments_deleted > 10);
}

}  // namespace
}  // namespace annal::replication

namespace annal::replication {
namespace {

TEST_CASE("wal: rollovers take the spare prepared ahead, and reopen refills it") {
    TempDir dir;
    constexpr std::uint64_t kSegment = 64 << 10;
    raft::MemoryStorage model(kThree);
    raft::Index last = 0;
    {
        auto wal = open_wal(dir.str(), true, kSegment);
        create(*wal, 1);
        last = persist_until_rollovers(*wal, model, last, 12);
        const WalStats stats = wal->stats();
        CHECK(stats.segments_created == 13);  // the first at open, without a spare
        CHECK(stats.spare_fallbacks == 0);
        CHECK(stats.spares_prepared >= 12);  // every rollover took a prepared spare
        CHECK(segment_files(dir.str()).size() == stats.live_segments);
        expect_same(*wal->group(1), model);
        CHECK(wal->verify(1).empty());
        wait_for_spares(*wal, 13);  // the one for the next rollover
        expect_fresh_spare(dir.str(), kSegment);
    }
    for (int reopen = 0; reopen < 2; ++reopen) {
        CAPTURE(reopen);
        auto wal = open_wal(dir.str(), true, kSegment);
        expect_same(*wal->group(1), model);
        CHECK(wal->verify(1).empty());
        CHECK(wal->stats().segments_created == 0);
        wait_for_spares(*wal, 1);
        expect_fresh_spare(dir.str(), kSegment);
        last = persist_until_rollovers(*wal, model, last, 3);
        CHECK(wal->stats().spare_fallbacks == 0);
        expect_same(*wal->group(1), model);
    }
    auto wal = open_wal(dir.str(), true, kSegment);
    expect_same(*wal->group(1), model);
    CHECK(segment_files(dir.str()).size() == 19);
}

TEST_CASE("wal: a spare left behind is never replayed, and is deleted at open") {
    // A spare that replay would have to take seriously were it read: a whole segment of
    // another log (with a group 2 and a longer group 1), garbage, or a partial fill.
    TempDir other;
    {
        auto wal = open_wal(other.str());
        create(*wal, 1);
        create(*wal, 2);
        expect_ok(wal->persist(1, ready_with(make_entries(1, 30, 7), raft::HardState{7, 1, 0})));
    }
    const std::string other_segment = file_bytes(segment_files(other.str()).front());
    std::string garbage(5000, '\0');
    std::mt19937_64 rng(5);
    for (char& c : garbage) {
        c = static_cast<char>(rng());
    }
    constexpr std::uint64_t kSegment = 1 << 20;
    const std::vector<std::string> leftovers{other_segment, garbage, std::string(4096, '\0')};
    for (std::size_t k = 0; k < leftovers.size(); ++k) {
        CAPTURE(k);
        TempDir dir;
        raft::MemoryStorage model(kThree);
        {
            auto wal = open_wal(dir.str(), false, kSegment);
            create(*wal, 1);
            const raft::Ready ready = ready_with(make_entries(1, 10, 1), raft::HardState{1, 1, 0});
            expect_ok(wal->persist(1, ready));
            model.persist(ready);
        }
        for (const bool prepare_ahead : {false, true}) {
            CAPTURE(prepare_ahead);
            {
                std::ofstream spare(spare_file(dir.str()), std::ios::binary | std::ios::trunc);
                spare << leftovers[k];
            }
            auto wal = open_wal(dir.str(), false, kSegment, prepare_ahead);
            CHECK(wal->groups() == std::vector<raft::GroupId>{1});
            expect_same(*wal->group(1), model);
            if (prepare_ahead) {
                wait_for_spares(*wal, 1);
                expect_fresh_spare(dir.str(), kSegment);  // refilled, not the leftover
            } else {
                CHECK_FALSE(fs::exists(spare_file(dir.str())));
            }
            const raft::Index next = model.last_index() + 1;
            const raft::Ready more = ready_with(make_entries(next, next + 2, 2));
            expect_ok(wal->persist(1, more));
            model.persist(more);
        }
        auto wal = open_wal(dir.str(), false, kSegment);
        expect_same(*wal->group(1), model);
        CHECK(wal->verify(1).empty());
    }
}

TEST_CASE("wal: without a spare at a rollover the persist fills the segment, and goes on") {
    TempDir dir;
    constexpr std::uint64_t kSegment = 16 << 10;
    raft::MemoryStorage model(kThree);
    {
        auto wal = open_wal(dir.str(), false, kSegment);
        create(*wal, 1);
        wait_for_spares(*wal, 1);
        fs::remove(spare_file(dir.str()));  // the prepared spare is gone: renaming it fails
        raft::Index last = persist_until_rollovers(*wal, model, 0, 1);
        CHECK(wal->stats().spare_fallbacks == 1);
        expect_same(*wal->group(1), model);
        // The preparer goes on: the next rollovers use spares again.
        last = persist_until_rollovers(*wal, model, last, 4);
        CHECK(wal->stats().spare_fallbacks == 1);
        CHECK(wal->stats().spares_prepared >= 5);
        CHECK(wal->verify(1).empty());
    }
    auto wal = open_wal(dir.str(), false, kSegment);
    expect_same(*wal->group(1), model);
    CHECK(wal->verify(1).empty());
}

TEST_CASE("wal: with segments not prepared ahead, each rollover fills its segment") {
    TempDir dir;
    constexpr std::uint64_t kSegment = 16 << 10;
    raft::MemoryStorage model(kThree);
    {
        auto wal = open_wal(dir.str(), false, kSegment, false);
        create(*wal, 1);
        raft::Index last = 0;
        for (int rollover = 0; rollover < 4; ++rollover) {
            last = persist_until_rollovers(*wal, model, last, 1);
            CHECK_FALSE(fs::exists(spare_file(dir.str())));
        }
        const WalStats stats = wal->stats();
        CHECK(stats.spares_prepared == 0);
        CHECK(stats.spare_waits == 0);
        CHECK(stats.spare_fallbacks == 0);
    }
    auto wal = open_wal(dir.str(), false, kSegment, false);
    expect_same(*wal->group(1), model);
}

TEST_CASE("wal segment preparer: prepares on request, hands over once, reports failures") {
    TempDir dir;
    {
        WalSegmentPreparer preparer(dir.str(), 3 << 20, true);
        const WalSegmentPreparer::Taken unrequested = preparer.take();
        CHECK_FALSE(unrequested.ok);
        CHECK_FALSE(unrequested.error.empty());
        for (std::uint64_t round = 1; round <= 2; ++round) {
            preparer.request();
            preparer.request();  // one spare at a time
            const WalSegmentPreparer::Taken taken = preparer.take();
            REQUIRE_MESSAGE(taken.ok, taken.error);
            CHECK(preparer.spares_prepared() == round);
            expect_fresh_spare(dir.str(), 3 << 20);
            fs::remove(preparer.spare_path());
            CHECK_FALSE(preparer.take().ok);  // handed over already
        }
        preparer.request();  // left to the destructor, which must not wait for the fill
    }
    const std::string missing = dir.str() + "/no-such-directory";
    WalSegmentPreparer preparer(missing, 4096, false);
    for (int attempt = 0; attempt < 2; ++attempt) {
        preparer.request();
        const WalSegmentPreparer::Taken taken = preparer.take();
        CHECK_FALSE(taken.ok);
        CHECK_MESSAGE(taken.error.find(missing) != std::string::npos, taken.error);
    }
    CHECK(preparer.spares_prepared() == 0);
}

}  // namespace
}  // namespace annal::replication
