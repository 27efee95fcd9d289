#include "api/replicated_cluster_admin.hpp"

#include "api/metrics.hpp"
#include "replication/replicated_event_store.hpp"
#include "transport/peer_transport.hpp"
#include "transport/transport_metrics.hpp"

namespace annal::api {
namespace {

AdminOutcome outcome_of(const replication::AdminResult& result) {
    AdminOutcome outcome;
    using From = replication::AdminResult::Status;
    using To = AdminOutcome::Status;
    switch (result.status) {
        case From::Ok:
            outcome.status = To::Ok;
            break;
        case From::NotLeader:
            outcome.status = To::NotLeader;
            break;
        case From::NoLeader:
            outcome.status = To::NoLeader;
            break;
        case From::Refused:
            outcome.status = To::Refused;
            break;
        case From::BadRequest:
            outcome.status = To::BadRequest;
            break;
        case From::Timeout:
            outcome.status = To::Timeout;
            break;
        case From::ShuttingDown:
            outcome.status = To::ShuttingDown;
            break;
    }
    outcome.reason = result.reason;
    outcome.message = result.message;
    outcome.leader_hint = result.leader_hint;
    outcome.leader_id = result.leader_id;
    return outcome;
}

replication::AdminCallback adapt(AdminDone done) {
    return [done = std::move(done)](replication::AdminResult result) { done(outcome_of(result)); };
}

}  // namespace

ReplicatedClusterAdmin::ReplicatedClusterAdmin(std::string cluster_id,
                                               replication::ReplicatedEventStore& store)
    : cluster_id_(std::move(cluster_id)), store_(store) {}

ClusterStatus ReplicatedClusterAdmin::status() const {
    const replication::ClusterView view = store_.cluster_view();
    ClusterStatus status;
    status.self = view.self;
    status.leader = view.leader;
    status.leader_address = view.leader_address;
    status.term = view.term;
    status.role = view.role;
    status.commit_index = view.commit_index;
    status.applied_index = view.applied_index;
    status.last_index = view.last_index;
    status.first_index = view.first_index;
    status.change_pending = view.change_pending;
    for (const auto& member : view.members) {
        status.members.push_back(MemberStatus{member.id, member.address, member.role, member.voter,
                                              member.healthy, member.match_index, member.lag});
    }
    return status;
}

void ReplicatedClusterAdmin::add_learner(std::uint64_t id, std::string address, AdminDone done) {
    store_.add_learner(id, std::move(address), adapt(std::move(done)));
}

void ReplicatedClusterAdmin::promote(std::uint64_t id, AdminDone done) {
    store_.promote(id, adapt(std::move(done)));
}

void ReplicatedClusterAdmin::remove_member(std::uint64_t id, AdminDone done) {
    store_.remove_member(id, adapt(std::move(done)));
}

void ReplicatedClusterAdmin::transfer_leadership(std::uint64_t target, AdminDone done) {
    store_.transfer_leadership(target, adapt(std::move(done)));
}

std::string ReplicatedClusterAdmin::log_digest(std::uint64_t upto) const {
    return store_.log_digest(upto);
}

std::string ReplicatedClusterAdmin::extra_metrics() const {
    std::string text = transport_ == nullptr
                           ? std::string()
                           : transport::render_transport_metrics(transport_->stats());
    const replication::LoopTimingStats timings = store_.loop_timings();
    render_microseconds_histogram(
        timings.input_wait_us, "annal_raft_input_wait_seconds",
        "From the first queued input (append, peer message, read, admin) to the replication "
        "cycle that takes it.",
        text);
    render_microseconds_histogram(timings.persist_us, "annal_raft_persist_seconds",
                                  "One Raft write-ahead log batch: snapshot, new entries and "
                                  "hard state, with its fdatasync.",
                                  text);
    render_microseconds_histogram(timings.apply_commit_us, "annal_raft_apply_commit_seconds",
                                  "One lazy LMDB commit of the entries applied since the last "
                                  "(appends are answered before it).",
                                  text);
    render_microseconds_histogram(timings.propose_to_commit_us,
                                  "annal_raft_propose_to_commit_seconds",
                                  "Leader: from an append queued to its commit learned.", text);
    render_microseconds_histogram(
        timings.commit_to_reply_us, "annal_raft_commit_to_reply_seconds",
        "Leader: from an append's commit learned to its completion (after the apply).", text);
    return text;
}

}  // namespace annal::api
