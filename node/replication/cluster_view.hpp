// What the replicated store tells admins about the cluster, and how admin requests end.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "raft/types.hpp"

namespace annal::replication {

struct PeerDirectoryEntry {
    raft::NodeId id = raft::kNoNode;
    std::string address;  // "host:port"
};

struct MemberView {
    raft::NodeId id = raft::kNoNode;
    std::string address;
    std::string role;  // "leader" "follower" "learner"
    bool voter = false;
    // On the leader: heard from within an election timeout. Elsewhere only this node and
    // the leader it follows are known to be healthy; the others are reported false.
    bool healthy = false;
    std::uint64_t match_index = 0;  // leader only (this node: its last index)
    std::uint64_t lag = 0;          // leader only: leader's last index - match
};

struct ClusterView {
    raft::NodeId self = raft::kNoNode;
    raft::NodeId leader = raft::kNoNode;
    std::string leader_address;
    std::uint64_t term = 0;
    std::string role;  // "leader" "follower" "candidate" "learner"
    std::uint64_t commit_index = 0;
    std::uint64_t applied_index = 0;
    std::uint64_t last_index = 0;
    std::uint64_t first_index = 0;
    std::vector<MemberView> members;
    bool change_pending = false;
};

struct AdminResult {
    enum class Status : std::uint8_t {
        Ok,
        NotLeader,
        NoLeader,
        Refused,
        BadRequest,
        Timeout,
        ShuttingDown
    } status = Status::Ok;
    // Refused: "would_lose_quorum", "change_pending", "unknown_node", "already_member",
    // "not_a_learner", "not_a_voter", "not_caught_up", "transfer_in_progress",
    // "leader_not_ready" (no entry of its term committed yet), "no_candidate".
    std::string reason;
    std::string message;
    std::string leader_hint;
    std::uint64_t leader_id = 0;
};
using AdminCallback = std::function<void(AdminResult)>;

}  // namespace annal::replication
