// The seam between the HTTP API and a replicated store: what the admin endpoints,
// /readyz and /metrics need to know and do in cluster mode. node/api depends only on
// this interface; the node runner adapts replication::ReplicatedEventStore to it, so the
// API part builds and is tested without the replication part.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace annal::api {

struct MemberStatus {
    std::uint64_t id = 0;
    std::string address;
    std::string role;  // "leader", "follower", "learner"
    bool voter = false;
    bool healthy = false;
    std::uint64_t match_index = 0;
    std::uint64_t lag = 0;
};

struct ClusterStatus {
    std::uint64_t self = 0;
    std::uint64_t leader = 0;  // 0: no known leader
    std::string leader_address;
    std::uint64_t term = 0;
    std::string role;
    std::uint64_t commit_index = 0;
    std::uint64_t applied_index = 0;
    std::uint64_t last_index = 0;
    std::uint64_t first_index = 0;
    std::vector<MemberStatus> members;
    bool change_pending = false;
};

struct AdminOutcome {
    enum class Status : std::uint8_t {
        Ok,
        NotLeader,
        NoLeader,
        Refused,
        BadRequest,
        Timeout,
        ShuttingDown
    };
    Status status = Status::Ok;
    std::string reason;  // Refused: "would_lose_quorum", "change_pending", ...
    std::string message;
    std::string leader_hint;  // NotLeader: "host:port"
    std::uint64_t leader_id = 0;
};
using AdminDone = std::function<void(AdminOutcome)>;

class ClusterAdmin {
  public:
    virtual ~ClusterAdmin() = default;
    virtual std::string cluster_id() const = 0;
    virtual ClusterStatus status() const = 0;
    // Each calls `done` exactly once, on any thread, when the change is committed or
    // refused; `done` must not block.
    virtual void add_learner(std::uint64_t id, std::string address, AdminDone done) = 0;
    virtual void promote(std::uint64_t id, AdminDone done) = 0;
    virtual void remove_member(std::uint64_t id, AdminDone done) = 0;
    virtual void transfer_leadership(std::uint64_t target, AdminDone done) = 0;  // 0: any
    // Hex digest of the applied events at positions 1..upto (for cross-node comparison).
    virtual std::string log_digest(std::uint64_t upto) const = 0;
    // Extra Prometheus lines (e.g. peer link statistics); may be empty.
    virtual std::string extra_metrics() const = 0;
};

}  // namespace annal::api
