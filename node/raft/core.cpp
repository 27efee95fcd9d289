#include "raft/core.hpp"

#include <algorithm>
#include <functional>

#include "raft/codec.hpp"
#include "raft/invariant.hpp"

// Invariants of the algorithm itself; checked unless Config::check_invariants is off.
#define ANNAL_RAFT_INVARIANT(cond, message)                               \
    do {                                                                  \
        if (config_.check_invariants && !(cond)) {                        \
            ::annal::raft::invariant_failed(__FILE__, __LINE__, message); \
        }                                                                 \
    } while (false)

namespace annal::raft {

const char* to_string(Role role) {
    switch (role) {
        case Role::Follower:
            return "follower";
        case Role::PreCandidate:
            return "pre-candidate";
        case Role::Candidate:
            return "candidate";
        case Role::Leader:
            return "leader";
    }
    return "?";
}

const char* to_string(EntryType type) {
    switch (type) {
        case EntryType::Normal:
            return "normal";
        case EntryType::Noop:
            return "noop";
        case EntryType::Config:
            return "config";
    }
    return "?";
}

const char* to_string(MessageType type) {
    switch (type) {
        case MessageType::Append:
            return "Append";
        case MessageType::AppendResponse:
            return "AppendResponse";
        case MessageType::Heartbeat:
            return "Heartbeat";
        case MessageType::HeartbeatResponse:
            return "HeartbeatResponse";
        case MessageType::Vote:
            return "Vote";
        case MessageType::VoteResponse:
            return "VoteResponse";
        case MessageType::PreVote:
            return "PreVote";
        case MessageType::PreVoteResponse:
            return "PreVoteResponse";
        case MessageType::Snapshot:
            return "Snapshot";
        case MessageType::SnapshotResponse:
            return "SnapshotResponse";
        case MessageType::TimeoutNow:
            return "TimeoutNow";
        case MessageType::ReadIndex:
            return "ReadIndex";
        case MessageType::ReadIndexResponse:
            return "ReadIndexResponse";
    }
    return "?";
}

const char* to_string(Refusal refusal) {
    switch (refusal) {
        case Refusal::None:
            return "accepted";
        case Refusal::NotLeader:
            return "not the leader";
        case Refusal::NoLeader:
            return "no leader known";
        case Refusal::TransferInProgress:
            return "leadership transfer in progress";
        case Refusal::ChangePending:
            return "another membership change is not yet committed";
        case Refusal::NoCommitInTerm:
            return "leader has not yet committed an entry of its term";
        case Refusal::UnknownNode:
            return "node is not a member";
        case Refusal::AlreadyMember:
            return "node is already a member";
        case Refusal::NotALearner:
            return "node is not a learner";
        case Refusal::NotAVoter:
            return "node is not a voter";
        case Refusal::WouldLoseQuorum:
            return "change would leave too few active voters for a quorum";
        case Refusal::InvalidNode:
            return "node id 0 is reserved";
    }
    return "?";
}

namespace {

bool is_leader_traffic(MessageType type) {
    return type == MessageType::Append || type == MessageType::Heartbeat ||
           type == MessageType::Snapshot;
}

MessageType response_type(MessageType request) {
    return request == MessageType::PreVote ? MessageType::PreVoteResponse
                                           : MessageType::VoteResponse;
}

Index committed_at_start(const Storage& storage) {
    return std::max(storage.initial_state().commit, storage.snapshot()->meta.index);
}

Index applied_at_start(const Config& config, const Storage& storage) {
    const Index floor = storage.snapshot()->meta.index;
    return std::min(std::max(config.applied, floor), committed_at_start(storage));
}

void insert_sorted(std::vector<NodeId>& ids, NodeId id) {
    ids.insert(std::lower_bound(ids.begin(), ids.end(), id), id);
}

void erase_id(std::vector<NodeId>& ids, NodeId id) {
    ids.erase(std::remove(ids.begin(), ids.end(), id), ids.end());
}

}  // namespace

Core::Core(Config config, const Storage& storage)
    : config_(config),
      storage_(storage),
      log_(storage, committed_at_start(storage), applied_at_start(config, storage)),
      rng_state_(config.seed ^ (config.id * 0x9e3779b97f4a7c15ULL)) {
    ANNAL_RAFT_REQUIRE(config_.id != kNoNode, "node id 0 is reserved");
    ANNAL_RAFT_REQUIRE(config_.election_tick > config_.heartbeat_tick && config_.heartbeat_tick > 0,
                       "election_tick must exceed heartbeat_tick > 0");
    ANNAL_RAFT_REQUIRE(config_.max_inflight_msgs > 0, "max_inflight_msgs must be > 0");
    const HardState hs = storage.initial_state();
    term_ = hs.term;
    vote_ = hs.vote;
    auto snap = storage.snapshot();
    config_history_.emplace_back(snap->meta.index, snap->meta.membership);
    // The membership in force is the latest Config entry in the log, committed or not.
    for (Index lo = storage.first_index(); lo <= storage.last_index();) {
        auto chunk = storage.entries(lo, storage.last_index() + 1, 4u << 20);
        for (const Entry& e : chunk) {
            if (e.type != EntryType::Config)
                continue;
            auto m = decode_membership(e.data);
            ANNAL_RAFT_REQUIRE(m.has_value(), "undecodable Config entry in the stored log");
            config_history_.emplace_back(e.index, std::move(*m));
        }
        lo += chunk.size();
    }
    membership_ = config_history_.back().second;
    handed_out_hard_state_ = hard_state();
    durable_hard_state_ = handed_out_hard_state_;
    become_follower(term_, kNoNode);
    handed_out_soft_state_ = soft_state();
    checked_term_ = term_;
    checked_commit_ = log_.committed();
}

// ---------------------------------------------------------------------------------------
// Roles

bool Core::promotable() const {
    return membership_.is_voter(config_.id) && !log_.pending_snapshot().has_value();
}

bool Core::committed_in_current_term() const {
    return log_.term(log_.committed()) == term_;
}

std::optional<Index> Core::pending_config_index() const {
    const Index latest = config_history_.back().first;
    if (latest > log_.committed())
        return latest;
    return std::nullopt;
}

void Core::reset(Term term) {
    if (term_ != term) {
        term_ = term;
        vote_ = kNoNode;
    }
    leader_ = kNoNode;
    election_elapsed_ = 0;
    heartbeat_elapsed_ = 0;
    reset_randomized_timeout();
    transfer_target_ = kNoNode;
    votes_.clear();
    pending_reads_.clear();
    reads_waiting_for_commit_.clear();
    pending_broadcast_ = false;
    rebuild_progress();
}

void Core::become_follower(Term term, NodeId leader) {
    reset(term);
    leader_ = leader;
    role_ = Role::Follower;
}

void Core::become_pre_candidate() {
    // Pre-vote changes neither term nor vote: a node that cannot win disturbs nobody.
    role_ = Role::PreCandidate;
    votes_.clear();
    leader_ = kNoNode;
}

void Core::become_candidate() {
    reset(term_ + 1);
    vote_ = config_.id;
    role_ = Role::Candidate;
}

void Core::become_leader() {
    ANNAL_RAFT_INVARIANT(role_ == Role::Candidate, "only a candidate becomes leader");
    reset(term_);
    leader_ = config_.id;
    role_ = Role::Leader;
    // Committing an entry of its own term is how a new leader learns which earlier
    // entries are committed (Raft §5.4.2); it is also the errata fix for membership
    // changes and the precondition for serving ReadIndex.
    append_local({Entry{term_, 0, EntryType::Noop, {}}});
}

void Core::start_campaign(CampaignType type) {
    if (!promotable())
        return;
    Term vote_term = 0;
    MessageType request = MessageType::Vote;
    if (type == CampaignType::PreElection) {
        become_pre_candidate();
        vote_term = term_ + 1;
        request = MessageType::PreVote;
    } else {
        become_candidate();
        vote_term = term_;
    }
    if (poll(config_.id, true) > 0) {
        // A single voter wins at once.
        if (type == CampaignType::PreElection) {
            start_campaign(CampaignType::Election);
        } else {
            become_leader();
        }
        return;
    }
    for (NodeId voter : membership_.voters) {
        if (voter == config_.id)
            continue;
        Message m;
        m.type = request;
        m.to = voter;
        m.term = vote_term;
        m.index = log_.last_index();
        m.log_term = log_.last_term();
        m.force = type == CampaignType::Transfer;
        send(std::move(m));
    }
}

int Core::poll(NodeId from, bool granted) {
    votes_.emplace(from, granted);
    std::size_t yes = 0;
    std::size_t no = 0;
    for (NodeId voter : membership_.voters) {
        auto it = votes_.find(voter);
        if (it == votes_.end())
            continue;
        (it->second ? yes : no) += 1;
    }
    const std::size_t quorum = membership_.quorum();
    if (yes >= quorum)
        return 1;
    if (no > membership_.voters.size() - quorum)
        return -1;
    return 0;
}

// ---------------------------------------------------------------------------------------
// Public requests

void Core::tick() {
    if (role_ != Role::Leader) {
        ++election_elapsed_;
        if (promotable() && election_elapsed_ >= randomized_election_timeout_) {
            election_elapsed_ = 0;
            start_campaign(config_.pre_vote ? CampaignType::PreElection : CampaignType::Election);
        }
        check_invariants();
        return;
    }
    ++heartbeat_elapsed_;
    ++election_elapsed_;
    for (auto& [id, pr] : progress_) {
        if (id != config_.id)
            ++pr.inactive_ticks;
    }
    if (election_elapsed_ >= config_.election_tick) {
        election_elapsed_ = 0;
        if (config_.check_quorum) {
            if (!quorum_active()) {
                become_follower(term_, kNoNode);
                check_invariants();
                return;
            }
            for (auto& [id, pr] : progress_)
                pr.recent_active = id == config_.id;
        }
        // A transfer that did not finish within an election timeout is abandoned.
        transfer_target_ = kNoNode;
    }
    for (auto& [id, pr] : progress_) {
        if (pr.state != ProgressState::Snapshot || pr.snapshot_sent <= pr.snapshot_acked)
            continue;
        if (++pr.snapshot_idle_ticks >= config_.snapshot_resend_ticks) {
            // The chunk or its acknowledgement was lost: resume from what the follower has.
            send_snapshot_chunk(id, pr);
        }
    }
    if (heartbeat_elapsed_ >= config_.heartbeat_tick) {
        heartbeat_elapsed_ = 0;
        broadcast_heartbeat();
    }
    check_invariants();
}

void Core::campaign() {
    if (role_ == Role::Leader)
        return;
    start_campaign(config_.pre_vote ? CampaignType::PreElection : CampaignType::Election);
    check_invariants();
}

ProposeResult Core::propose(std::string data) {
    ProposeResult result;
    result.leader_hint = leader_;
    if (role_ != Role::Leader) {
        result.refusal = Refusal::NotLeader;
        return result;
    }
    if (transfer_target_ != kNoNode) {
        result.refusal = Refusal::TransferInProgress;
        return result;
    }
    append_local({Entry{term_, 0, EntryType::Normal, std::move(data)}});
    result.index = log_.last_index();
    result.term = term_;
    return result;
}

ProposeResult Core::propose_conf_change(const ConfChange& change) {
    ProposeResult result;
    result.leader_hint = leader_;
    auto refuse = [&](Refusal r) {
        result.refusal = r;
        return result;
    };
    if (role_ != Role::Leader)
        return refuse(Refusal::NotLeader);
    if (change.node == kNoNode)
        return refuse(Refusal::InvalidNode);
    if (transfer_target_ != kNoNode)
        return refuse(Refusal::TransferInProgress);
    // Raft errata (2015): a leader must commit an entry of its own term before changing
    // membership, or two single-server changes proposed by successive leaders could
    // produce disjoint majorities.
    if (!committed_in_current_term())
        return refuse(Refusal::NoCommitInTerm);
    // One change at a time: each configuration differs from the one before it by a single
    // server, so any majority of the old and any majority of the new one intersect.
    if (pending_config_index())
        return refuse(Refusal::ChangePending);
    Membership next = membership_;
    switch (change.type) {
        case ConfChangeType::AddLearner:
            if (next.contains(change.node))
                return refuse(Refusal::AlreadyMember);
            insert_sorted(next.learners, change.node);
            break;
        case ConfChangeType::PromoteLearner:
            if (!next.is_learner(change.node))
                return refuse(Refusal::NotALearner);
            erase_id(next.learners, change.node);
            insert_sorted(next.voters, change.node);
            break;
        case ConfChangeType::RemoveNode: {
            if (!next.contains(change.node))
                return refuse(Refusal::UnknownNode);
            const bool was_voter = next.is_voter(change.node);
            erase_id(next.learners, change.node);
            erase_id(next.voters, change.node);
            if (was_voter) {
                std::size_t active = 0;
                for (NodeId v : next.voters) {
                    auto it = progress_.find(v);
                    if (v == config_.id || (it != progress_.end() &&
                                            it->second.inactive_ticks < config_.election_tick)) {
                        ++active;
                    }
                }
                if (next.voters.empty() || active < next.quorum()) {
                    return refuse(Refusal::WouldLoseQuorum);
                }
            }
            break;
        }
    }
    append_local({Entry{term_, 0, EntryType::Config, encode(next)}});
    result.index = log_.last_index();
    result.term = term_;
    check_invariants();
    return result;
}

Refusal Core::read_index(std::string context) {
    if (role_ == Role::Leader) {
        handle_read_request(std::move(context), config_.id);
        return Refusal::None;
    }
    if (leader_ == kNoNode)
        return Refusal::NoLeader;
    Message m;
    m.type = MessageType::ReadIndex;
    m.to = leader_;
    m.context = std::move(context);
    send(std::move(m));
    return Refusal::None;
}

Refusal Core::transfer_leadership(NodeId target) {
    if (role_ != Role::Leader)
        return Refusal::NotLeader;
    if (target == config_.id)
        return Refusal::None;
    if (!membership_.is_voter(target))
        return Refusal::NotAVoter;
    if (transfer_target_ == target)
        return Refusal::None;
    transfer_target_ = target;
    // The transfer gets one election timeout to complete.
    election_elapsed_ = 0;
    Progress& pr = progress_.at(target);
    if (pr.match == log_.last_index()) {
        Message m;
        m.type = MessageType::TimeoutNow;
        m.to = target;
        send(std::move(m));
    } else {
        send_append(target);
    }
    return Refusal::None;
}

void Core::report_unreachable(NodeId peer) {
    if (role_ != Role::Leader)
        return;
    auto it = progress_.find(peer);
    if (it != progress_.end() && it->second.state == ProgressState::Replicate) {
        it->second.become_probe();
    }
}

// ---------------------------------------------------------------------------------------
// Messages

bool Core::step(const Message& m) {
    if (m.group != config_.group || m.to != config_.id)
        return false;
    const bool vote_request = m.type == MessageType::Vote || m.type == MessageType::PreVote;
    if (m.term > term_) {
        if (vote_request) {
            // Within the leader lease a healthy leader exists: a candidate asking for a
            // higher term is disruptive (e.g. a removed or partitioned node), ignore it.
            const bool in_lease = config_.check_quorum && leader_ != kNoNode &&
                                  election_elapsed_ < config_.election_tick;
            if (!m.force && in_lease)
                return true;
        }
        if (m.type == MessageType::PreVote) {
            // A pre-vote never changes our term.
        } else if (m.type == MessageType::PreVoteResponse && !m.reject) {
            // Granted at the term we would campaign for; counted below.
        } else {
            become_follower(m.term, is_leader_traffic(m.type) ? m.from : kNoNode);
        }
    } else if (m.term < term_) {
        if ((config_.check_quorum || config_.pre_vote) && is_leader_traffic(m.type)) {
            // A stale leader (e.g. after a partition heals) learns our term and steps down;
            // without this, pre-vote could leave it and us stuck in different terms.
            Message reply;
            reply.type = MessageType::AppendResponse;
            reply.to = m.from;
            send(std::move(reply));
        } else if (m.type == MessageType::PreVote) {
            Message reply;
            reply.type = MessageType::PreVoteResponse;
            reply.to = m.from;
            reply.reject = true;
            send(std::move(reply));
        }
        return true;
    }

    if (vote_request) {
        handle_vote_request(m);
    } else {
        switch (role_) {
            case Role::Leader:
                step_leader(m);
                break;
            case Role::PreCandidate:
            case Role::Candidate:
                step_candidate(m);
                break;
            case Role::Follower:
                step_follower(m);
                break;
        }
    }
    check_invariants();
    return true;
}

void Core::handle_vote_request(const Message& m) {
    const bool can_vote = vote_ == m.from || (vote_ == kNoNode && leader_ == kNoNode) ||
                          (m.type == MessageType::PreVote && m.term > term_);
    Message reply;
    reply.type = response_type(m.type);
    reply.to = m.from;
    if (can_vote && log_.is_up_to_date(m.index, m.log_term)) {
        reply.term = m.term;
        if (m.type == MessageType::Vote) {
            election_elapsed_ = 0;
            vote_ = m.from;
        }
    } else {
        reply.term = term_;
        reply.reject = true;
    }
    send(std::move(reply));
}

void Core::step_leader(const Message& m) {
    switch (m.type) {
        case MessageType::AppendResponse:
            handle_append_response(m);
            break;
        case MessageType::HeartbeatResponse:
            handle_heartbeat_response(m);
            break;
        case MessageType::SnapshotResponse:
            handle_snapshot_response(m);
            break;
        case MessageType::ReadIndex:
            handle_read_request(m.context, m.from);
            break;
        case MessageType::Append:
        case MessageType::Heartbeat:
        case MessageType::Snapshot:
            ANNAL_RAFT_INVARIANT(false, "two leaders in one term");
            break;
        default:
            break;
    }
}

void Core::step_candidate(const Message& m) {
    switch (m.type) {
        case MessageType::Append:
            become_follower(m.term, m.from);
            handle_append(m);
            break;
        case MessageType::Heartbeat:
            become_follower(m.term, m.from);
            handle_heartbeat(m);
            break;
        case MessageType::Snapshot:
            become_follower(m.term, m.from);
            handle_snapshot_chunk(m);
            break;
        case MessageType::VoteResponse:
        case MessageType::PreVoteResponse: {
            const bool pre = m.type == MessageType::PreVoteResponse;
            if (pre != (role_ == Role::PreCandidate))
                break;
            const int result = poll(m.from, !m.reject);
            if (result > 0) {
                if (pre) {
                    start_campaign(CampaignType::Election);
                } else {
                    become_leader();
                }
            } else if (result < 0) {
                become_follower(term_, kNoNode);
            }
            break;
        }
        default:
            break;
    }
}

void Core::step_follower(const Message& m) {
    switch (m.type) {
        case MessageType::Append:
        case MessageType::Heartbeat:
        case MessageType::Snapshot:
            ANNAL_RAFT_INVARIANT(leader_ == kNoNode || leader_ == m.from,
                                 "two leaders in one term");
            election_elapsed_ = 0;
            leader_ = m.from;
            if (m.type == MessageType::Append) {
                handle_append(m);
            } else if (m.type == MessageType::Heartbeat) {
                handle_heartbeat(m);
            } else {
                handle_snapshot_chunk(m);
            }
            break;
        case MessageType::TimeoutNow:
            start_campaign(CampaignType::Transfer);
            break;
        case MessageType::ReadIndexResponse:
            read_states_.push_back(ReadState{m.index, m.context});
            break;
        default:
            break;
    }
}

void Core::handle_append(const Message& m) {
    Message reply;
    reply.type = MessageType::AppendResponse;
    reply.to = m.from;
    if (m.index < log_.committed()) {
        reply.index = log_.committed();
        send(std::move(reply));
        return;
    }
    Index truncated_from = 0;
    auto last_new = log_.maybe_append(m.index, m.log_term, m.entries, truncated_from);
    if (last_new) {
        log_changed(truncated_from, m.entries);
        log_.commit_to(std::min(m.commit, *last_new));
        reply.index = *last_new;
    } else {
        const Index hint =
            log_.find_conflict_by_term(std::min(m.index, log_.last_index()), m.log_term);
        reply.reject = true;
        reply.index = m.index;
        reply.reject_hint = hint;
        reply.log_term = log_.term(hint).value_or(0);
    }
    send(std::move(reply));
}

void Core::handle_heartbeat(const Message& m) {
    // The leader sends min(our match, its commit), which our log is known to hold.
    log_.commit_to(std::min(m.commit, log_.last_index()));
    Message reply;
    reply.type = MessageType::HeartbeatResponse;
    reply.to = m.from;
    reply.read_seq = m.read_seq;
    send(std::move(reply));
}

void Core::handle_snapshot_chunk(const Message& m) {
    Message reply;
    reply.type = MessageType::SnapshotResponse;
    reply.to = m.from;
    reply.index = m.snapshot.index;
    if (m.snapshot.index <= log_.committed()) {
        // Already covered by our log: tell the leader we are done with it.
        incoming_snapshot_.reset();
        reply.snapshot_offset = m.snapshot_size;
        send(std::move(reply));
        return;
    }
    if (m.snapshot_offset == 0) {
        incoming_snapshot_ = IncomingSnapshot{m.snapshot, m.snapshot_size, {}};
    }
    const bool continues = incoming_snapshot_ && incoming_snapshot_->meta == m.snapshot &&
                           incoming_snapshot_->size == m.snapshot_size &&
                           incoming_snapshot_->data.size() == m.snapshot_offset &&
                           m.snapshot_offset + m.snapshot_chunk.size() <= m.snapshot_size;
    if (!continues) {
        // Out of order or from another snapshot: tell the leader where to resume.
        const bool same = incoming_snapshot_ && incoming_snapshot_->meta == m.snapshot &&
                          incoming_snapshot_->size == m.snapshot_size;
        reply.reject = true;
        reply.snapshot_offset = same ? incoming_snapshot_->data.size() : 0;
        send(std::move(reply));
        return;
    }
    incoming_snapshot_->data += m.snapshot_chunk;
    reply.snapshot_offset = incoming_snapshot_->data.size();
    if (incoming_snapshot_->data.size() == incoming_snapshot_->size) {
        Snapshot snap{incoming_snapshot_->meta, std::move(incoming_snapshot_->data)};
        incoming_snapshot_.reset();
        restore(snap);
    }
    send(std::move(reply));
}

bool Core::restore(const Snapshot& snapshot) {
    ANNAL_RAFT_INVARIANT(role_ != Role::Leader, "a leader never installs a snapshot");
    if (snapshot.meta.index <= log_.committed())
        return false;
    if (log_.match_term(snapshot.meta.index, snapshot.meta.term)) {
        // Our log already holds the snapshot's last entry: just learn that it is committed.
        log_.commit_to(snapshot.meta.index);
        return false;
    }
    log_.restore(snapshot);
    config_history_.clear();
    config_history_.emplace_back(snapshot.meta.index, snapshot.meta.membership);
    set_membership(snapshot.meta.membership);
    return true;
}

void Core::handle_append_response(const Message& m) {
    auto it = progress_.find(m.from);
    if (it == progress_.end())
        return;
    Progress& pr = it->second;
    pr.recent_active = true;
    pr.inactive_ticks = 0;
    if (m.reject) {
        Index hint = m.reject_hint;
        if (m.log_term > 0)
            hint = log_.find_conflict_by_term(m.reject_hint, m.log_term);
        if (pr.maybe_decrease_to(m.index, hint)) {
            if (pr.state == ProgressState::Replicate)
                pr.become_probe();
            send_append(m.from);
        }
        return;
    }
    const bool was_paused = pr.is_paused(config_.max_inflight_msgs);
    if (!pr.maybe_update(m.index) && !(pr.match == m.index && pr.state == ProgressState::Probe)) {
        return;
    }
    switch (pr.state) {
        case ProgressState::Probe:
            pr.become_replicate();
            break;
        case ProgressState::Snapshot:
            if (pr.match + 1 >= log_.first_index()) {
                pr.become_probe();
                pr.become_replicate();
            }
            break;
        case ProgressState::Replicate:
            pr.free_up_to(m.index);
            break;
    }
    const NodeId from = m.from;
    if (maybe_commit()) {
        if (role_ != Role::Leader)
            return;  // stepped down: removed from the membership
        pending_broadcast_ = true;
    } else if (was_paused) {
        send_append(from);
    }
    auto again = progress_.find(from);
    if (again == progress_.end())
        return;
    while (send_append(from, false)) {
    }
    if (from == transfer_target_ && again->second.match == log_.last_index()) {
        Message now;
        now.type = MessageType::TimeoutNow;
        now.to = from;
        send(std::move(now));
    }
}

void Core::handle_heartbeat_response(const Message& m) {
    auto it = progress_.find(m.from);
    if (it == progress_.end())
        return;
    Progress& pr = it->second;
    pr.recent_active = true;
    pr.inactive_ticks = 0;
    pr.probe_sent = false;
    // A full window may mean Appends were lost: let one more through, which either fills
    // a gap or provokes a rejection that sends us back to probing.
    if (pr.state == ProgressState::Replicate && pr.inflight.size() >= config_.max_inflight_msgs) {
        pr.inflight.pop_front();
    }
    if (pr.match < log_.last_index())
        send_append(m.from);
    if (m.read_seq > pr.read_seq_acked) {
        pr.read_seq_acked = m.read_seq;
        release_reads();
    }
}

void Core::handle_snapshot_response(const Message& m) {
    auto it = progress_.find(m.from);
    if (it == progress_.end())
        return;
    Progress& pr = it->second;
    pr.recent_active = true;
    pr.inactive_ticks = 0;
    if (pr.state != ProgressState::Snapshot || !pr.snapshot || pr.snapshot->meta.index != m.index) {
        return;
    }
    const std::uint64_t size = pr.snapshot->data.size();
    pr.snapshot_idle_ticks = 0;
    if (m.reject) {
        pr.snapshot_acked = std::min<std::uint64_t>(m.snapshot_offset, size);
        send_snapshot_chunk(m.from, pr);
        return;
    }
    pr.snapshot_acked =
        std::max(pr.snapshot_acked, std::min<std::uint64_t>(m.snapshot_offset, size));
    if (pr.snapshot_acked >= size) {
        // Installed and durable (the follower answers after persisting).
        pr.maybe_update(m.index);
        pr.become_probe();
        send_append(m.from);
    } else if (pr.snapshot_sent <= pr.snapshot_acked) {
        send_snapshot_chunk(m.from, pr);
    }
}

// ---------------------------------------------------------------------------------------
// Leader machinery

void Core::send(Message m) {
    m.group = config_.group;
    m.from = config_.id;
    if (m.term == 0)
        m.term = term_;
    // A leader's replication traffic may leave before its own write completes (§10.2.1);
    // everything else (votes, acknowledgements) waits for durability.
    const bool leader_traffic =
        role_ == Role::Leader && (is_leader_traffic(m.type) || m.type == MessageType::TimeoutNow ||
                                  m.type == MessageType::ReadIndexResponse);
    (leader_traffic ? messages_now_ : messages_after_persist_).push_back(std::move(m));
}

bool Core::send_append(NodeId to, bool send_if_empty) {
    auto it = progress_.find(to);
    if (it == progress_.end() || to == config_.id)
        return false;
    Progress& pr = it->second;
    if (pr.is_paused(config_.max_inflight_msgs))
        return false;
    const Index prev_index = pr.next - 1;
    const auto prev_term = log_.term(prev_index);
    std::vector<Entry> entries;
    if (prev_term)
        entries = log_.slice(pr.next, log_.last_index() + 1, config_.max_msg_bytes);
    if (!prev_term || (pr.next <= log_.last_index() && entries.empty())) {
        // What the follower needs was compacted away: send the snapshot instead. Not to
        // a follower that is not answering; it would only waste bandwidth.
        if (!pr.recent_active)
            return false;
        pr.become_snapshot(storage_.snapshot());
        send_snapshot_chunk(to, pr);
        return true;
    }
    if (entries.empty() && !send_if_empty)
        return false;
    Message m;
    m.type = MessageType::Append;
    m.to = to;
    m.index = prev_index;
    m.log_term = *prev_term;
    m.commit = log_.committed();
    const Index last = entries.empty() ? 0 : entries.back().index;
    m.entries = std::move(entries);
    send(std::move(m));
    pr.sent_entries(last);
    return true;
}

void Core::send_snapshot_chunk(NodeId to, Progress& pr) {
    const std::string& data = pr.snapshot->data;
    const std::uint64_t offset = pr.snapshot_acked;
    const std::uint64_t length =
        std::min<std::uint64_t>(config_.max_snapshot_chunk_bytes, data.size() - offset);
    Message m;
    m.type = MessageType::Snapshot;
    m.to = to;
    m.snapshot = pr.snapshot->meta;
    m.snapshot_offset = offset;
    m.snapshot_size = data.size();
    m.snapshot_chunk = data.substr(offset, length);
    pr.snapshot_sent = offset + length;
    pr.snapshot_idle_ticks = 0;
    if (length == 0)
        pr.snapshot_sent = offset + 1;  // an empty snapshot still awaits its ack
    send(std::move(m));
}

void Core::broadcast_append() {
    for (auto& [id, pr] : progress_) {
        if (id == config_.id || !send_append(id))
            continue;
        // Pipelining: fill the follower's window with whatever else is new.
        while (send_append(id, false)) {
        }
    }
}

void Core::broadcast_heartbeat() {
    for (auto& [id, pr] : progress_) {
        if (id == config_.id)
            continue;
        Message m;
        m.type = MessageType::Heartbeat;
        m.to = id;
        m.commit = std::min(pr.match, log_.committed());
        m.read_seq = read_seq_;
        send(std::move(m));
    }
}

bool Core::maybe_commit() {
    if (membership_.voters.empty())
        return false;
    std::vector<Index> matches;
    matches.reserve(membership_.voters.size());
    for (NodeId v : membership_.voters) {
        auto it = progress_.find(v);
        matches.push_back(it == progress_.end() ? 0 : it->second.match);
    }
    std::sort(matches.begin(), matches.end(), std::greater<>());
    std::size_t quorum = membership_.quorum();
    if (config_.bug == BugInjection::CommitOnMinority) {
        quorum = std::max<std::size_t>(1, membership_.voters.size() / 2);
    }
    const Index index = matches[quorum - 1];
    if (index <= log_.committed() || log_.term(index) != term_)
        return false;
    std::size_t holders = 0;
    for (Index match : matches)
        holders += match >= index ? 1 : 0;
    ANNAL_RAFT_INVARIANT(holders >= membership_.quorum(), "commit without a quorum");
    log_.commit_to(index);
    on_commit_advanced();
    return true;
}

void Core::on_commit_advanced() {
    if (role_ != Role::Leader)
        return;
    if (!reads_waiting_for_commit_.empty() && committed_in_current_term()) {
        auto waiting = std::move(reads_waiting_for_commit_);
        reads_waiting_for_commit_.clear();
        for (auto& w : waiting)
            handle_read_request(std::move(w.context), w.requester);
    }
    step_down_if_removed();
}

void Core::step_down_if_removed() {
    if (pending_config_index() || membership_.is_voter(config_.id))
        return;
    // Our removal is committed (dissertation §4.2.2): hand over to the most up-to-date
    // voter so the group does not wait for an election timeout, then step down.
    NodeId best = kNoNode;
    Index best_match = 0;
    for (NodeId v : membership_.voters) {
        auto it = progress_.find(v);
        if (it != progress_.end() && it->second.match >= best_match) {
            best = v;
            best_match = it->second.match;
        }
    }
    if (best != kNoNode && best_match == log_.last_index()) {
        Message m;
        m.type = MessageType::TimeoutNow;
        m.to = best;
        send(std::move(m));
    }
    become_follower(term_, kNoNode);
}

void Core::handle_read_request(std::string context, NodeId requester) {
    if (!committed_in_current_term()) {
        // Until its no-op commits, a new leader does not know the full commit index.
        reads_waiting_for_commit_.push_back(WaitingRead{std::move(context), requester});
        return;
    }
    pending_reads_.push_back(
        PendingRead{std::move(context), log_.committed(), ++read_seq_, requester});
    // One heartbeat round answered by a quorum proves we were still leader at read time.
    broadcast_heartbeat();
    release_reads();
}

void Core::release_reads() {
    if (pending_reads_.empty() || membership_.voters.empty())
        return;
    std::vector<std::uint64_t> acked;
    for (NodeId v : membership_.voters) {
        if (v == config_.id) {
            acked.push_back(read_seq_);
            continue;
        }
        auto it = progress_.find(v);
        acked.push_back(it == progress_.end() ? 0 : it->second.read_seq_acked);
    }
    std::sort(acked.begin(), acked.end(), std::greater<>());
    const std::uint64_t confirmed = acked[membership_.quorum() - 1];
    while (!pending_reads_.empty() && pending_reads_.front().seq <= confirmed) {
        deliver_read(std::move(pending_reads_.front()));
        pending_reads_.pop_front();
    }
}

void Core::deliver_read(PendingRead read) {
    if (read.requester == config_.id) {
        read_states_.push_back(ReadState{read.index, std::move(read.context)});
        return;
    }
    Message m;
    m.type = MessageType::ReadIndexResponse;
    m.to = read.requester;
    m.index = read.index;
    m.context = std::move(read.context);
    send(std::move(m));
}

bool Core::quorum_active() const {
    std::size_t active = 0;
    for (NodeId v : membership_.voters) {
        auto it = progress_.find(v);
        if (v == config_.id || (it != progress_.end() && it->second.recent_active))
            ++active;
    }
    return !membership_.voters.empty() && active >= membership_.quorum();
}

// ---------------------------------------------------------------------------------------
// Log and membership bookkeeping

void Core::append_local(std::vector<Entry> entries) {
    Index next = log_.last_index() + 1;
    for (Entry& e : entries) {
        e.term = term_;
        e.index = next++;
    }
    log_.append(entries);
    log_changed(0, entries);
    pending_broadcast_ = true;
}

void Core::log_changed(Index truncated_from, const std::vector<Entry>& appended) {
    if (truncated_from != 0) {
        ANNAL_RAFT_INVARIANT(role_ != Role::Leader, "a leader never truncates its log");
        ANNAL_RAFT_INVARIANT(config_history_.front().first < truncated_from,
                             "truncation below the snapshot");
        while (config_history_.size() > 1 && config_history_.back().first >= truncated_from) {
            config_history_.pop_back();
        }
    }
    for (const Entry& e : appended) {
        if (e.type != EntryType::Config || e.index <= config_history_.back().first)
            continue;
        auto m = decode_membership(e.data);
        ANNAL_RAFT_REQUIRE(m.has_value(), "undecodable Config entry");
        config_history_.emplace_back(e.index, std::move(*m));
    }
    if (config_history_.back().second != membership_)
        set_membership(config_history_.back().second);
}

void Core::set_membership(const Membership& membership) {
    membership_ = membership;
    if (transfer_target_ != kNoNode && !membership_.is_voter(transfer_target_)) {
        transfer_target_ = kNoNode;
    }
    if (role_ != Role::Leader)
        return;
    for (auto it = progress_.begin(); it != progress_.end();) {
        it = membership_.contains(it->first) ? std::next(it) : progress_.erase(it);
    }
    auto add = [&](NodeId id) {
        auto [it, inserted] = progress_.try_emplace(id);
        if (inserted) {
            it->second.next = log_.last_index() + 1;
            it->second.recent_active = true;
        }
        it->second.learner = membership_.is_learner(id);
    };
    for (NodeId v : membership_.voters)
        add(v);
    for (NodeId l : membership_.learners)
        add(l);
}

void Core::rebuild_progress() {
    progress_.clear();
    auto add = [&](NodeId id, bool learner) {
        Progress& pr = progress_[id];
        pr.next = log_.last_index() + 1;
        pr.learner = learner;
        if (id == config_.id) {
            pr.match = log_.durable_last_index();
            pr.recent_active = true;
            pr.state = ProgressState::Replicate;
        }
    };
    for (NodeId v : membership_.voters)
        add(v, false);
    for (NodeId l : membership_.learners)
        add(l, true);
}

Membership Core::membership_at(Index index) const {
    for (auto it = config_history_.rbegin(); it != config_history_.rend(); ++it) {
        if (it->first <= index)
            return it->second;
    }
    return config_history_.front().second;
}

std::uint64_t Core::next_random() {
    // splitmix64: tiny, well mixed, and identical on every platform.
    std::uint64_t z = (rng_state_ += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

void Core::reset_randomized_timeout() {
    const auto span = static_cast<std::uint64_t>(config_.election_tick);
    randomized_election_timeout_ = config_.election_tick + static_cast<int>(next_random() % span);
}

// ---------------------------------------------------------------------------------------
// Ready / advance

bool Core::has_ready() const {
    return pending_broadcast_ || !messages_now_.empty() || !messages_after_persist_.empty() ||
           hard_state() != handed_out_hard_state_ || soft_state() != handed_out_soft_state_ ||
           log_.has_entries_to_persist() || log_.has_snapshot_to_persist() ||
           log_.has_entries_to_apply() || !read_states_.empty();
}

Ready Core::ready() {
    if (pending_broadcast_) {
        pending_broadcast_ = false;
        if (role_ == Role::Leader)
            broadcast_append();
    }
    Ready rd;
    rd.number = next_ready_number_++;
    Outstanding record;
    record.number = rd.number;
    if (soft_state() != handed_out_soft_state_) {
        rd.soft_state = soft_state();
        handed_out_soft_state_ = *rd.soft_state;
    }
    if (log_.has_snapshot_to_persist()) {
        rd.snapshot = log_.take_snapshot_to_persist();
        record.snapshot_index = rd.snapshot->meta.index;
    }
    if (log_.has_entries_to_persist()) {
        rd.entries = log_.take_entries_to_persist();
        record.last_entry = std::make_pair(rd.entries.back().index, rd.entries.back().term);
    }
    if (hard_state() != handed_out_hard_state_) {
        rd.hard_state = hard_state();
        handed_out_hard_state_ = *rd.hard_state;
        record.hard_state = rd.hard_state;
    }
    rd.committed_entries = log_.take_entries_to_apply(config_.max_committed_bytes_per_ready);
    rd.read_states = std::move(read_states_);
    read_states_.clear();
    // Leader traffic may only overtake persistence if our term and vote are already
    // durable; otherwise a crash could let us lead the same term twice.
    if (term_ == durable_hard_state_.term && vote_ == durable_hard_state_.vote) {
        rd.messages = std::move(messages_now_);
    } else {
        for (Message& m : messages_now_)
            messages_after_persist_.push_back(std::move(m));
    }
    messages_now_.clear();
    rd.messages_after_persist = std::move(messages_after_persist_);
    messages_after_persist_.clear();
    outstanding_.push_back(std::move(record));
    return rd;
}

void Core::advance(const Ready& ready) {
    ANNAL_RAFT_REQUIRE(!outstanding_.empty() && outstanding_.front().number == ready.number,
                       "Readys must be advanced once each, in the order they were handed out");
    Outstanding record = std::move(outstanding_.front());
    outstanding_.pop_front();
    if (record.snapshot_index)
        log_.stable_snapshot_to(*record.snapshot_index);
    if (record.last_entry)
        log_.stable_to(record.last_entry->first, record.last_entry->second);
    if (record.hard_state)
        durable_hard_state_ = *record.hard_state;
    if (role_ == Role::Leader) {
        // The leader counts itself towards a quorum only for entries it has made durable.
        auto self = progress_.find(config_.id);
        if (self != progress_.end() && self->second.maybe_update(log_.durable_last_index())) {
            if (maybe_commit() && role_ == Role::Leader)
                pending_broadcast_ = true;
        }
    }
    check_invariants();
}

// ---------------------------------------------------------------------------------------
// Status and invariants

Status Core::status() const {
    Status s;
    s.id = config_.id;
    s.group = config_.group;
    s.role = role_;
    s.term = term_;
    s.vote = vote_;
    s.leader = leader_;
    s.commit = log_.committed();
    s.applied = log_.applied();
    s.first_index = log_.first_index();
    s.last_index = log_.last_index();
    s.membership = membership_;
    s.transfer_target = transfer_target_;
    if (role_ == Role::Leader) {
        for (const auto& [id, pr] : progress_) {
            s.peers[id] = PeerStatus{pr.match, pr.next, pr.state, pr.recent_active, pr.learner};
        }
    }
    return s;
}

void Core::check_invariants() const {
    if (!config_.check_invariants)
        return;
    ANNAL_RAFT_INVARIANT(term_ >= checked_term_, "term went backwards");
    ANNAL_RAFT_INVARIANT(log_.committed() >= checked_commit_, "commit index went backwards");
    checked_term_ = term_;
    checked_commit_ = log_.committed();
    ANNAL_RAFT_INVARIANT(log_.committed() <= log_.last_index(), "commit beyond the log");
    ANNAL_RAFT_INVARIANT(log_.applied() <= log_.committed(), "applied beyond commit");
    ANNAL_RAFT_INVARIANT(log_.first_index() <= log_.committed() + 1, "committed entries missing");
    ANNAL_RAFT_INVARIANT(!config_history_.empty(), "no membership");
    ANNAL_RAFT_INVARIANT(config_history_.back().second == membership_,
                         "membership is not the latest in the log");
    if (role_ == Role::Leader || role_ == Role::Candidate) {
        ANNAL_RAFT_INVARIANT(vote_ == config_.id, "leader or candidate without its own vote");
    }
    if (role_ == Role::Leader) {
        ANNAL_RAFT_INVARIANT(leader_ == config_.id, "leader does not know it leads");
        for (const auto& [id, pr] : progress_) {
            ANNAL_RAFT_INVARIANT(pr.match < pr.next, "progress match >= next");
            ANNAL_RAFT_INVARIANT(pr.match <= log_.last_index() || id != config_.id,
                                 "leader's own match beyond its log");
        }
    }
}

}  // namespace annal::raft
