// From what the member pods' nodes answered on GET /admin/cluster to status.members and
// status.leader: a pure function, so every rule (which view wins, how node ids become pod
// names, what an unreachable cluster looks like) is unit-tested without HTTP.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "op/cluster_spec.hpp"
#include "op/cluster_status.hpp"
#include "op/node_cluster_view.hpp"

namespace annal::op {

struct MemberPod {
    std::string name;
    int ordinal = -1;
    std::string ip;  // empty until the pod runs
    bool ready = false;
};

struct NodeAnswer {
    std::string pod;
    std::optional<NodeClusterView> view;
    std::string error;  // why there is no view
};

// Node id N runs in pod NAME-(N-1) (the node derives its id from the operator's
// cluster.yaml as ordinal + 1).
std::string member_pod_name(const ClusterSpec& c, std::uint64_t node_id);
// The ordinal of one of this cluster's pods, -1 for other names.
int member_pod_ordinal(const ClusterSpec& c, const std::string& pod);

// Every member of the leader's view (the only one with health and lag for everyone), every
// existing pod and every ordinal below spec.replicas gets an entry, ordered by id. The
// leader's view is the one of the highest term whose node says it leads; without one, a
// view of that term naming a leader still gives the leader and the roles (health is then
// the pods' readiness, lag unknown = 0). Without either, every entry is unhealthy with
// role "unknown", the leader is empty and `problem` says why.
MembershipView membership_from_answers(const ClusterSpec& c, const std::vector<MemberPod>& pods,
                                       const std::vector<NodeAnswer>& answers);

}  // namespace annal::op
