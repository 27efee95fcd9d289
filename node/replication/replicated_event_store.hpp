// The event store of a cluster member: one Raft group (id 1) whose log carries the append
// commands, applied to the same event tables the single-node store uses.
//
// One replication-loop thread owns the raft::Core. It drains an input queue (appends to
// propose, peer messages, read barriers, admin requests, unreachable reports), ticks the
// core every tick_ms, and for each Ready: sends `messages` at once; hands the snapshot,
// entries and hard state to the log writer thread (log_writer.hpp), which writes them to
// the Raft write-ahead log (raft_wal.hpp: ONE fdatasync per batch) and sends
// `messages_after_persist`; on its report, advances the core; applies the committed
// entries to the event tables in an LMDB write transaction that stays open across cycles
// and answers their appends at once. That transaction commits lazily (every apply_commit_interval,
// or as soon as a read barrier, an admin change, a snapshot or shutdown needs it); only then do
// reads, the head position and commit listeners see its events. Whatever arrives during one cycle
// goes into the next Ready (group commit). The log is compacted behind the durably applied index,
// keeping `log_retain_entries` so a lagging follower catches up from the log; one further behind
// gets a snapshot: a descriptor of the applied point (snapshot_descriptor.hpp), for which it
// fetches the missing events from a peer into a staging table on another thread and then installs
// them in one transaction (the "snapshots" section of the .cpp).
//
// Appends on a follower complete NotLeader (with the leader's address); a proposal whose
// entry is lost in a leadership change completes NotCommitted. Reads serve the local
// tables; read_barrier() makes them linearizable (ReadIndex, leader or follower).
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "raft/message.hpp"
#include "raft/types.hpp"
#include "replication/cluster_view.hpp"
#include "replication/loop_timings.hpp"
#include "replication/peer_sender.hpp"
#include "replication/snapshot_source.hpp"
#include "storage/event_store.hpp"

namespace annal::replication {

struct ReplicatedStoreOptions {
    storage::StoreOptions store;  // directory, map sizes, durable
    raft::NodeId self = 0;
    std::string self_address;                         // advertise address
    std::vector<PeerDirectoryEntry> initial_cluster;  // empty + join=true: learner-to-be
    bool join = false;
    std::uint32_t tick_ms = 100, election_ticks = 10, heartbeat_ticks = 1;
    std::uint64_t log_retain_entries = 50000;
    // AppendEntries per follower sent and not yet acknowledged (raft::Config's
    // max_inflight_msgs). While the window is full, new entries wait on the leader and go
    // out together with the acknowledgement that opens it: fewer, larger messages, so each
    // follower wakes, writes and fsyncs once per round trip instead of once per leader cycle
    // (docs/benchmarks.cluster.md: 2 against 64 halved the followers' frames and log
    // batches). Each message carries up to 1 MiB of entries, so 2 still pipelines.
    std::size_t max_inflight_appends = 2;
    std::chrono::milliseconds read_barrier_timeout{5000};
    // Where a replica behind the retained log fetches the events of a snapshot (must
    // outlive the store). nullptr: such a replica waits (and logs why) instead.
    SnapshotSource* snapshot_source = nullptr;
    std::size_t snapshot_chunk_bytes = 1 << 20;  // per fetch and per staging transaction
    // How long applied entries may wait in the open LMDB transaction before it commits
    // (when nothing needs the commit sooner): one commit's two flushes are shared by every
    // append of that interval. Bounds how late commit listeners (subscriptions) hear of
    // new events when nothing else forces a commit.
    std::chrono::milliseconds apply_commit_interval{10};
    std::uint64_t wal_segment_bytes = 64ull << 20;  // Raft write-ahead log segment size
    // For tests that need a crash at an exact point (an in-process store cannot be killed).
    struct Testing {
        // The replica stops, as if it crashed, once a snapshot from the leader is in its
        // Raft log and before the snapshot's events are installed in the tables.
        bool stop_after_logging_snapshot = false;
        // close() drops the open apply transaction instead of committing it, as a crash
        // would: the next start must apply those entries again from the log.
        bool drop_open_apply_on_close = false;
        // Ceiling experiments (docs/benchmarks.cluster.md): how fast the cluster would be if
        // a follower's own work were free. A follower then acknowledges entries it has not
        // made durable, and its tables stay without the events: for a throwaway benchmark
        // cluster only. The node offers them (--ceiling-follower) only in builds configured
        // with ANNAL_CEILING_EXPERIMENTS=ON.
        bool follower_skips_log_sync = false;  // no fdatasync of the Raft log's batches
        bool follower_skips_apply = false;     // appends are not written to the tables
    } testing;
};

class ReplicatedEventStore final : public storage::EventStore {
  public:
    class Impl;  // the replication loop and everything it owns (replicated_event_store.cpp)

    // `sender` must outlive the store. nullptr and `error` on failure.
    static std::unique_ptr<ReplicatedEventStore> open(ReplicatedStoreOptions options,
                                                      PeerSender& sender, std::string& error);
    explicit ReplicatedEventStore(std::unique_ptr<Impl> impl);
    ~ReplicatedEventStore() override;
    ReplicatedEventStore(const ReplicatedEventStore&) = delete;
    ReplicatedEventStore& operator=(const ReplicatedEventStore&) = delete;

    // Incoming peer traffic (any thread; queued to the replication loop).
    void receive(std::vector<raft::Message> messages);
    void report_unreachable(raft::NodeId peer);

    // Admin (each completes once the change is committed or refused; any thread; the
    // callback runs on the replication loop and must not block).
    ClusterView cluster_view() const;
    void add_learner(raft::NodeId id, std::string address, AdminCallback done);
    // Refused ("not_caught_up") unless the learner's match is within 1000 entries of the
    // leader's last index.
    void promote(raft::NodeId id, AdminCallback done);
    void remove_member(raft::NodeId id, AdminCallback done);  // refused when it would lose quorum
    // target 0 = the most up-to-date other voter. Completes Ok once the target leads.
    void transfer_leadership(raft::NodeId target, AdminCallback done);
    // Graceful shutdown step: if leader, transfer to an up-to-date voter and wait up to
    // `timeout` for it to take over. Returns true if this node is not the leader afterwards.
    bool hand_off_leadership(std::chrono::milliseconds timeout);
    // SHA-256 (hex) over the canonical form of events 1..upto_position (0: all applied), in
    // position order, for comparing replicas.
    std::string log_digest(std::uint64_t upto_position) const;

    // storage::EventStore. append() proposes (leader) or completes NotLeader (follower).
    void append(storage::AppendRequest request, AppendCallback done) override;
    storage::ReadResult read_stream(const std::string& stream, std::uint64_t from_version,
                                    storage::Direction direction, std::size_t limit) const override;
    storage::ReadResult read_all(std::uint64_t from_position, storage::Direction direction,
                                 std::size_t limit) const override;
    storage::ReadResult read_time_range(std::int64_t from_us, std::int64_t to_us,
                                        std::size_t limit) const override;
    storage::ReadResult read_time_range_after(std::int64_t after_us, std::uint64_t after_position,
                                              std::int64_t to_us, std::size_t limit) const override;
    std::optional<std::uint64_t> stream_version(const std::string& stream) const override;
    std::uint64_t head_position() const override;
    storage::StoreStats stats() const override;
    std::uint64_t add_commit_listener(CommitListener listener) override;
    void remove_commit_listener(std::uint64_t token) override;
    void read_barrier(storage::ReadBarrierCallback done) override;
    // What a peer fetching a snapshot reads (snapshot_source.hpp); any thread.
    storage::RawRecords read_raw_records(std::uint64_t after, std::uint64_t upto,
                                         std::size_t max_bytes) const override;
    storage::SnapshotTransferStats snapshot_transfer_stats() const override;
    // Where appends spend their time in the replication loop (loop_timings.hpp).
    LoopTimingStats loop_timings() const;
    // Stops the loop: queued and pending requests complete ShuttingDown. Idempotent.
    void close() override;

  private:
    std::unique_ptr<Impl> impl_;
};

}  // namespace annal::replication
