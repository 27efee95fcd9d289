// Snapshots for a member behind the retained log: the descriptor, the staging table, and
// whole clusters in which a learner must be caught up by fetching events from a peer.
#include <doctest/doctest.h>

#include <condition_variable>
#include <future>
#include <mutex>
#include <set>

#include "replicated_cluster.hpp"
#include "replication/snapshot_descriptor.hpp"
#include "replication/snapshot_fetcher.hpp"
#include "replication/snapshot_staging.hpp"
#include "storage/lmdb_event_store.hpp"
#include "storage/raw_records.hpp"

namespace annal::replication {
namespace {

using storage::AppendStatus;
using test::admin_and_wait;
using test::eventually;
using test::make_request;
using test::ReplicatedCluster;

constexpr std::uint64_t kRetain = 40;

std::size_t append_concurrently(ReplicatedEventStore& leader, std::size_t requests,
                                std::size_t events, const std::string& stream) {
    std::vector<std::future<storage::AppendResult>> results;
    for (std::size_t i = 0; i < requests; ++i) {
        auto promise = std::make_shared<std::promise<storage::AppendResult>>();
        results.push_back(promise->get_future());
        leader.append(make_request(stream + std::to_string(i % 5), events),
                      [promise](auto result) { promise->set_value(std::move(result)); });
    }
    std::size_t ok = 0;
    for (auto& result : results) {
        REQUIRE(result.wait_for(std::chrono::seconds(30)) == std::future_status::ready);
        ok += result.get().status == AppendStatus::Ok ? 1 : 0;
    }
    return ok;
}

// A 3-voter cluster whose log was compacted well past its start, so a new member cannot be
// caught up from the log.
raft::NodeId fill_and_compact(ReplicatedCluster& cluster) {
    const raft::NodeId leader = cluster.wait_for_leader();
    REQUIRE(leader != 0);
    for (int round = 0; round < 4; ++round) {
        REQUIRE(append_concurrently(cluster.store(leader), 100, 3, "s") == 100);
    }
    REQUIRE(cluster.wait_for_head(1200));
    REQUIRE(eventually([&] { return cluster.store(leader).cluster_view().first_index > 300; }));
    return leader;
}

void add_learner(ReplicatedCluster& cluster, raft::NodeId leader, raft::NodeId id) {
    cluster.start(id, true);
    auto added = admin_and_wait([&](AdminCallback done) {
        cluster.store(leader).add_learner(id, cluster.address(id), done);
    });
    REQUIRE(added);
    REQUIRE(added->status == AdminResult::Status::Ok);
}

// The new member ends with the leader's events, keeps following the log, and can vote.
void check_caught_up(ReplicatedCluster& cluster, raft::NodeId leader, raft::NodeId id) {
    REQUIRE(eventually(
        [&] { return cluster.store(id).head_position() == cluster.store(leader).head_position(); },
        std::chrono::seconds(60)));
    // Counted before the install's commit makes the events visible.
    CHECK(cluster.store(id).snapshot_transfer_stats().snapshots_installed >= 1);
    CHECK(cluster.store(leader).snapshot_transfer_stats().snapshots_sent >= 1);
    REQUIRE(append_concurrently(cluster.store(leader), 20, 2, "after") == 20);
    // Appends are answered before the transaction that applies them commits; a read
    // barrier waits for that commit, so the head read after it covers every answer.
    const auto barrier = test::barrier_and_wait(cluster.store(leader));
    REQUIRE(barrier);
    REQUIRE(barrier->status == storage::ReadBarrierResult::Status::Ok);
    const std::uint64_t head = cluster.store(leader).head_position();
    REQUIRE(cluster.wait_for_head(head));
    // Installed events count as written, like applied ones (this member started empty).
    const storage::StoreStats stats = cluster.store(id).stats();
    CHECK(stats.events == head);
    CHECK(stats.bytes == cluster.store(leader).stats().bytes);
    std::set<std::string> digests;
    for (raft::NodeId node : cluster.running_ids()) {
        digests.insert(cluster.store(node).log_digest(head));
    }
    CHECK(digests.size() == 1);
    // The installed tables answer stream reads exactly like the leader's.
    const auto expected =
        cluster.store(leader).read_stream("s3", 0, storage::Direction::Forwards, 1000);
    const auto actual = cluster.store(id).read_stream("s3", 0, storage::Direction::Forwards, 1000);
    REQUIRE(actual.events.size() == expected.events.size());
    CHECK(actual.events.size() == 240);
    for (std::size_t i = 0; i < actual.events.size(); ++i) {
        CHECK(actual.events[i].id == expected.events[i].id);
    }
    CHECK(cluster.store(id).stream_version("s3") == cluster.store(leader).stream_version("s3"));
    auto promoted =
        admin_and_wait([&](AdminCallback done) { cluster.store(leader).promote(id, done); });
    REQUIRE(promoted);
    CHECK(promoted->status == AdminResult::Status::Ok);
}

// Blocks every fetch until stop() (or a minute passes, which the test reports).
class SilentSource final : public SnapshotSource {
  public:
    FetchResult fetch(const std::string&, std::uint64_t, std::uint64_t, std::size_t) override {
        std::unique_lock lock(mutex_);
        ++fetches_;
        changed_.notify_all();
        ended_by_stop_ = changed_.wait_for(lock, std::chrono::minutes(1), [&] { return stopped_; });
        return FetchResult{false, {}, "stopped"};
    }
    void stop() override {
        std::lock_guard lock(mutex_);
        stopped_ = true;
        changed_.notify_all();
    }
    bool wait_for_fetch() {
        std::unique_lock lock(mutex_);
        return changed_.wait_for(lock, std::chrono::seconds(20), [&] { return fetches_ > 0; });
    }
    bool ended_by_stop() const {
        std::lock_guard lock(mutex_);
        return ended_by_stop_;
    }

  private:
    mutable std::mutex mutex_;
    std::condition_variable changed_;
    int fetches_ = 0;
    bool stopped_ = false;
    bool ended_by_stop_ = false;
};

}  // namespace

TEST_CASE("snapshot fetcher: stop ends a fetch in flight instead of waiting for it") {
    SilentSource source;
    bool staged = false;
    SnapshotFetcher fetcher(
        source,
        [&](const SnapshotDescriptor&, const std::vector<storage::RawRecordView>&, std::uint64_t&) {
            staged = true;
            return std::string();
        },
        SnapshotFetcherOptions{});
    fetcher.fetch(SnapshotDescriptor{10, 100, {}}, "127.0.0.1:1", 0);
    REQUIRE(source.wait_for_fetch());
    fetcher.stop();  // joins the fetcher's thread: returns once the fetch has ended
    CHECK(source.ended_by_stop());
    CHECK_FALSE(staged);
}

TEST_CASE("snapshot descriptor: round trip, and anything else is refused") {
    SnapshotDescriptor descriptor{1234, 98765, {{1, "a:1"}, {7, "host-7:2113"}}};
    const std::string encoded = encode_descriptor(descriptor);
    const auto decoded = decode_descriptor(encoded);
    REQUIRE(decoded);
    CHECK(*decoded == descriptor);
    CHECK_FALSE(decode_descriptor(""));  // what older builds recorded
    CHECK_FALSE(decode_descriptor(encoded.substr(0, encoded.size() - 1)));
    CHECK_FALSE(decode_descriptor(encoded + "x"));
    std::string other_version = encoded;
    other_version[3] = 9;
    CHECK_FALSE(decode_descriptor(other_version));
}

TEST_CASE("snapshot staging: resumes, refuses gaps, and discards a stale descriptor's rows") {
    test::TempDir dir;
    storage::StoreOptions options;
    options.directory = dir.str();
    options.durable = false;
    std::string error;
    {
        auto store = storage::EventStore::open(options, error);
        REQUIRE(store);
        for (int i = 0; i < 10; ++i) {
            std::promise<void> done;
            store->append(make_request("x", 2), [&](auto) { done.set_value(); });
            done.get_future().wait();
        }
    }
    auto environment = storage::LmdbEnvironment::open(options, error);
    REQUIRE(environment);
    const auto all = storage::read_raw_records(*environment, 0, 100, 1 << 20);
    std::vector<storage::RawRecordView> records;
    REQUIRE(storage::decode_raw_records(all.body, records));
    REQUIRE(records.size() == 20);
    const storage::Databases& dbs = environment->databases();

    const SnapshotDescriptor old_point{50, 20, {}};
    const SnapshotDescriptor new_point{60, 20, {}};
    auto stage = [&](const SnapshotDescriptor& target, std::size_t from, std::size_t to,
                     std::uint64_t& through, std::string& problem) {
        storage::Transaction txn;
        REQUIRE(environment->begin_write(txn) == 0);
        std::vector<storage::RawRecordView> part(records.begin() + static_cast<long>(from),
                                                 records.begin() + static_cast<long>(to));
        const int rc = stage_records(txn.get(), dbs, target, part, through, problem);
        if (rc == 0) {
            REQUIRE(txn.commit() == 0);
        }
        return rc;
    };
    auto staging = [&] {
        storage::ReadTransaction txn(*environment);
        StagingState state;
        REQUIRE(read_staging(txn.get(), dbs, state) == 0);
        return state;
    };
    std::uint64_t through = 0;
    std::string problem;
    REQUIRE(stage(old_point, 0, 8, through, problem) == 0);
    CHECK(through == 8);
    // A resumed fetch may overlap what is staged: the overlap is skipped.
    REQUIRE(stage(old_point, 5, 12, through, problem) == 0);
    CHECK(through == 12);
    CHECK(stage(old_point, 14, 16, through, problem) == MDB_CORRUPTED);  // a gap
    CHECK(problem.find("jump") != std::string::npos);
    StagingState state = staging();
    REQUIRE(state.target);
    CHECK(state.target->same_point(old_point));
    CHECK(state.first_position == 1);
    CHECK(state.last_position == 12);
    CHECK_FALSE(state.covers(old_point, 0));
    CHECK(state.covers(old_point, 20));  // nothing missing above head 20

    // Another snapshot point: the old rows go, the new staging starts where it is told.
    REQUIRE(stage(new_point, 10, 20, through, problem) == 0);
    state = staging();
    REQUIRE(state.target);
    CHECK(state.target->same_point(new_point));
    CHECK(state.first_position == 11);
    CHECK(state.last_position == 20);
    CHECK(state.covers(new_point, 10));
    CHECK_FALSE(state.covers(new_point, 9));  // position 10 would be missing
    CHECK_FALSE(state.covers(old_point, 10));

    storage::Transaction txn;
    REQUIRE(environment->begin_write(txn) == 0);
    REQUIRE(clear_staging(txn.get(), dbs) == 0);
    REQUIRE(txn.commit() == 0);
    state = staging();
    CHECK_FALSE(state.target);
    CHECK(state.last_position == 0);
}

TEST_CASE("snapshot: a learner behind the compacted log catches up by snapshot and log") {
    ReplicatedCluster cluster(3, 20, kRetain, 4096);
    const raft::NodeId leader = fill_and_compact(cluster);
    add_learner(cluster, leader, 4);
    check_caught_up(cluster, leader, 4);
    const auto stats = cluster.store(4).snapshot_transfer_stats();
    CHECK(stats.fetch_chunks > 1);  // 4 KiB chunks
    CHECK(stats.fetch_bytes > 0);
}

TEST_CASE("snapshot: the fetch survives a failing source and short chunks") {
    ReplicatedCluster cluster(3, 20, kRetain, 1 << 20);
    const raft::NodeId leader = fill_and_compact(cluster);
    cluster.snapshot_source().fail_every_other_call(true);
    cluster.snapshot_source().limit_records_per_call(97);
    add_learner(cluster, leader, 4);
    check_caught_up(cluster, leader, 4);
    const auto stats = cluster.store(4).snapshot_transfer_stats();
    CHECK(stats.fetch_retries > 0);
    CHECK(stats.fetch_chunks >= 1200 / 97);
    // Every retry resumed where the staging ended: no call asked for staged events again.
    std::uint64_t previous = 0;
    for (const auto& call : cluster.snapshot_source().calls()) {
        CHECK(call.after >= previous);
        previous = call.after;
    }
}

TEST_CASE("snapshot: a learner closed mid-staging resumes from its staging after a restart") {
    ReplicatedCluster cluster(3, 20, kRetain, 2048);
    const raft::NodeId leader = fill_and_compact(cluster);
    cluster.snapshot_source().pause_after(3);
    add_learner(cluster, leader, 4);
    // The source counts a call when it answers; the chunk is staged after that.
    REQUIRE(
        eventually([&] { return cluster.store(4).snapshot_transfer_stats().fetch_chunks >= 3; }));
    CHECK(cluster.snapshot_source().successful_calls() == 3);
    CHECK(cluster.store(4).snapshot_transfer_stats().fetch_chunks == 3);
    CHECK(cluster.store(4).head_position() == 0);  // nothing installed yet
    cluster.crash(4);
    const std::size_t calls_before = cluster.snapshot_source().calls().size();
    cluster.snapshot_source().pause(false);
    cluster.start(4, true);
    REQUIRE(eventually([&] { return cluster.snapshot_source().calls().size() > calls_before; }));
    // The first fetch after the restart starts after what the previous run staged.
    CHECK(cluster.snapshot_source().calls()[calls_before].after > 0);
    check_caught_up(cluster, leader, 4);
}

TEST_CASE(
    "snapshot: a learner stopped between logging and installing a snapshot installs it at start") {
    ReplicatedCluster cluster(3, 20, kRetain, 1 << 20);
    const raft::NodeId leader = fill_and_compact(cluster);
    cluster.customize([](raft::NodeId id, ReplicatedStoreOptions& options) {
        options.testing.stop_after_logging_snapshot = id == 4;
    });
    add_learner(cluster, leader, 4);
    // The snapshot replaced the learner's log (its first index moved past the snapshot);
    // the tables it stands for were never written.
    REQUIRE(eventually([&] { return cluster.store(4).cluster_view().first_index > 1; }));
    CHECK(cluster.store(4).head_position() == 0);
    cluster.crash(4);
    cluster.customize({});
    cluster.start(4, true);
    // Installed from the staging table before the replica started (no new fetch needed).
    // The snapshot covers the leader's applied point at its last compaction (one every 64
    // entries or so), which need not be the last of the 1200 events: the rest follows from
    // the log (check_caught_up).
    CHECK(cluster.store(4).head_position() > 0);
    CHECK(cluster.store(4).snapshot_transfer_stats().snapshots_installed == 1);
    CHECK(cluster.store(4).snapshot_transfer_stats().fetch_chunks == 0);
    check_caught_up(cluster, leader, 4);
}

}  // namespace annal::replication
