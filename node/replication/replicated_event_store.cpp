#include "replication/replicated_event_store.hpp"

#include <openssl/evp.h>
#include <pthread.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdio>
#include <deque>
#include <exception>
#include <future>
#include <map>
#include <mutex>
#include <optional>
#include <random>
#include <thread>

#include "raft/core.hpp"
#include "replication/command_codec.hpp"
#include "replication/lmdb_writer.hpp"
#include "replication/log_writer.hpp"
#include "replication/loop_timings.hpp"
#include "replication/pending_proposals.hpp"
#include "replication/raft_wal.hpp"
#include "replication/replica_records.hpp"
#include "replication/snapshot_descriptor.hpp"
#include "replication/snapshot_fetcher.hpp"
#include "replication/snapshot_staging.hpp"
#include "storage/batch_writer.hpp"
#include "storage/byte_order.hpp"
#include "storage/event_tables.hpp"
#include "storage/lmdb_environment.hpp"
#include "storage/positioned_writer.hpp"
#include "storage/raw_records.hpp"

namespace annal::replication {
namespace {

using Clock = std::chrono::steady_clock;
using storage::AppendResult;
using storage::AppendStatus;
using storage::ReadBarrierResult;

constexpr raft::GroupId kGroup = 1;
// A learner is promoted only this close to the leader's log, so the new voter does not
// stall commits while it catches up.
constexpr std::uint64_t kPromoteMaxLag = 1000;
constexpr const char* kLeadershipChanged =
    "leadership changed; retry (idempotent ids make it safe)";

std::string refusal_reason(raft::Refusal refusal) {
    switch (refusal) {
        case raft::Refusal::None:
            return "";
        case raft::Refusal::NotLeader:
            return "not_leader";
        case raft::Refusal::NoLeader:
            return "no_leader";
        case raft::Refusal::TransferInProgress:
            return "transfer_in_progress";
        case raft::Refusal::ChangePending:
            return "change_pending";
        case raft::Refusal::NoCommitInTerm:
            return "leader_not_ready";
        case raft::Refusal::UnknownNode:
            return "unknown_node";
        case raft::Refusal::AlreadyMember:
            return "already_member";
        case raft::Refusal::NotALearner:
            return "not_a_learner";
        case raft::Refusal::NotAVoter:
            return "not_a_voter";
        case raft::Refusal::WouldLoseQuorum:
            return "would_lose_quorum";
        case raft::Refusal::InvalidNode:
            return "invalid_node";
    }
    return "refused";
}

template <typename Callback, typename Result>
void call_safely(Callback& callback, Result result) noexcept {
    if (!callback) {
        return;
    }
    try {
        callback(std::move(result));
    } catch (...) {
        // Completions must not throw; the loop must survive one that does.
    }
}

std::uint64_t microseconds(Clock::duration elapsed) {
    const auto us = std::chrono::duration_cast<std::chrono::microseconds>(elapsed).count();
    return us > 0 ? static_cast<std::uint64_t>(us) : 0;
}

void put_field(std::string& out, std::string_view text) {
    storage::put_u32_be(out, static_cast<std::uint32_t>(text.size()));
    out.append(text);
}

}  // namespace

// ---------------------------------------------------------------------------------------
class ReplicatedEventStore::Impl {
  public:
    enum class AdminKind : std::uint8_t { AddLearner, Promote, Remove, Transfer };

    Impl(ReplicatedStoreOptions options, PeerSender& sender)
        : options_(std::move(options)), sender_(sender) {}
    ~Impl() { close(); }
    Impl(const Impl&) = delete;
    Impl& operator=(const Impl&) = delete;

    bool start(std::string& error);
    void close();

    storage::EventTables& tables() const { return *tables_; }

    void append(storage::AppendRequest request, AppendCallback done);
    void receive(std::vector<raft::Message> messages);
    void report_unreachable(raft::NodeId peer);
    void read_barrier(storage::ReadBarrierCallback done);
    void admin(AdminKind kind, raft::NodeId id, std::string address, AdminCallback done);
    ClusterView view() const {
        std::lock_guard lock(view_mutex_);
        return view_;
    }
    raft::NodeId self() const { return options_.self; }

  private:
    struct QueuedAppend {
        storage::AppendRequest request;
        AppendCallback done;
        Clock::time_point enqueued;
    };
    struct Barrier {
        storage::ReadBarrierCallback done;
        Clock::time_point deadline;
    };
    struct AdminRequest {
        AdminKind kind = AdminKind::Transfer;
        raft::NodeId id = raft::kNoNode;
        std::string address;
        AdminCallback done;
    };
    struct Inputs {
        std::vector<QueuedAppend> appends;
        std::vector<raft::Message> messages;
        std::vector<Barrier> barriers;
        std::vector<AdminRequest> admin;
        std::vector<raft::NodeId> unreachable;
        std::uint64_t durable_through = 0;  // the log writer's latest report (0: none)
        std::optional<PersistResult> log_failure;
        Clock::time_point first_arrival;  // of whatever is queued (valid when not empty)
        // Before queuing anything: the input wait is measured from the first arrival.
        void note_arrival() {
            if (empty()) {
                first_arrival = Clock::now();
            }
        }
        bool empty() const {
            return appends.empty() && messages.empty() && barriers.empty() && admin.empty() &&
                   unreachable.empty() && durable_through == 0 && !log_failure;
        }
    };
    struct Applied {
        raft::Index index = 0;
        raft::Term term = 0;
        std::optional<AppendResult> result;  // for Append commands
        bool config = false;                 // a membership change
    };
    struct PendingTransfer {
        raft::NodeId target = raft::kNoNode;
        Clock::time_point deadline;
        AdminCallback done;
    };

    void run() noexcept;
    void cycle(Inputs& in);
    void propose_appends(std::vector<QueuedAppend>& appends);
    void issue_barriers(std::vector<Barrier>& barriers);
    void handle_admin(AdminRequest& request);
    // A Ready handed to the log writer (log_writer.hpp), until it is durable.
    struct InFlight {
        std::shared_ptr<raft::Ready> ready;
        bool applied_first = false;  // a leader's committed entries, applied when taken
    };
    // Takes the core's Ready: sends its messages, applies a leader's committed entries,
    // hands what must be persisted to the log writer. False: the replica broke.
    bool take_ready();
    // Finishes, in order, every Ready in flight that the log writer reported durable (and
    // those that needed no write): advance, acknowledgements, apply, reads.
    bool finish_durable_readys();
    bool finish_ready(InFlight& item);
    // --- applying (see the "applying" section below) ---
    // Applies the Ready's committed entries (after a snapshot's staged events) in the open
    // apply transaction and answers their appends. False: the replica broke.
    bool apply_ready(const std::vector<raft::Entry>& entries);
    int apply_entries(MDB_txn* txn, const std::vector<raft::Entry>& entries,
                      std::vector<Applied>* applied);
    // Applies (applied_, applied_through_] again, read back from the log, after the open
    // transaction was lost to MDB_MAP_FULL (their appends were answered already).
    int reapply_uncommitted(MDB_txn* txn);
    bool apply_commit_due(Clock::time_point now) const;
    // Commits the open apply transaction; then reads, listeners, barriers and admin
    // completions see what it applied. False: the replica broke.
    bool commit_applied();
    // Before the apply transaction commits: answers the appends it applied (see there).
    void answer_applied_appends(const std::vector<Applied>& applied);
    void answer_append(PendingProposal& proposal, const Applied& item);
    // After it commits: admin changes, and proposals whose entries another leader replaced.
    void complete_applied(const std::vector<Applied>& applied);
    void break_replica(AppendStatus status, const std::string& message);
    void on_lost_leadership();
    // Completes proposals whose entries did not (or may not) commit under this leader.
    void complete_lost(std::map<raft::Index, PendingProposal> taken);
    void release_barriers();
    void expire(Clock::time_point now);
    void maybe_compact();
    void send(std::vector<raft::Message> messages);
    void learn_address(raft::NodeId id, const std::string& address);
    void forget_removed_peers();
    void publish_view();
    void fail_everything(AppendStatus status, const std::string& message);

    // --- snapshots (see the "snapshots" section below) ---
    // True: hold `message` back (its events are not staged yet; a fetch runs).
    bool hold_snapshot(const raft::Message& message);
    bool prepare_snapshot_install(const raft::Snapshot& snapshot);
    // In a fresh apply transaction: staged events into the tables, applied index, members.
    int install_staged(MDB_txn* txn, storage::CommittedState& installed,
                       std::map<raft::NodeId, std::string>& addresses);
    // At start: the log holds a snapshot newer than the tables (a crash between persisting
    // it and committing its install): installs it from the staging table.
    bool recover_snapshot_install(std::string& error);
    void finish_snapshot_install();
    // Fetcher thread: one chunk into the staging table, in its own transaction.
    std::string stage_chunk(const SnapshotDescriptor& target,
                            const std::vector<storage::RawRecordView>& records,
                            std::uint64_t& staged_through);
    void warn_about_snapshot(const std::string& message);

  public:
    void count_records_served(std::uint64_t records) const {
        records_served_.fetch_add(records, std::memory_order_relaxed);
    }
    storage::SnapshotTransferStats snapshot_stats() const;
    LoopTimingStats loop_timings() const { return timings_.snapshot(); }

  private:
    AppendResult not_leader_result() const;
    AdminResult not_leader_admin() const;
    std::string address_of(raft::NodeId id) const {
        auto it = addresses_.find(id);
        return it == addresses_.end() ? std::string() : it->second;
    }
    void complete_append(PendingProposal& proposal, AppendResult result) {
        tables_->record_result(result, proposal.enqueued);
        call_safely(proposal.append_done, std::move(result));
    }
    void complete_admin(AdminCallback& done, AdminResult result) {
        call_safely(done, std::move(result));
    }

    ReplicatedStoreOptions options_;
    PeerSender& sender_;
    std::unique_ptr<storage::LmdbEnvironment> environment_;
    std::unique_ptr<storage::EventTables> tables_;
    std::unique_ptr<LmdbWriter> writer_;  // the environment's one writer (lmdb_writer.hpp)
    std::unique_ptr<RaftWal> log_;
    std::unique_ptr<LogWriter> log_writer_;  // stopped before log_ goes
    std::unique_ptr<raft::Core> core_;
    std::unique_ptr<SnapshotFetcher> fetcher_;  // with options_.snapshot_source only

    std::mutex input_mutex_;
    std::condition_variable input_ready_;
    Inputs inputs_;
    bool stopping_ = false;
    std::mutex close_mutex_;
    std::thread loop_;

    // Loop thread only.
    PendingProposals proposals_;
    std::map<raft::NodeId, std::string> addresses_;
    raft::Index applied_ = 0;  // committed to the tables: readers are here
    // The open apply transaction (writer_->txn()): what it applied, beyond applied_.
    raft::Index applied_through_ = 0;
    std::optional<storage::BatchWriter> apply_writer_;
    std::vector<Applied> awaiting_commit_;  // entries that are not appends (admin changes)
    std::map<raft::NodeId, std::string> addresses_awaiting_commit_;
    std::uint64_t apply_bytes_ = 0;  // entry bytes applied in the open transaction
    bool commit_now_ = false;        // something applied needs the commit at once
    raft::Role role_ = raft::Role::Follower;
    std::uint64_t next_read_context_ = 1;
    std::vector<Barrier> barriers_to_retry_;  // the leader had not committed in its term
    std::map<std::string, std::vector<Barrier>> barriers_by_context_;
    std::multimap<raft::Index, Barrier> barriers_by_index_;
    std::vector<PendingTransfer> transfers_;
    Clock::time_point next_snapshot_warning_{};
    bool broken_ = false;      // a commit failed: the replica cannot go on (fail-stop)
    bool more_ready_ = false;  // loop thread only: the core had a Ready left after a cycle
    std::deque<InFlight> in_flight_;
    std::uint64_t durable_through_ = 0;  // the last Ready number the log writer made durable
    // Loop thread only: how long the last durable commit took; bounds the wait for acks.
    Clock::time_point ready_taken_{};  // when the current Ready was taken (commit learned)
    LoopTimings timings_;

    // Snapshots, loop thread only: the install under way in this Ready; whether a snapshot
    // was stepped in this cycle; since when this replica waits for which snapshot.
    struct PendingInstall {
        SnapshotDescriptor descriptor;
        Clock::time_point stepped_in;  // the staging was complete: waiting ended here
        std::uint64_t events = 0;
        std::uint64_t record_bytes = 0;
        std::uint64_t payload_bytes = 0;
        Clock::duration commit_time{};  // the transaction that installed it
        std::string problem;
    };
    std::optional<PendingInstall> install_;
    bool snapshot_stepped_ = false;
    std::optional<std::pair<SnapshotDescriptor, Clock::time_point>> waiting_for_snapshot_;
    std::atomic<std::uint64_t> snapshots_sent_{0};
    std::atomic<std::uint64_t> snapshots_installed_{0};
    mutable std::atomic<std::uint64_t> records_served_{0};

    mutable std::mutex view_mutex_;
    ClusterView view_;
};

bool ReplicatedEventStore::Impl::start(std::string& error) {
    if (options_.self == raft::kNoNode) {
        error = "a cluster member needs a node id >= 1";
        return false;
    }
    raft::Membership bootstrap;
    for (const PeerDirectoryEntry& peer : options_.initial_cluster) {
        if (peer.id == raft::kNoNode) {
            error = "node id 0 in the initial cluster";
            return false;
        }
        addresses_[peer.id] = peer.address;
        bootstrap.voters.push_back(peer.id);
    }
    std::sort(bootstrap.voters.begin(), bootstrap.voters.end());
    bootstrap.voters.erase(std::unique(bootstrap.voters.begin(), bootstrap.voters.end()),
                           bootstrap.voters.end());
    if (options_.join) {
        bootstrap = {};  // added later as a learner by the leader
    } else if (!bootstrap.is_voter(options_.self)) {
        error = "node " + std::to_string(options_.self) + " is not in the initial cluster";
        return false;
    }
    if (!options_.self_address.empty()) {
        addresses_[options_.self] = options_.self_address;
    }
    // Every write to the tables can be redone from the Raft log, so a commit may leave its
    // meta page to the next commit's flush (one flush instead of two): a system crash then
    // undoes at most the last commit (maybe_compact syncs before the log lets go of it).
    options_.store.sync_meta = false;
    environment_ = storage::LmdbEnvironment::open(options_.store, error);
    if (!environment_) {
        return false;
    }
    // The last commit of the previous run may still lack its meta flush; the log is
    // compacted on the assumption that what start() finds is durable.
    if (const int rc = mdb_env_sync(environment_->env(), 1); rc != 0) {
        error = "cannot sync the event tables: " + storage::lmdb_error(rc);
        return false;
    }
    tables_ = storage::EventTables::open(*environment_, options_.store.durable, error);
    if (!tables_) {
        return false;
    }
    writer_ = std::make_unique<LmdbWriter>(*environment_);
    {
        // Builds before the write-ahead log kept the Raft log in LMDB's raft_state and
        // raft_entries tables; starting on such a directory would start from an empty log.
        storage::ReadTransaction txn(*environment_);
        MDB_stat stat{};
        int rc = txn.status();
        if (rc == 0) {
            rc = mdb_stat(txn.get(), environment_->databases().raft_state, &stat);
        }
        if (rc != 0) {
            error = "cannot inspect the data directory: " + storage::lmdb_error(rc);
            return false;
        }
        if (stat.ms_entries > 1) {  // more than the format marker
            error = "the data directory " + options_.store.directory +
                    " keeps its Raft log in LMDB (written by an older build); this build "
                    "keeps it in raft-wal/: move the directory away and let the node rejoin "
                    "the cluster (it catches up from its peers)";
            return false;
        }
    }
    WalOptions wal_options;
    wal_options.directory = options_.store.directory + "/raft-wal";
    wal_options.segment_bytes = options_.wal_segment_bytes;
    wal_options.durable = options_.store.durable;
    log_ = RaftWal::open(wal_options, error);
    if (!log_) {
        return false;
    }
    raft::Storage* storage = log_->create_group(kGroup, bootstrap, error);
    if (storage == nullptr) {
        return false;
    }
    if (options_.snapshot_source != nullptr) {
        SnapshotFetcherOptions fetcher_options;
        fetcher_options.chunk_bytes = std::max<std::size_t>(options_.snapshot_chunk_bytes, 1);
        fetcher_ = std::make_unique<SnapshotFetcher>(
            *options_.snapshot_source,
            [this](const SnapshotDescriptor& target,
                   const std::vector<storage::RawRecordView>& records,
                   std::uint64_t& staged_through) {
                return stage_chunk(target, records, staged_through);
            },
            fetcher_options);
    }
    {
        storage::ReadTransaction txn(*environment_);
        int rc = txn.status();
        std::map<raft::NodeId, std::string> stored;
        if (rc == 0) {
            rc = read_applied_index(txn.get(), environment_->databases().meta, applied_);
        }
        if (rc == 0) {
            rc = read_peer_addresses(txn.get(), environment_->databases().meta, stored);
        }
        if (rc != 0) {
            error = "cannot read the replica's applied index: " + storage::lmdb_error(rc);
            return false;
        }
        for (auto& [id, address] : stored) {
            addresses_.try_emplace(id, address);  // the configuration wins over old records
        }
    }
    if (!recover_snapshot_install(error)) {
        return false;
    }
    raft::Config config;
    config.id = options_.self;
    config.group = kGroup;
    config.election_tick = static_cast<int>(std::max<std::uint32_t>(options_.election_ticks, 2));
    config.heartbeat_tick = static_cast<int>(std::max<std::uint32_t>(options_.heartbeat_ticks, 1));
    if (config.heartbeat_tick >= config.election_tick) {
        config.heartbeat_tick = config.election_tick - 1;
    }
    config.seed = std::random_device{}();
    config.max_inflight_msgs = std::max<std::size_t>(options_.max_inflight_appends, 1);
    config.applied = applied_;
    try {
        core_ = std::make_unique<raft::Core>(config, *storage);
    } catch (const std::exception& e) {
        error = std::string("cannot start the Raft core: ") + e.what();
        return false;
    }
    applied_ = std::max(applied_, core_->status().applied);
    applied_through_ = applied_;
    for (const auto& [id, address] : addresses_) {
        if (id != options_.self && !address.empty()) {
            sender_.set_peer_address(id, address);
        }
    }
    publish_view();
    try {
        log_writer_ = std::make_unique<LogWriter>(
            *log_, kGroup, sender_, timings_,
            [this](std::uint64_t through, const PersistResult& result) {
                std::lock_guard lock(input_mutex_);
                inputs_.note_arrival();
                inputs_.durable_through = std::max(inputs_.durable_through, through);
                if (!result.ok()) {
                    inputs_.log_failure = result;
                }
                input_ready_.notify_one();
            });
        loop_ = std::thread([this] {
            pthread_setname_np(pthread_self(), "annal-raft");
            run();
        });
    } catch (const std::exception& e) {
        error = std::string("cannot start the replication loop: ") + e.what();
        return false;
    }
    return true;
}

void ReplicatedEventStore::Impl::close() {
    std::lock_guard close_lock(close_mutex_);
    {
        std::lock_guard lock(input_mutex_);
        stopping_ = true;
    }
    input_ready_.notify_all();
    if (loop_.joinable() && loop_.get_id() != std::this_thread::get_id()) {
        loop_.join();
    }
    if (fetcher_) {
        fetcher_->stop();
    }
}

// --- intake (any thread) ----------------------------------------------------------------

void ReplicatedEventStore::Impl::append(storage::AppendRequest request, AppendCallback done) {
    {
        std::lock_guard lock(input_mutex_);
        if (!stopping_) {
            inputs_.note_arrival();
            inputs_.appends.push_back({std::move(request), std::move(done), Clock::now()});
            tables_->add_queued(1);
            input_ready_.notify_one();
            return;
        }
    }
    AppendResult result;
    result.status = AppendStatus::ShuttingDown;
    result.message = "the store is shutting down";
    call_safely(done, std::move(result));
}

void ReplicatedEventStore::Impl::receive(std::vector<raft::Message> messages) {
    std::lock_guard lock(input_mutex_);
    if (stopping_) {
        return;
    }
    inputs_.note_arrival();
    if (inputs_.messages.empty()) {
        inputs_.messages = std::move(messages);
    } else {
        inputs_.messages.insert(inputs_.messages.end(), std::make_move_iterator(messages.begin()),
                                std::make_move_iterator(messages.end()));
    }
    input_ready_.notify_one();
}

void ReplicatedEventStore::Impl::report_unreachable(raft::NodeId peer) {
    std::lock_guard lock(input_mutex_);
    inputs_.note_arrival();
    inputs_.unreachable.push_back(peer);
    input_ready_.notify_one();
}

void ReplicatedEventStore::Impl::read_barrier(storage::ReadBarrierCallback done) {
    {
        std::lock_guard lock(input_mutex_);
        if (!stopping_) {
            inputs_.note_arrival();
            inputs_.barriers.push_back(
                {std::move(done), Clock::now() + options_.read_barrier_timeout});
            input_ready_.notify_one();
            return;
        }
    }
    call_safely(done,
                ReadBarrierResult{
                    ReadBarrierResult::Status::ShuttingDown, {}, 0, "the store is shutting down"});
}

void ReplicatedEventStore::Impl::admin(AdminKind kind, raft::NodeId id, std::string address,
                                       AdminCallback done) {
    {
        std::lock_guard lock(input_mutex_);
        if (!stopping_) {
            inputs_.note_arrival();
            inputs_.admin.push_back({kind, id, std::move(address), std::move(done)});
            input_ready_.notify_one();
            return;
        }
    }
    call_safely(done, AdminResult{AdminResult::Status::ShuttingDown, "",
                                  "the store is shutting down", "", 0});
}

// --- the loop ---------------------------------------------------------------------------

void ReplicatedEventStore::Impl::run() noexcept {
    const auto tick = std::chrono::milliseconds(std::max<std::uint32_t>(options_.tick_ms, 1));
    Clock::time_point next_tick = Clock::now() + tick;
    for (;;) {
        Inputs in;
        {
            std::unique_lock lock(input_mutex_);
            // A core with a Ready left (after advance(): the commit it just learned) must
            // not wait for new input — but it first takes whatever input is queued, so
            // the apply of batch k shares its transaction and fsync with batch k+1.
            if (!more_ready_) {
                Clock::time_point wake = next_tick;
                if (writer_->is_open()) {
                    wake = std::min(wake, writer_->opened_at() + options_.apply_commit_interval);
                }
                input_ready_.wait_until(lock, wake,
                                        [this] { return stopping_ || !inputs_.empty(); });
            }
            if (stopping_) {
                break;
            }
            std::swap(in, inputs_);
        }
        tables_->add_queued(-static_cast<std::int64_t>(in.appends.size()));
        try {
            const Clock::time_point now = Clock::now();
            if (!in.empty()) {
                timings_.input_wait_us.record(microseconds(now - in.first_arrival));
            }
            if (now >= next_tick) {
                // A loop that fell far behind (a long commit) does not replay every tick:
                // a burst of ticks would only start needless elections.
                int ticks = 0;
                while (now >= next_tick && ticks < 3) {
                    if (!broken_) {
                        core_->tick();
                    }
                    next_tick += tick;
                    ++ticks;
                }
                if (now >= next_tick) {
                    next_tick = now + tick;
                }
            }
            cycle(in);
            expire(now);
            if (!broken_ && apply_commit_due(Clock::now())) {
                commit_applied();
            }
        } catch (const std::exception& e) {
            std::fprintf(stderr, "annal: replication loop: %s\n", e.what());
            break_replica(AppendStatus::IoError,
                          std::string("the replication loop failed: ") + e.what());
        }
        publish_view();
    }
    log_writer_->stop();  // what it had not written was never acknowledged
    if (options_.testing.drop_open_apply_on_close) {
        writer_->abort();
    } else if (!broken_) {
        commit_applied();  // what was applied stays applied (a restart would redo it anyway)
    }
    Inputs rest;
    {
        std::lock_guard lock(input_mutex_);
        std::swap(rest, inputs_);
    }
    tables_->add_queued(-static_cast<std::int64_t>(rest.appends.size()));
    for (QueuedAppend& queued : rest.appends) {
        AppendResult result;
        result.status = AppendStatus::ShuttingDown;
        result.message = "the store is shutting down";
        call_safely(queued.done, std::move(result));
    }
    for (Barrier& barrier : rest.barriers) {
        barriers_to_retry_.push_back(std::move(barrier));
    }
    for (AdminRequest& request : rest.admin) {
        complete_admin(request.done, AdminResult{AdminResult::Status::ShuttingDown, "",
                                                 "the store is shutting down", "", 0});
    }
    fail_everything(AppendStatus::ShuttingDown, "the store is shutting down");
}

void ReplicatedEventStore::Impl::cycle(Inputs& in) {
    more_ready_ = false;
    if (broken_) {
        fail_everything(AppendStatus::IoError,
                        "the replica hit a fatal storage error and must be restarted");
        for (QueuedAppend& queued : in.appends) {
            AppendResult result;
            result.status = AppendStatus::IoError;
            result.message = "the replica hit a fatal storage error and must be restarted";
            call_safely(queued.done, std::move(result));
        }
        for (Barrier& barrier : in.barriers) {
            call_safely(barrier.done,
                        ReadBarrierResult{
                            ReadBarrierResult::Status::NoLeader, {}, 0, "the replica is broken"});
        }
        for (AdminRequest& request : in.admin) {
            complete_admin(request.done, AdminResult{AdminResult::Status::ShuttingDown, "",
                                                     "the replica is broken", "", 0});
        }
        return;
    }
    if (in.log_failure) {
        std::fprintf(stderr, "annal: node %llu cannot persist the Raft log: %s; stopping\n",
                     static_cast<unsigned long long>(options_.self),
                     in.log_failure->message.c_str());
        break_replica(in.log_failure->status == PersistStatus::StorageFull
                          ? AppendStatus::StorageFull
                          : AppendStatus::IoError,
                      "cannot persist the Raft log: " + in.log_failure->message);
        return;
    }
    durable_through_ = std::max(durable_through_, in.durable_through);
    for (raft::NodeId peer : in.unreachable) {
        core_->report_unreachable(peer);
    }
    snapshot_stepped_ = false;
    for (const raft::Message& message : in.messages) {
        // A snapshot is stepped in only once its events are staged (hold_snapshot).
        if (message.type == raft::MessageType::Snapshot && hold_snapshot(message)) {
            continue;
        }
        core_->step(message);
    }
    propose_appends(in.appends);
    for (AdminRequest& request : in.admin) {
        handle_admin(request);
    }
    issue_barriers(in.barriers);
    // Durable Readys first: advancing them may commit entries the next Ready applies. One
    // Ready is taken per cycle, so the proposals that queue meanwhile join the next one.
    if (!finish_durable_readys()) {
        return;
    }
    if (core_->has_ready() && (!take_ready() || !finish_durable_readys())) {
        return;
    }
    more_ready_ = core_->has_ready();
    maybe_compact();
}

void ReplicatedEventStore::Impl::propose_appends(std::vector<QueuedAppend>& appends) {
    for (QueuedAppend& queued : appends) {
        PendingProposal proposal;
        proposal.enqueued = queued.enqueued;
        proposal.append_done = std::move(queued.done);
        if (core_->role() != raft::Role::Leader) {
            complete_append(proposal, not_leader_result());
            continue;
        }
        const raft::ProposeResult result = core_->propose(encode_command(queued.request));
        if (result.accepted()) {
            proposal.term = result.term;
            proposals_.add(result.index, std::move(proposal));
            continue;
        }
        if (result.refusal == raft::Refusal::NotLeader) {
            complete_append(proposal, not_leader_result());
            continue;
        }
        AppendResult refused;
        refused.status = AppendStatus::NotCommitted;
        refused.message = std::string(raft::to_string(result.refusal)) + "; retry";
        complete_append(proposal, std::move(refused));
    }
}

void ReplicatedEventStore::Impl::issue_barriers(std::vector<Barrier>& barriers) {
    for (Barrier& barrier : barriers_to_retry_) {
        barriers.push_back(std::move(barrier));
    }
    barriers_to_retry_.clear();
    if (barriers.empty()) {
        return;
    }
    // One ReadIndex (one heartbeat round) for every barrier that arrived in this cycle.
    std::string context = std::to_string(next_read_context_++);
    const raft::Refusal refusal = core_->read_index(context);
    if (refusal == raft::Refusal::None) {
        auto& waiting = barriers_by_context_[context];
        for (Barrier& barrier : barriers) {
            waiting.push_back(std::move(barrier));
        }
        return;
    }
    if (refusal == raft::Refusal::NoCommitInTerm) {
        barriers_to_retry_ = std::move(barriers);  // a new leader: asks again next cycle
        return;
    }
    for (Barrier& barrier : barriers) {
        call_safely(barrier.done,
                    ReadBarrierResult{ReadBarrierResult::Status::NoLeader,
                                      {},
                                      0,
                                      std::string("no leader to confirm a read point: ") +
                                          raft::to_string(refusal)});
    }
}

void ReplicatedEventStore::Impl::handle_admin(AdminRequest& request) {
    if (core_->role() != raft::Role::Leader) {
        complete_admin(request.done, not_leader_admin());
        return;
    }
    auto refused = [&](raft::Refusal refusal) {
        AdminResult result;
        if (refusal == raft::Refusal::NotLeader) {
            result = not_leader_admin();
        } else if (refusal == raft::Refusal::InvalidNode) {
            result.status = AdminResult::Status::BadRequest;
            result.reason = "invalid_node";
            result.message = raft::to_string(refusal);
        } else {
            result.status = AdminResult::Status::Refused;
            result.reason = refusal_reason(refusal);
            result.message = raft::to_string(refusal);
        }
        complete_admin(request.done, std::move(result));
    };
    auto wait_for_apply = [&](const raft::ProposeResult& proposed, std::string what) {
        PendingProposal proposal;
        proposal.term = proposed.term;
        proposal.enqueued = Clock::now();
        proposal.change_done = [done = std::move(request.done),
                                what = std::move(what)](bool applied) mutable {
            AdminResult result;
            if (!applied) {
                result.status = AdminResult::Status::Timeout;
                result.message = "leadership changed before " + what +
                                 " was applied; check the cluster view and retry";
            } else {
                result.message = what + " applied";
            }
            call_safely(done, std::move(result));
        };
        proposals_.add(proposed.index, std::move(proposal));
    };
    const raft::Membership& membership = core_->membership();
    switch (request.kind) {
        case AdminKind::AddLearner: {
            if (request.id == raft::kNoNode || request.address.empty()) {
                complete_admin(request.done,
                               AdminResult{AdminResult::Status::BadRequest, "invalid_node",
                                           "a learner needs an id >= 1 and an address", "", 0});
                return;
            }
            if (membership.contains(request.id)) {
                refused(raft::Refusal::AlreadyMember);
                return;
            }
            // Every member's address goes into the log first, so the new node (and every
            // other replica) knows where everyone is once it has applied the log.
            addresses_[request.id] = request.address;
            for (const auto& [id, address] : addresses_) {
                if (!address.empty() && (id == request.id || membership.contains(id))) {
                    const auto set = core_->propose(encode_command(SetPeerAddress{id, address}));
                    if (!set.accepted()) {
                        refused(set.refusal);
                        return;
                    }
                }
            }
            const auto proposed = core_->propose_conf_change(
                raft::ConfChange{raft::ConfChangeType::AddLearner, request.id});
            if (!proposed.accepted()) {
                refused(proposed.refusal);
                return;
            }
            sender_.set_peer_address(request.id, request.address);
            wait_for_apply(proposed, "adding learner " + std::to_string(request.id));
            return;
        }
        case AdminKind::Promote: {
            if (!membership.contains(request.id)) {
                refused(raft::Refusal::UnknownNode);
                return;
            }
            if (!membership.is_learner(request.id)) {
                refused(raft::Refusal::NotALearner);
                return;
            }
            const raft::Status status = core_->status();
            const auto peer = status.peers.find(request.id);
            const raft::Index match = peer == status.peers.end() ? 0 : peer->second.match;
            // Lag alone would let a short log promote a learner the leader never reached
            // (match 0: e.g. its certificate is refused); a new voter must have answered.
            if (match == 0) {
                complete_admin(request.done,
                               AdminResult{AdminResult::Status::Refused, "not_caught_up",
                                           "learner " + std::to_string(request.id) +
                                               " has not acknowledged any entry",
                                           "", 0});
                return;
            }
            if (status.last_index > match + kPromoteMaxLag) {
                complete_admin(request.done,
                               AdminResult{AdminResult::Status::Refused, "not_caught_up",
                                           "learner " + std::to_string(request.id) + " is " +
                                               std::to_string(status.last_index - match) +
                                               " entries behind (at most " +
                                               std::to_string(kPromoteMaxLag) + ")",
                                           "", 0});
                return;
            }
            const auto proposed = core_->propose_conf_change(
                raft::ConfChange{raft::ConfChangeType::PromoteLearner, request.id});
            if (!proposed.accepted()) {
                refused(proposed.refusal);
                return;
            }
            wait_for_apply(proposed, "promoting " + std::to_string(request.id));
            return;
        }
        case AdminKind::Remove: {
            const auto proposed = core_->propose_conf_change(
                raft::ConfChange{raft::ConfChangeType::RemoveNode, request.id});
            if (!proposed.accepted()) {
                refused(proposed.refusal);
                return;
            }
            wait_for_apply(proposed, "removing " + std::to_string(request.id));
            return;
        }
        case AdminKind::Transfer: {
            raft::NodeId target = request.id;
            if (target == raft::kNoNode) {
                const raft::Status status = core_->status();
                raft::Index best = 0;
                for (const auto& [id, peer] : status.peers) {
                    if (id != options_.self && membership.is_voter(id) &&
                        (target == raft::kNoNode || peer.match > best)) {
                        target = id;
                        best = peer.match;
                    }
                }
                if (target == raft::kNoNode) {
                    complete_admin(request.done,
                                   AdminResult{AdminResult::Status::Refused, "no_candidate",
                                               "no other voter to hand leadership to", "", 0});
                    return;
                }
            }
            if (target == options_.self) {
                complete_admin(request.done, AdminResult{AdminResult::Status::Ok, "",
                                                         "this node already leads", "", 0});
                return;
            }
            if (const raft::Refusal refusal = core_->transfer_leadership(target);
                refusal != raft::Refusal::None) {
                refused(refusal);
                return;
            }
            const auto timeout = std::chrono::milliseconds(
                2ull * std::max<std::uint32_t>(options_.election_ticks, 2) * options_.tick_ms);
            transfers_.push_back({target, Clock::now() + timeout, std::move(request.done)});
            return;
        }
    }
}

bool ReplicatedEventStore::Impl::take_ready() {
    if (options_.testing.follower_skips_log_sync) {
        log_->set_batch_sync(core_->role() == raft::Role::Leader);
    }
    auto ready = std::make_shared<raft::Ready>(core_->ready());
    ready_taken_ = Clock::now();
    send(std::move(ready->messages));
    if (ready->must_persist()) {
        log_writer_->submit(ready);  // read-only from here until reported durable
    }
    InFlight item{ready, false};
    // A leader's committed entries are durable in its own log already (it counts itself
    // towards a commit only for those), so it applies them -- and answers their appends --
    // while the new entries are being written. A follower applies once its Ready is
    // durable, so nothing applied can become durable in the tables before it is durable in
    // the log.
    if (!ready->snapshot && core_->role() == raft::Role::Leader) {
        item.applied_first = true;
        if (!apply_ready(ready->committed_entries)) {
            return false;
        }
    }
    in_flight_.push_back(std::move(item));
    return true;
}

bool ReplicatedEventStore::Impl::finish_durable_readys() {
    while (!in_flight_.empty()) {
        const raft::Ready& front = *in_flight_.front().ready;
        if (front.must_persist() && front.number > durable_through_) {
            return true;
        }
        InFlight item = std::move(in_flight_.front());
        in_flight_.pop_front();
        if (!finish_ready(item)) {
            return false;
        }
    }
    return true;
}

bool ReplicatedEventStore::Impl::finish_ready(InFlight& item) {
    raft::Ready& ready = *item.ready;
    if (ready.snapshot) {
        if (options_.testing.stop_after_logging_snapshot) {
            break_replica(AppendStatus::IoError, "stopped for a test after logging a snapshot");
            return false;
        }
        // The install needs a fresh apply transaction, and the fetcher must be stopped
        // before it (it may be waiting for the LMDB writer the open transaction holds).
        if (!commit_applied() || !prepare_snapshot_install(*ready.snapshot)) {
            return false;
        }
    }
    core_->advance(ready);
    send(std::move(ready.messages_after_persist));  // the log writer sent those it wrote
    if (!item.applied_first && !apply_ready(ready.committed_entries)) {
        return false;
    }
    for (raft::ReadState& read : ready.read_states) {
        auto it = barriers_by_context_.find(read.context);
        if (it == barriers_by_context_.end()) {
            continue;
        }
        for (Barrier& barrier : it->second) {
            barriers_by_index_.emplace(read.index, std::move(barrier));
        }
        barriers_by_context_.erase(it);
    }
    // A read point inside the open transaction: its reader must see what that applied.
    if (!barriers_by_index_.empty() && barriers_by_index_.begin()->first > applied_ &&
        barriers_by_index_.begin()->first <= applied_through_) {
        commit_now_ = true;
    }
    if (commit_now_ && !commit_applied()) {
        return false;
    }
    release_barriers();

    const raft::Role role = core_->role();
    if (role_ == raft::Role::Leader && role != raft::Role::Leader) {
        on_lost_leadership();
    }
    role_ = role;
    for (auto it = transfers_.begin(); it != transfers_.end();) {
        if (core_->leader() == it->target) {
            complete_admin(it->done, AdminResult{AdminResult::Status::Ok, "",
                                                 "node " + std::to_string(it->target) + " leads",
                                                 address_of(it->target), it->target});
            it = transfers_.erase(it);
        } else {
            ++it;
        }
    }
    return true;
}

// --- applying -----------------------------------------------------------------------------
// Committed entries are applied to the event tables in an LMDB write transaction that
// stays open across loop cycles, and their appends are answered as soon as they are applied
// in it (answer_applied_appends says why that is safe). The transaction commits lazily:
// when it has been open for apply_commit_interval, or at once when something needs its
// effects durable or visible -- a read barrier at an index inside it, an admin change or
// peer address (their completions and the peer table follow the commit), a snapshot
// install, shutdown. One LMDB commit (two flushes) thus serves every append of an interval
// instead of every Ready, and it is off the critical path of an append: the Raft
// write-ahead log already holds every entry, so a crash before the commit loses nothing --
// the restarted core hands entries (applied index in LMDB, commit index] out again.

bool ReplicatedEventStore::Impl::apply_ready(const std::vector<raft::Entry>& entries) {
    if (entries.empty() && !install_) {
        return true;
    }
    std::uint64_t data_bytes = 0;
    for (const raft::Entry& entry : entries) {
        data_bytes += entry.data.size();
    }
    // The records and their four index entries each.
    const std::uint64_t incoming = data_bytes * 2 + 256 * entries.size();
    std::vector<Applied> applied;
    bool lost_open_transaction = false;
    for (int attempt = 0;; ++attempt) {
        std::string error;
        int rc = 0;
        if (!writer_->is_open()) {
            apply_writer_.reset();
            apply_bytes_ = 0;
            rc = writer_->begin(incoming + (std::uint64_t{1} << 20), error);
        }
        if (rc == 0 && lost_open_transaction) {
            rc = reapply_uncommitted(writer_->txn());
        }
        if (rc == 0) {
            applied.clear();
            rc = apply_entries(writer_->txn(), entries, &applied);
        }
        if (rc == 0) {
            break;
        }
        if (rc == MDB_MAP_FULL && attempt < 8) {
            apply_writer_.reset();
            const auto growth = writer_->abort_and_grow(error);
            if (growth == storage::LmdbEnvironment::Growth::Grown) {
                tables_->count_map_full_retry();
                lost_open_transaction = applied_through_ > applied_;
                continue;
            }
            if (growth == storage::LmdbEnvironment::Growth::AtMaximum) {
                std::fprintf(stderr, "annal: node %llu: the LMDB map is full; stopping\n",
                             static_cast<unsigned long long>(options_.self));
                break_replica(AppendStatus::StorageFull, "the event tables are full");
                return false;
            }
        }
        const std::string what = install_ && !install_->problem.empty() ? install_->problem
                                 : !error.empty()                       ? error
                                                                        : storage::lmdb_error(rc);
        std::fprintf(stderr, "annal: node %llu cannot apply committed entries: %s; stopping\n",
                     static_cast<unsigned long long>(options_.self), what.c_str());
        break_replica(AppendStatus::IoError, "cannot apply committed entries: " + what);
        return false;
    }
    answer_applied_appends(applied);
    for (Applied& item : applied) {
        if (!item.result) {
            commit_now_ = commit_now_ || item.config;  // admin completions follow the commit
            awaiting_commit_.push_back(std::move(item));
        }
    }
    apply_bytes_ += data_bytes;
    if (install_) {
        applied_through_ = std::max(applied_through_, install_->descriptor.index);
        commit_now_ = true;
    }
    if (!entries.empty()) {
        applied_through_ = entries.back().index;
    }
    commit_now_ = commit_now_ || !addresses_awaiting_commit_.empty();
    return true;
}

int ReplicatedEventStore::Impl::reapply_uncommitted(MDB_txn* txn) {
    const raft::Storage* storage = log_->group(kGroup);
    for (raft::Index next = applied_ + 1; next <= applied_through_;) {
        std::vector<raft::Entry> entries =
            storage->entries(next, applied_through_ + 1, std::uint64_t{4} << 20);
        if (entries.empty()) {
            return MDB_CORRUPTED;  // Storage always returns at least one entry
        }
        if (const int rc = apply_entries(txn, entries, nullptr); rc != 0) {
            return rc;
        }
        next = entries.back().index + 1;
    }
    return 0;
}

bool ReplicatedEventStore::Impl::apply_commit_due(Clock::time_point now) const {
    constexpr std::uint64_t kMaxOpenApplyBytes = 64ull << 20;
    return writer_->is_open() && (commit_now_ || apply_bytes_ >= kMaxOpenApplyBytes ||
                                  now >= writer_->opened_at() + options_.apply_commit_interval);
}

bool ReplicatedEventStore::Impl::commit_applied() {
    if (!writer_->is_open()) {
        return true;
    }
    const Clock::time_point started = Clock::now();
    if (const int rc = writer_->commit(); rc != 0) {
        std::fprintf(stderr, "annal: node %llu cannot commit applied entries: %s; stopping\n",
                     static_cast<unsigned long long>(options_.self),
                     storage::lmdb_error(rc).c_str());
        break_replica(AppendStatus::IoError,
                      "cannot commit applied entries: " + storage::lmdb_error(rc));
        return false;
    }
    const Clock::duration commit_time = Clock::now() - started;
    timings_.apply_commit_us.record(microseconds(commit_time));
    if (install_) {
        // Counted before the new head is published (record_commit), so whoever sees the
        // installed events also sees the install counted.
        snapshots_installed_.fetch_add(1, std::memory_order_relaxed);
        tables_->record_installed(install_->events, install_->payload_bytes);
        install_->commit_time = commit_time;
    }
    const bool events_written = apply_writer_ && apply_writer_->events_written() > 0;
    if (apply_writer_) {
        tables_->record_commit(*apply_writer_, commit_time);
    }
    apply_writer_.reset();
    apply_bytes_ = 0;
    commit_now_ = false;
    applied_ = applied_through_;
    for (const auto& [id, address] : addresses_awaiting_commit_) {
        learn_address(id, address);
    }
    addresses_awaiting_commit_.clear();
    const bool config_applied = std::any_of(awaiting_commit_.begin(), awaiting_commit_.end(),
                                            [](const Applied& item) { return item.config; });
    if (config_applied) {
        forget_removed_peers();  // before completions: a removal is done once reported
    }
    std::vector<Applied> completed;
    completed.swap(awaiting_commit_);
    complete_applied(completed);
    release_barriers();
    if (events_written) {
        tables_->notify_listeners(tables_->head_position());
    }
    finish_snapshot_install();
    return true;
}

void ReplicatedEventStore::Impl::break_replica(AppendStatus status, const std::string& message) {
    broken_ = true;
    writer_->abort();
    apply_writer_.reset();
    awaiting_commit_.clear();
    addresses_awaiting_commit_.clear();
    fail_everything(status, message);
}

int ReplicatedEventStore::Impl::apply_entries(MDB_txn* txn, const std::vector<raft::Entry>& entries,
                                              std::vector<Applied>* applied) {
    const storage::Databases& databases = environment_->databases();
    if (install_ && !apply_writer_) {
        // A snapshot from the leader: its events go in first, in this same transaction.
        storage::CommittedState installed;
        if (const int rc = install_staged(txn, installed, addresses_awaiting_commit_); rc != 0) {
            return rc;
        }
        apply_writer_.emplace(txn, databases, installed);
    }
    if (entries.empty()) {
        return 0;
    }
    if (!apply_writer_) {
        apply_writer_.emplace(txn, databases, tables_->committed());
    }
    for (const raft::Entry& entry : entries) {
        Applied item{entry.index, entry.term, std::nullopt, entry.type == raft::EntryType::Config};
        if (entry.type == raft::EntryType::Normal) {
            auto command = decode_command(entry.data);
            if (!command) {
                // Same bytes on every replica, so every replica skips it alike.
                AppendResult result;
                result.status = AppendStatus::IoError;
                result.message = "undecodable command at log index " + std::to_string(entry.index);
                item.result = std::move(result);
            } else if (auto* request = std::get_if<storage::AppendRequest>(&*command)) {
                AppendResult result;
                // The ceiling experiment leaves a follower's tables without the events.
                const bool skip =
                    options_.testing.follower_skips_apply && core_->role() != raft::Role::Leader;
                if (!skip) {
                    if (const int rc = apply_writer_->apply(*request, result); rc != 0) {
                        return rc;
                    }
                }
                item.result = std::move(result);
            } else if (auto* set = std::get_if<SetPeerAddress>(&*command)) {
                if (const int rc = write_peer_address(txn, databases.meta, set->node, set->address);
                    rc != 0) {
                    return rc;
                }
                addresses_awaiting_commit_[set->node] = set->address;
            }
        }
        if (applied != nullptr) {
            applied->push_back(std::move(item));
        }
    }
    return write_applied_index(txn, databases.meta, entries.back().index);
}

// An append is answered once its entry is applied in the open transaction, before that
// transaction's fsync: the entry is already durable on a quorum (a leader counts itself
// towards a commit only for entries it has made durable), and applying it is deterministic,
// so the answer cannot change: after a crash the log is applied again to the same result.
// Waiting for the apply's own fsync would add a whole commit to every append's latency and
// protect nothing promised to the client. Reads stay linearizable: a read barrier waits for
// applied_, which moves only once the transaction has committed, so a client that reads
// after its answer sees its write.
void ReplicatedEventStore::Impl::answer_applied_appends(const std::vector<Applied>& applied) {
    for (const Applied& item : applied) {
        if (!item.result) {
            continue;  // not an Append command
        }
        auto proposal = proposals_.take(item.index);
        if (!proposal) {
            continue;
        }
        if (!proposal->append_done) {
            proposals_.add(item.index, std::move(*proposal));  // completed after the commit
            continue;
        }
        answer_append(*proposal, item);
    }
}

void ReplicatedEventStore::Impl::answer_append(PendingProposal& proposal, const Applied& item) {
    if (proposal.term == item.term && item.result) {
        timings_.propose_to_commit_us.record(microseconds(ready_taken_ - proposal.enqueued));
        timings_.commit_to_reply_us.record(microseconds(Clock::now() - ready_taken_));
        complete_append(proposal, *item.result);
        return;
    }
    AppendResult lost;
    lost.status = AppendStatus::NotCommitted;
    lost.message = kLeadershipChanged;
    complete_append(proposal, std::move(lost));
}

void ReplicatedEventStore::Impl::complete_applied(const std::vector<Applied>& applied) {
    // Appends were answered when applied; these are the entries that are not appends.
    for (const Applied& item : applied) {
        auto proposal = proposals_.take(item.index);
        if (!proposal) {
            continue;
        }
        if (proposal->append_done) {
            answer_append(*proposal, item);  // another leader's entry took its place
        } else if (proposal->change_done) {
            proposal->change_done(proposal->term == item.term);
        }
    }
    // Anything left at or below the applied index was replaced by another leader's entry.
    complete_lost(proposals_.take_through(applied_));
}

void ReplicatedEventStore::Impl::on_lost_leadership() {
    // The entries may still commit under the next leader (if they reached a quorum), so
    // the outcome is unknown: NotCommitted tells the client to retry, and the idempotent
    // event ids make a retry of an entry that did commit a deduplicated no-op.
    complete_lost(proposals_.take_all());
}

void ReplicatedEventStore::Impl::complete_lost(std::map<raft::Index, PendingProposal> taken) {
    for (auto& [index, proposal] : taken) {
        if (proposal.append_done) {
            AppendResult lost;
            lost.status = AppendStatus::NotCommitted;
            lost.message = kLeadershipChanged;
            complete_append(proposal, std::move(lost));
        } else if (proposal.change_done) {
            proposal.change_done(false);
        }
    }
}

void ReplicatedEventStore::Impl::release_barriers() {
    while (!barriers_by_index_.empty() && barriers_by_index_.begin()->first <= applied_) {
        Barrier barrier = std::move(barriers_by_index_.begin()->second);
        barriers_by_index_.erase(barriers_by_index_.begin());
        call_safely(barrier.done, ReadBarrierResult{});
    }
}

void ReplicatedEventStore::Impl::expire(Clock::time_point now) {
    auto timed_out = [&](Barrier& barrier) {
        if (barrier.deadline > now) {
            return false;
        }
        call_safely(
            barrier.done,
            ReadBarrierResult{
                ReadBarrierResult::Status::Timeout, {}, 0, "no read point confirmed in time"});
        return true;
    };
    std::erase_if(barriers_to_retry_, timed_out);
    for (auto it = barriers_by_context_.begin(); it != barriers_by_context_.end();) {
        std::erase_if(it->second, timed_out);
        it = it->second.empty() ? barriers_by_context_.erase(it) : std::next(it);
    }
    for (auto it = barriers_by_index_.begin(); it != barriers_by_index_.end();) {
        it = timed_out(it->second) ? barriers_by_index_.erase(it) : std::next(it);
    }
    for (auto it = transfers_.begin(); it != transfers_.end();) {
        if (it->deadline > now) {
            ++it;
            continue;
        }
        complete_admin(it->done, AdminResult{AdminResult::Status::Timeout, "",
                                             "node " + std::to_string(it->target) +
                                                 " did not take over in time",
                                             address_of(core_->leader()), core_->leader()});
        it = transfers_.erase(it);
    }
}

void ReplicatedEventStore::Impl::maybe_compact() {
    const raft::Storage* storage = log_->group(kGroup);
    const std::uint64_t retain = std::max<std::uint64_t>(options_.log_retain_entries, 1);
    const std::uint64_t step = std::max<std::uint64_t>(retain / 4, 64);
    const raft::Index first = storage->first_index();
    if (applied_ < first + retain + step) {
        return;
    }
    // Only what a system crash cannot undo in the tables may leave the log: the last
    // commit's meta page is flushed first (sync_meta is off; an open transaction is not
    // touched by this).
    if (const int rc = mdb_env_sync(environment_->env(), 1); rc != 0) {
        std::fprintf(stderr, "annal: node %llu: cannot sync the event tables: %s\n",
                     static_cast<unsigned long long>(options_.self),
                     storage::lmdb_error(rc).c_str());
        return;
    }
    // The snapshot names the applied point (snapshot_descriptor.hpp): O(1), nothing copied;
    // a follower behind the log base fetches the events it stands for from a peer.
    const raft::Index through = applied_ - retain;
    const SnapshotDescriptor descriptor{applied_, tables_->head_position(), addresses_};
    PersistResult result = log_->create_snapshot(kGroup, applied_, core_->membership_at(applied_),
                                                 encode_descriptor(descriptor));
    if (result.ok()) {
        result = log_->compact(kGroup, through);
    }
    if (!result.ok()) {
        std::fprintf(stderr, "annal: node %llu: log compaction through %llu failed: %s\n",
                     static_cast<unsigned long long>(options_.self),
                     static_cast<unsigned long long>(through), result.message.c_str());
    }
}

void ReplicatedEventStore::Impl::send(std::vector<raft::Message> messages) {
    if (messages.empty()) {
        return;
    }
    // Snapshots recorded by older builds carry no descriptor: no follower could install one.
    const auto undeliverable = std::erase_if(messages, [](const raft::Message& m) {
        return m.type == raft::MessageType::Snapshot && m.snapshot_offset == 0 &&
               !decode_descriptor(m.snapshot_chunk);
    });
    if (undeliverable > 0) {
        warn_about_snapshot(
            "a follower is behind the compacted log and this node's snapshot predates "
            "snapshot descriptors; not sent until the next compaction records one");
    }
    snapshots_sent_.fetch_add(
        static_cast<std::uint64_t>(std::count_if(
            messages.begin(), messages.end(),
            [](const raft::Message& m) { return m.type == raft::MessageType::Snapshot; })),
        std::memory_order_relaxed);
    if (!messages.empty()) {
        sender_.send(std::move(messages));
    }
}

void ReplicatedEventStore::Impl::learn_address(raft::NodeId id, const std::string& address) {
    auto [it, inserted] = addresses_.try_emplace(id, address);
    if (!inserted && it->second == address) {
        return;
    }
    it->second = address;
    if (id != options_.self) {
        sender_.set_peer_address(id, address);
    }
}

void ReplicatedEventStore::Impl::forget_removed_peers() {
    const raft::Membership& membership = core_->membership();
    for (auto it = addresses_.begin(); it != addresses_.end();) {
        if (it->first != options_.self && !membership.contains(it->first)) {
            sender_.remove_peer(it->first);
            it = addresses_.erase(it);
        } else {
            ++it;
        }
    }
}

void ReplicatedEventStore::Impl::fail_everything(AppendStatus status, const std::string& message) {
    for (auto& [index, proposal] : proposals_.take_all()) {
        if (proposal.append_done) {
            AppendResult result;
            result.status = status;
            result.message = message;
            complete_append(proposal, std::move(result));
        } else if (proposal.change_done) {
            proposal.change_done(false);
        }
    }
    const auto barrier_status = status == AppendStatus::ShuttingDown
                                    ? ReadBarrierResult::Status::ShuttingDown
                                    : ReadBarrierResult::Status::NoLeader;
    auto fail_barrier = [&](Barrier& barrier) {
        call_safely(barrier.done, ReadBarrierResult{barrier_status, {}, 0, message});
    };
    for (Barrier& barrier : barriers_to_retry_) {
        fail_barrier(barrier);
    }
    barriers_to_retry_.clear();
    for (auto& [context, barriers] : barriers_by_context_) {
        for (Barrier& barrier : barriers) {
            fail_barrier(barrier);
        }
    }
    barriers_by_context_.clear();
    for (auto& [index, barrier] : barriers_by_index_) {
        fail_barrier(barrier);
    }
    barriers_by_index_.clear();
    for (PendingTransfer& transfer : transfers_) {
        complete_admin(transfer.done,
                       AdminResult{AdminResult::Status::ShuttingDown, "", message, "", 0});
    }
    transfers_.clear();
}

AppendResult ReplicatedEventStore::Impl::not_leader_result() const {
    AppendResult result;
    result.status = AppendStatus::NotLeader;
    result.leader_id = core_->leader();
    result.leader_hint = address_of(result.leader_id);
    result.message = result.leader_id == raft::kNoNode
                         ? "no leader is known; retry shortly"
                         : "node " + std::to_string(result.leader_id) + " leads the cluster";
    return result;
}

AdminResult ReplicatedEventStore::Impl::not_leader_admin() const {
    AdminResult result;
    result.leader_id = core_->leader();
    result.leader_hint = address_of(result.leader_id);
    if (result.leader_id == raft::kNoNode) {
        result.status = AdminResult::Status::NoLeader;
        result.message = "no leader is known; retry shortly";
    } else {
        result.status = AdminResult::Status::NotLeader;
        result.message = "node " + std::to_string(result.leader_id) + " leads the cluster";
    }
    return result;
}

void ReplicatedEventStore::Impl::publish_view() {
    const raft::Status status = core_->status();
    ClusterView view;
    view.self = options_.self;
    view.leader = status.leader;
    view.leader_address = address_of(status.leader);
    view.term = status.term;
    if (status.role == raft::Role::Leader) {
        view.role = "leader";
    } else if (status.membership.is_learner(options_.self)) {
        view.role = "learner";
    } else if (status.role == raft::Role::Follower) {
        view.role = "follower";
    } else {
        view.role = "candidate";
    }
    view.commit_index = status.commit;
    view.applied_index = applied_;
    view.last_index = status.last_index;
    view.first_index = status.first_index;
    auto add = [&](raft::NodeId id, bool voter) {
        MemberView member;
        member.id = id;
        member.address = address_of(id);
        member.voter = voter;
        member.role = id == status.leader ? "leader" : voter ? "follower" : "learner";
        if (status.role == raft::Role::Leader) {
            if (id == options_.self) {
                member.healthy = true;
                member.match_index = status.last_index;
            } else if (auto it = status.peers.find(id); it != status.peers.end()) {
                member.healthy = it->second.recent_active;
                member.match_index = it->second.match;
            }
            member.lag =
                status.last_index > member.match_index ? status.last_index - member.match_index : 0;
        } else {
            member.healthy = id == options_.self || id == status.leader;
        }
        view.members.push_back(std::move(member));
    };
    for (raft::NodeId id : status.membership.voters) {
        add(id, true);
    }
    for (raft::NodeId id : status.membership.learners) {
        add(id, false);
    }
    // Memberships take effect when appended: one differing from the committed one means a
    // change is still in flight.
    view.change_pending = status.membership != core_->membership_at(status.commit);
    std::lock_guard lock(view_mutex_);
    view_ = std::move(view);
}

// --- snapshots ----------------------------------------------------------------------------
// A follower behind the leader's log base receives a Snapshot message whose data is a
// descriptor (index I, head position P). Stepping it into the core would make the core
// drop its log and expect the state at I at once, so the message is held back until the
// events (head, P] are staged: a fetch runs on the fetcher's thread meanwhile, while the
// loop goes on (heartbeats, reads, whatever commits). The leader re-sends the message every
// snapshot_resend_ticks; the first copy that finds the staging complete is stepped in, and
// the Ready that carries the snapshot installs the staged events, the applied index and
// the members table in the same transaction that replaces the log.

void ReplicatedEventStore::Impl::warn_about_snapshot(const std::string& message) {
    const Clock::time_point now = Clock::now();
    if (now < next_snapshot_warning_) {
        return;
    }
    next_snapshot_warning_ = now + std::chrono::seconds(10);
    std::fprintf(stderr, "annal: node %llu: %s\n", static_cast<unsigned long long>(options_.self),
                 message.c_str());
}

bool ReplicatedEventStore::Impl::hold_snapshot(const raft::Message& message) {
    if (snapshot_stepped_) {
        return true;  // one install per Ready; the leader sends it again
    }
    // Covered by our log already: the core just acknowledges (or commits) it.
    if (message.snapshot.index <= core_->commit_index() ||
        core_->log().match_term(message.snapshot.index, message.snapshot.term)) {
        return false;
    }
    std::optional<SnapshotDescriptor> descriptor;
    if (message.snapshot_offset == 0 && message.snapshot_chunk.size() == message.snapshot_size) {
        descriptor = decode_descriptor(message.snapshot_chunk);
    }
    if (!descriptor) {
        warn_about_snapshot(
            "received a snapshot without a descriptor (from an older build?); "
            "cannot install it");
        return true;
    }
    if (!waiting_for_snapshot_ || !waiting_for_snapshot_->first.same_point(*descriptor)) {
        waiting_for_snapshot_.emplace(*descriptor, Clock::now());
    }
    const std::uint64_t head = tables_->head_position();
    bool staged =
        head >= descriptor->head_position || (fetcher_ && fetcher_->complete(*descriptor));
    if (!staged) {
        std::string address = address_of(message.from);
        if (auto it = descriptor->addresses.find(message.from);
            address.empty() && it != descriptor->addresses.end()) {
            address = it->second;
        }
        if (fetcher_ && fetcher_->has_job_for(*descriptor)) {
            fetcher_->fetch(*descriptor, address, head);  // keeps progress; follows the leader
            return true;
        }
        StagingState staging;
        storage::ReadTransaction txn(*environment_);
        int rc = txn.status();
        if (rc == 0) {
            rc = read_staging(txn.get(), environment_->databases(), staging);
        }
        if (rc != 0) {
            warn_about_snapshot("cannot read the snapshot staging table: " +
                                storage::lmdb_error(rc));
            return true;
        }
        staged = staging.covers(*descriptor, head);
        if (!staged) {
            if (!fetcher_) {
                warn_about_snapshot(
                    "behind the compacted log, but no snapshot source is "
                    "configured to fetch events from");
                return true;
            }
            if (address.empty()) {
                warn_about_snapshot("behind the compacted log, but node " +
                                    std::to_string(message.from) + "'s address is unknown");
                return true;
            }
            // Resume after what a previous run staged for the same snapshot.
            const bool resumable = staging.target && staging.target->same_point(*descriptor) &&
                                   staging.first_position != 0 &&
                                   staging.first_position <= head + 1;
            const std::uint64_t after = resumable ? std::max(head, staging.last_position) : head;
            std::fprintf(stderr,
                         "annal: node %llu: behind the compacted log; fetching events (%llu, "
                         "%llu] for the snapshot at index %llu from node %llu (%s)\n",
                         static_cast<unsigned long long>(options_.self),
                         static_cast<unsigned long long>(after),
                         static_cast<unsigned long long>(descriptor->head_position),
                         static_cast<unsigned long long>(descriptor->index),
                         static_cast<unsigned long long>(message.from), address.c_str());
            fetcher_->fetch(*descriptor, address, after);
            return true;
        }
    }
    snapshot_stepped_ = true;
    return false;
}

bool ReplicatedEventStore::Impl::prepare_snapshot_install(const raft::Snapshot& snapshot) {
    const std::optional<SnapshotDescriptor> descriptor = decode_descriptor(snapshot.data);
    if (!descriptor || descriptor->index != snapshot.meta.index) {
        // hold_snapshot only steps in descriptors; anything else means diverging code.
        std::fprintf(stderr,
                     "annal: node %llu received a snapshot it cannot install; stopping "
                     "replication\n",
                     static_cast<unsigned long long>(options_.self));
        broken_ = true;
        fail_everything(AppendStatus::IoError, "uninstallable snapshot received");
        return false;
    }
    if (fetcher_) {
        fetcher_->cancel();  // no chunk may land in the staging table while it is installed
    }
    install_ = PendingInstall{};
    install_->descriptor = *descriptor;
    install_->stepped_in = Clock::now();
    return true;
}

int ReplicatedEventStore::Impl::install_staged(MDB_txn* txn, storage::CommittedState& installed,
                                               std::map<raft::NodeId, std::string>& addresses) {
    const storage::Databases& databases = environment_->databases();
    const SnapshotDescriptor& descriptor = install_->descriptor;
    const std::uint64_t head = tables_->committed().head_position;
    storage::PositionedWriter writer(txn, databases, tables_->committed());
    install_->problem.clear();
    if (head < descriptor.head_position) {
        StagingState staging;
        if (const int rc = read_staging(txn, databases, staging); rc != 0) {
            return rc;
        }
        if (!staging.covers(descriptor, head)) {
            install_->problem = "the staging table does not hold events (" + std::to_string(head) +
                                ", " + std::to_string(descriptor.head_position) + "]";
            return MDB_CORRUPTED;
        }
        storage::Cursor cursor(txn, databases.snapshot_staging);
        if (cursor.open_status() != 0) {
            return cursor.open_status();
        }
        // Staged positions at or below the head are events this replica applied from the
        // log meanwhile: the same committed events, skipped.
        const std::string first = storage::position_key(head + 1);
        MDB_val key = storage::to_val(first);
        MDB_val value{};
        int rc = cursor.get(key, value, MDB_SET_RANGE);
        for (; rc == 0; rc = cursor.get(key, value, MDB_NEXT)) {
            const std::uint64_t position = storage::position_from_key(storage::to_view(key));
            if (position > descriptor.head_position) {
                break;
            }
            if (const int put = writer.append(position, storage::to_view(value)); put != 0) {
                install_->problem = writer.problem();
                return put;
            }
        }
        if (rc != 0 && rc != MDB_NOTFOUND) {
            return rc;
        }
    }
    if (writer.state().head_position < descriptor.head_position) {
        install_->problem =
            "the staged events end before position " + std::to_string(descriptor.head_position);
        return MDB_CORRUPTED;
    }
    if (const int rc = write_applied_index(txn, databases.meta, descriptor.index); rc != 0) {
        return rc;
    }
    for (const auto& [id, address] : descriptor.addresses) {
        if (const int rc = write_peer_address(txn, databases.meta, id, address); rc != 0) {
            return rc;
        }
        addresses[id] = address;
    }
    if (const int rc = clear_staging(txn, databases); rc != 0) {
        return rc;
    }
    installed = writer.state();
    install_->events = writer.events_written();
    install_->record_bytes = writer.record_bytes_written();
    install_->payload_bytes = writer.payload_bytes_written();
    return 0;
}

// The install is logged first (the Raft write-ahead log replaces the log with the snapshot)
// and committed to the tables after, so a crash in between leaves the log ahead of the
// tables -- with the staged events still there, since the install transaction that clears
// the staging table never committed. Installing them again at start closes the gap (in the
// other order, tables ahead of a log without the snapshot, the core could not start).
bool ReplicatedEventStore::Impl::recover_snapshot_install(std::string& error) {
    const std::shared_ptr<const raft::Snapshot> snapshot = log_->group(kGroup)->snapshot();
    if (!snapshot || snapshot->meta.index <= applied_) {
        return true;
    }
    const std::optional<SnapshotDescriptor> descriptor = decode_descriptor(snapshot->data);
    if (!descriptor || descriptor->index != snapshot->meta.index) {
        error = "the Raft log's snapshot at index " + std::to_string(snapshot->meta.index) +
                " is ahead of the event tables (applied index " + std::to_string(applied_) +
                ") and holds no installable descriptor";
        return false;
    }
    std::fprintf(stderr,
                 "annal: node %llu: the Raft log holds a snapshot at index %llu the event tables "
                 "do not (applied index %llu); installing it from the staging table\n",
                 static_cast<unsigned long long>(options_.self),
                 static_cast<unsigned long long>(descriptor->index),
                 static_cast<unsigned long long>(applied_));
    install_ = PendingInstall{};
    install_->descriptor = *descriptor;
    install_->stepped_in = Clock::now();
    applied_through_ = applied_;
    if (!apply_ready({}) || !commit_applied()) {
        error = "cannot install the snapshot the Raft log holds at index " +
                std::to_string(descriptor->index) +
                "; move the data directory away and let the node rejoin the cluster";
        return false;
    }
    return true;
}

void ReplicatedEventStore::Impl::finish_snapshot_install() {
    if (!install_) {
        return;
    }
    const SnapshotDescriptor& descriptor = install_->descriptor;
    applied_ = std::max(applied_, descriptor.index);
    // Waiting (the fetch, while the loop ran on) and installing (the one transaction that
    // blocked the loop) are reported apart: only the second is a pause of the replica.
    double waited_seconds = 0;
    if (waiting_for_snapshot_ && waiting_for_snapshot_->first.same_point(descriptor)) {
        waited_seconds =
            std::chrono::duration<double>(install_->stepped_in - waiting_for_snapshot_->second)
                .count();
    }
    const double install_seconds = std::chrono::duration<double>(install_->commit_time).count();
    std::fprintf(stderr,
                 "annal: node %llu installed the snapshot at index %llu (head position %llu): "
                 "%llu events, %llu record bytes; waited %.3f s for its events, installed in "
                 "%.3f s\n",
                 static_cast<unsigned long long>(options_.self),
                 static_cast<unsigned long long>(descriptor.index),
                 static_cast<unsigned long long>(descriptor.head_position),
                 static_cast<unsigned long long>(install_->events),
                 static_cast<unsigned long long>(install_->record_bytes), waited_seconds,
                 install_seconds);
    waiting_for_snapshot_.reset();
    install_.reset();
    tables_->notify_listeners(tables_->head_position());
}

std::string ReplicatedEventStore::Impl::stage_chunk(
    const SnapshotDescriptor& target, const std::vector<storage::RawRecordView>& records,
    std::uint64_t& staged_through) {
    std::string problem;
    std::string error;
    std::uint64_t bytes = 0;
    for (const storage::RawRecordView& record : records) {
        bytes += record.record.size() + 64;
    }
    const int rc = writer_->run(
        bytes,
        [&](MDB_txn* txn) {
            problem.clear();
            return stage_records(txn, environment_->databases(), target, records, staged_through,
                                 problem);
        },
        error);
    if (rc == 0) {
        return {};
    }
    return !problem.empty() ? problem : !error.empty() ? error : storage::lmdb_error(rc);
}

storage::SnapshotTransferStats ReplicatedEventStore::Impl::snapshot_stats() const {
    storage::SnapshotTransferStats stats;
    stats.snapshots_sent = snapshots_sent_.load(std::memory_order_relaxed);
    stats.records_served = records_served_.load(std::memory_order_relaxed);
    stats.snapshots_installed = snapshots_installed_.load(std::memory_order_relaxed);
    if (fetcher_) {
        stats.fetch_chunks = fetcher_->chunks();
        stats.fetch_bytes = fetcher_->bytes();
        stats.fetch_retries = fetcher_->retries();
    }
    return stats;
}

// ---------------------------------------------------------------------------------------

std::unique_ptr<ReplicatedEventStore> ReplicatedEventStore::open(ReplicatedStoreOptions options,
                                                                 PeerSender& sender,
                                                                 std::string& error) {
    if (options.store.directory.empty()) {
        error = "the store needs a data directory";
        return nullptr;
    }
    auto impl = std::make_unique<Impl>(std::move(options), sender);
    if (!impl->start(error)) {
        return nullptr;
    }
    return std::make_unique<ReplicatedEventStore>(std::move(impl));
}

ReplicatedEventStore::ReplicatedEventStore(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

ReplicatedEventStore::~ReplicatedEventStore() {
    close();
}

void ReplicatedEventStore::receive(std::vector<raft::Message> messages) {
    impl_->receive(std::move(messages));
}

void ReplicatedEventStore::report_unreachable(raft::NodeId peer) {
    impl_->report_unreachable(peer);
}

ClusterView ReplicatedEventStore::cluster_view() const {
    return impl_->view();
}

void ReplicatedEventStore::add_learner(raft::NodeId id, std::string address, AdminCallback done) {
    impl_->admin(Impl::AdminKind::AddLearner, id, std::move(address), std::move(done));
}

void ReplicatedEventStore::promote(raft::NodeId id, AdminCallback done) {
    impl_->admin(Impl::AdminKind::Promote, id, {}, std::move(done));
}

void ReplicatedEventStore::remove_member(raft::NodeId id, AdminCallback done) {
    impl_->admin(Impl::AdminKind::Remove, id, {}, std::move(done));
}

void ReplicatedEventStore::transfer_leadership(raft::NodeId target, AdminCallback done) {
    impl_->admin(Impl::AdminKind::Transfer, target, {}, std::move(done));
}

bool ReplicatedEventStore::hand_off_leadership(std::chrono::milliseconds timeout) {
    const auto deadline = Clock::now() + timeout;
    if (cluster_view().leader != impl_->self()) {
        return true;
    }
    auto finished = std::make_shared<std::promise<AdminResult>>();
    std::future<AdminResult> outcome = finished->get_future();
    transfer_leadership(raft::kNoNode,
                        [finished](AdminResult result) { finished->set_value(std::move(result)); });
    if (outcome.wait_until(deadline) == std::future_status::ready &&
        outcome.get().status != AdminResult::Status::Ok) {
        return cluster_view().leader != impl_->self();
    }
    while (cluster_view().leader == impl_->self() && Clock::now() < deadline) {
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    return cluster_view().leader != impl_->self();
}

std::string ReplicatedEventStore::log_digest(std::uint64_t upto_position) const {
    const std::uint64_t upto = upto_position == 0 ? head_position() : upto_position;
    std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
    if (!ctx || EVP_DigestInit_ex(ctx.get(), EVP_sha256(), nullptr) != 1) {
        return "error: no SHA-256";
    }
    std::string record;
    std::uint64_t next = 1;
    while (next <= upto) {
        const auto read = impl_->tables().read_all(next, storage::Direction::Forwards, 1000);
        if (read.status != storage::ReadStatus::Ok) {
            return "error: " + read.message;
        }
        if (read.events.empty()) {
            break;
        }
        for (const storage::StoredEvent& event : read.events) {
            if (event.position > upto) {
                next = upto + 1;
                break;
            }
            record.clear();
            storage::put_u64_be(record, event.position);
            storage::put_u64_be(record, event.version);
            put_field(record, event.id);
            put_field(record, event.stream);
            put_field(record, event.type);
            storage::put_u64_be(record, static_cast<std::uint64_t>(event.timestamp_us));
            record.push_back(event.data_is_json ? 1 : 0);
            put_field(record, event.data);
            put_field(record, event.metadata);
            EVP_DigestUpdate(ctx.get(), record.data(), record.size());
            next = event.position + 1;
        }
    }
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int size = 0;
    EVP_DigestFinal_ex(ctx.get(), digest, &size);
    static constexpr char kHex[] = "0123456789abcdef";
    std::string hex;
    for (unsigned int i = 0; i < size; ++i) {
        hex.push_back(kHex[digest[i] >> 4]);
        hex.push_back(kHex[digest[i] & 0xF]);
    }
    return hex;
}

void ReplicatedEventStore::append(storage::AppendRequest request, AppendCallback done) {
    impl_->append(std::move(request), std::move(done));
}

storage::ReadResult ReplicatedEventStore::read_stream(const std::string& stream,
                                                      std::uint64_t from_version,
                                                      storage::Direction direction,
                                                      std::size_t limit) const {
    return impl_->tables().read_stream(stream, from_version, direction, limit);
}

storage::ReadResult ReplicatedEventStore::read_all(std::uint64_t from_position,
                                                   storage::Direction direction,
                                                   std::size_t limit) const {
    return impl_->tables().read_all(from_position, direction, limit);
}

storage::ReadResult ReplicatedEventStore::read_time_range(std::int64_t from_us, std::int64_t to_us,
                                                          std::size_t limit) const {
    return impl_->tables().read_time_range(from_us, to_us, limit);
}

storage::ReadResult ReplicatedEventStore::read_time_range_after(std::int64_t after_us,
                                                                std::uint64_t after_position,
                                                                std::int64_t to_us,
                                                                std::size_t limit) const {
    return impl_->tables().read_time_range_after(after_us, after_position, to_us, limit);
}

std::optional<std::uint64_t> ReplicatedEventStore::stream_version(const std::string& stream) const {
    return impl_->tables().stream_version(stream);
}

std::uint64_t ReplicatedEventStore::head_position() const {
    return impl_->tables().head_position();
}

storage::StoreStats ReplicatedEventStore::stats() const {
    return impl_->tables().stats();
}

std::uint64_t ReplicatedEventStore::add_commit_listener(CommitListener listener) {
    return impl_->tables().add_commit_listener(std::move(listener));
}

void ReplicatedEventStore::remove_commit_listener(std::uint64_t token) {
    impl_->tables().remove_commit_listener(token);
}

void ReplicatedEventStore::read_barrier(storage::ReadBarrierCallback done) {
    impl_->read_barrier(std::move(done));
}

void ReplicatedEventStore::close() {
    impl_->close();
}

storage::RawRecords ReplicatedEventStore::read_raw_records(std::uint64_t after, std::uint64_t upto,
                                                           std::size_t max_bytes) const {
    storage::RawRecords records =
        storage::read_raw_records(impl_->tables().environment(), after, upto, max_bytes);
    impl_->count_records_served(records.records);
    return records;
}

storage::SnapshotTransferStats ReplicatedEventStore::snapshot_transfer_stats() const {
    return impl_->snapshot_stats();
}

LoopTimingStats ReplicatedEventStore::loop_timings() const {
    return impl_->loop_timings();
}

}  // namespace annal::replication
