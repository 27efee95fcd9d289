// What status an AnnalCluster gets, from what the reconciler observed: a pure function.
#pragma once

#include <nlohmann/json.hpp>

#include <optional>
#include <string>
#include <vector>

#include "op/cluster_spec.hpp"

namespace annal::op {

struct MemberStatus {
    std::string name;
    std::string id;
    std::string role;  // leader, follower, learner
    bool healthy = false;
    std::uint64_t lag = 0;  // entries behind the leader
};

struct MembershipView {
    std::vector<MemberStatus> members;
    std::string leader;   // pod name; empty when no leader is known
    std::string problem;  // why the leader is unknown (for the conditions); empty otherwise
};

// Where status.members and status.leader come from: HttpMembershipSource asks the nodes'
// admin API (op/http_membership_source.hpp); nullopt means "not observed" and leaves
// status.members empty without affecting the conditions.
class MembershipSource {
  public:
    virtual ~MembershipSource() = default;
    virtual std::optional<MembershipView> view(const ClusterSpec& cluster) = 0;
};

class NoMembershipSource final : public MembershipSource {
  public:
    std::optional<MembershipView> view(const ClusterSpec&) override { return std::nullopt; }
};

struct Observation {
    nlohmann::json stateful_set;  // null if it does not exist (yet)
    std::string reconcile_error;  // what failed this round, empty if nothing
    std::string reconcile_error_reason = "ReconcileFailed";
    std::optional<MembershipView> membership;
};

// The full status object. `previous` is the current status (for lastTransitionTime).
nlohmann::json compute_status(const ClusterSpec& c, const Observation& observed,
                              const nlohmann::json& previous, const std::string& now);

}  // namespace annal::op
