#pragma once
// The Raft core: one replica of one Raft group as a deterministic state machine.
//
// It does no I/O. Time enters through tick(), peer messages through step(), requests
// through propose()/read_index()/transfer_leadership()/propose_conf_change(). Everything
// the application must do in response leaves through ready() as one batch, acknowledged
// with advance(). Given the same Config (including seed), storage contents and sequence of
// calls, it behaves identically on every run and platform.
//
// Threading: none. The owner serializes all calls (one strand per group in the node).

#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "raft/config.hpp"
#include "raft/message.hpp"
#include "raft/progress.hpp"
#include "raft/raft_log.hpp"
#include "raft/ready.hpp"
#include "raft/storage.hpp"
#include "raft/types.hpp"

namespace annal::raft {

// Why a request was refused. Requests are refused, never queued, so the caller can retry
// elsewhere (e.g. at the leader) or report the reason to a user.
enum class Refusal : std::uint8_t {
    None = 0,
    NotLeader,           // only the leader accepts this; see leader_hint
    NoLeader,            // a follower cannot forward a read: no leader known
    TransferInProgress,  // the leader is handing over and accepts no new writes
    ChangePending,       // a membership change is in the log but not yet committed
    NoCommitInTerm,      // the new leader has not yet committed an entry of its term
    UnknownNode,         // the node is not a member
    AlreadyMember,       // the node is already a member
    NotALearner,         // only learners can be promoted
    NotAVoter,           // leadership can only go to a voter
    WouldLoseQuorum,     // after the change, too few recently active voters would remain
    InvalidNode,         // node id 0
};

const char* to_string(Refusal refusal);

struct ProposeResult {
    Refusal refusal = Refusal::None;
    Index index = 0;  // where the entry was appended (if accepted)
    Term term = 0;
    NodeId leader_hint = kNoNode;

    bool accepted() const { return refusal == Refusal::None; }
};

struct PeerStatus {
    Index match = 0;
    Index next = 0;
    ProgressState state = ProgressState::Probe;
    bool recent_active = false;
    bool learner = false;
};

struct Status {
    NodeId id = kNoNode;
    GroupId group = 0;
    Role role = Role::Follower;
    Term term = 0;
    NodeId vote = kNoNode;
    NodeId leader = kNoNode;
    Index commit = 0;
    Index applied = 0;
    Index first_index = 0;
    Index last_index = 0;
    Membership membership;
    NodeId transfer_target = kNoNode;
    std::map<NodeId, PeerStatus> peers;  // leader only
};

class Core {
  public:
    // Restores from storage: hard state, latest snapshot, and the membership in force
    // (the snapshot's, overridden by any Config entry in the stored log).
    Core(Config config, const Storage& storage);

    // Advances logical time by one tick.
    void tick();
    // Feeds a message from a peer. Returns false (and does nothing) if it is addressed to
    // another group or node.
    bool step(const Message& message);

    ProposeResult propose(std::string data);
    ProposeResult propose_conf_change(const ConfChange& change);
    // Requests a linearizable read point; the answer arrives as a ReadState carrying
    // `context` in a later Ready (or never, if leadership changes: retry on timeout).
    Refusal read_index(std::string context);
    Refusal transfer_leadership(NodeId target);
    // Starts an election now (tests and bootstrap of a single-node group).
    void campaign();
    // The transport could not deliver to `peer`: stop pipelining to it and probe instead.
    void report_unreachable(NodeId peer);

    bool has_ready() const;
    Ready ready();
    // Reports that `ready` (the oldest not yet advanced) is durable: its snapshot, entries
    // and hard state are on stable storage. Readys may be outstanding several at a time
    // (slow disk); they must be persisted and advanced in order.
    void advance(const Ready& ready);

    // Membership in force at `index` (>= the oldest snapshot the core knows); what the
    // application stores in the metadata of a snapshot it takes at `index`.
    Membership membership_at(Index index) const;

    NodeId id() const { return config_.id; }
    GroupId group() const { return config_.group; }
    Role role() const { return role_; }
    Term term() const { return term_; }
    NodeId leader() const { return leader_; }
    Index commit_index() const { return log_.committed(); }
    Index last_index() const { return log_.last_index(); }
    const Membership& membership() const { return membership_; }
    Status status() const;
    // The core's log, read-only (for checkers and status pages).
    const RaftLog& log() const { return log_; }

  private:
    enum class CampaignType { PreElection, Election, Transfer };
    struct PendingRead {
        std::string context;
        Index index = 0;
        std::uint64_t seq = 0;
        NodeId requester = kNoNode;
    };
    struct WaitingRead {
        std::string context;
        NodeId requester = kNoNode;
    };
    struct Outstanding {
        std::uint64_t number = 0;
        std::optional<Index> snapshot_index;
        std::optional<std::pair<Index, Term>> last_entry;
        std::optional<HardState> hard_state;
    };
    struct IncomingSnapshot {
        SnapshotMeta meta;
        std::uint64_t size = 0;
        std::string data;
    };

    HardState hard_state() const { return HardState{term_, vote_, log_.committed()}; }
    SoftState soft_state() const { return SoftState{leader_, role_}; }
    bool promotable() const;
    bool committed_in_current_term() const;
    std::optional<Index> pending_config_index() const;

    void reset(Term term);
    void become_follower(Term term, NodeId leader);
    void become_pre_candidate();
    void become_candidate();
    void become_leader();
    void start_campaign(CampaignType type);
    // Records a vote; returns +1 won, -1 lost, 0 pending.
    int poll(NodeId from, bool granted);

    void step_leader(const Message& m);
    void step_candidate(const Message& m);
    void step_follower(const Message& m);
    void handle_vote_request(const Message& m);
    void handle_append(const Message& m);
    void handle_heartbeat(const Message& m);
    void handle_snapshot_chunk(const Message& m);
    void handle_append_response(const Message& m);
    void handle_snapshot_response(const Message& m);
    void handle_heartbeat_response(const Message& m);
    void handle_read_request(std::string context, NodeId requester);
    void deliver_read(PendingRead read);
    void step_down_if_removed();

    void send(Message m);
    bool send_append(NodeId to, bool send_if_empty = true);
    void send_snapshot_chunk(NodeId to, Progress& pr);
    void broadcast_append();
    void broadcast_heartbeat();
    bool maybe_commit();
    void on_commit_advanced();
    void release_reads();
    bool restore(const Snapshot& snapshot);
    bool quorum_active() const;

    void append_local(std::vector<Entry> entries);
    void log_changed(Index truncated_from, const std::vector<Entry>& appended);
    void set_membership(const Membership& membership);
    void rebuild_progress();
    std::uint64_t next_random();
    void reset_randomized_timeout();
    void check_invariants() const;

    Config config_;
    const Storage& storage_;
    RaftLog log_;
    std::uint64_t rng_state_;

    Term term_ = 0;
    NodeId vote_ = kNoNode;
    NodeId leader_ = kNoNode;
    Role role_ = Role::Follower;
    Membership membership_;
    // (index, membership) for the snapshot base and every Config entry after it.
    std::vector<std::pair<Index, Membership>> config_history_;
    std::map<NodeId, Progress> progress_;
    std::map<NodeId, bool> votes_;

    int election_elapsed_ = 0;
    int heartbeat_elapsed_ = 0;
    int randomized_election_timeout_ = 0;
    NodeId transfer_target_ = kNoNode;
    int transfer_elapsed_ = 0;

    std::uint64_t read_seq_ = 0;
    std::deque<PendingRead> pending_reads_;
    std::vector<WaitingRead> reads_waiting_for_commit_;
    std::vector<ReadState> read_states_;

    std::optional<IncomingSnapshot> incoming_snapshot_;

    // Proposals and commit advances since the last ready(): one Append per follower then.
    bool pending_broadcast_ = false;
    std::vector<Message> messages_now_;
    std::vector<Message> messages_after_persist_;
    HardState handed_out_hard_state_;
    HardState durable_hard_state_;
    SoftState handed_out_soft_state_;
    std::uint64_t next_ready_number_ = 1;
    std::deque<Outstanding> outstanding_;

    // For invariant checks: values that must never decrease.
    mutable Term checked_term_ = 0;
    mutable Index checked_commit_ = 0;
};

}  // namespace annal::raft
