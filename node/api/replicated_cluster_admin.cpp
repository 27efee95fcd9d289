#include "api/replicated_cluster_admin.hpp"

#include "replication/replicated_event_store.hpp"
#include "transport/peer_transport.hpp"

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
    std::string text;
    if (transport_ == nullptr) {
        return text;
    }
    const transport::TransportStats stats = transport_->stats();
    const auto family = [&text](const char* name, const char* type, const char* help) {
        text.append("# HELP ").append(name).append(" ").append(help).append("\n");
        text.append("# TYPE ").append(name).append(" ").append(type).append("\n");
    };
    const auto per_peer = [&](const char* name, const char* type, const char* help, auto value_of) {
        family(name, type, help);
        for (const auto& peer : stats.peers) {
            text.append(name).append("{peer=\"").append(std::to_string(peer.id)).append("\"} ");
            text.append(std::to_string(value_of(peer))).append("\n");
        }
    };
    using Link = transport::PeerLinkStats;
    per_peer("annal_peer_connected", "gauge", "1 while the outbound peer connection is up",
             [](const Link& p) { return p.connected ? 1 : 0; });
    per_peer("annal_peer_frames_sent_total", "counter", "Frames sent to the peer",
             [](const Link& p) { return p.frames_sent; });
    per_peer("annal_peer_frames_received_total", "counter", "Frames received from the peer",
             [](const Link& p) { return p.frames_received; });
    per_peer("annal_peer_bytes_sent_total", "counter", "Bytes sent to the peer",
             [](const Link& p) { return p.bytes_sent; });
    per_peer("annal_peer_bytes_received_total", "counter", "Bytes received from the peer",
             [](const Link& p) { return p.bytes_received; });
    per_peer("annal_peer_messages_dropped_total", "counter",
             "Messages for the peer dropped (queue full or down; Raft retransmits)",
             [](const Link& p) { return p.messages_dropped; });
    per_peer("annal_peer_connects_total", "counter", "Outbound connections established",
             [](const Link& p) { return p.connects; });
    family("annal_peer_inbound_rejected_total", "counter",
           "Inbound peer connections closed for a bad frame, wrong cluster or no hello");
    text.append("annal_peer_inbound_rejected_total ")
        .append(std::to_string(stats.inbound_rejected))
        .append("\n");
    return text;
}

}  // namespace annal::api
