// What one node says about the Raft group (GET /admin/cluster, the ClusterView of the
// replicated node's admin API), read into a struct so the membership mapping never
// touches raw JSON.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace annal::op {

struct NodeMemberView {
    std::uint64_t id = 0;
    std::string address;
    std::string role;  // leader, follower, learner
    bool voter = false;
    bool healthy = false;  // only the leader's view knows; followers report themselves only
    std::uint64_t match_index = 0;
    std::uint64_t lag = 0;  // the leader's last index minus the member's match index
};

struct NodeClusterView {
    std::uint64_t self = 0;
    std::uint64_t leader = 0;  // 0: no leader known to this node
    std::string leader_address;
    std::uint64_t term = 0;
    std::string role;
    std::uint64_t commit_index = 0;
    std::uint64_t applied_index = 0;
    std::vector<NodeMemberView> members;
};

// Parses the body of GET /admin/cluster. A standalone node ({"mode":"standalone"}), a body
// that is not JSON or lacks self/role/term/members gives nullopt and says why in `error`.
std::optional<NodeClusterView> parse_node_cluster_view(std::string_view body, std::string& error);

}  // namespace annal::op
