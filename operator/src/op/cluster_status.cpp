#include "op/cluster_status.hpp"

#include "op/conditions.hpp"
#include "op/desired_objects.hpp"

namespace annal::op {

using nlohmann::json;

json compute_status(const ClusterSpec& c, const Observation& observed, const json& previous,
                    const std::string& now) {
    const json& sts = observed.stateful_set;
    const bool exists = sts.is_object();
    const json sts_status = exists ? sts.value("status", json::object()) : json::object();
    const int current = sts_status.value("replicas", 0);
    const int ready = sts_status.value("readyReplicas", 0);
    const int updated = sts_status.value("updatedReplicas", 0);
    const int sts_spec_replicas = exists ? sts["spec"].value("replicas", 0) : 0;
    const bool sts_observed = exists && sts_status.value("observedGeneration", std::int64_t{0}) >=
                                            sts["metadata"].value("generation", std::int64_t{0});
    const bool revision_current = sts_status.value("currentRevision", std::string()) ==
                                  sts_status.value("updateRevision", std::string());
    const bool rolled_out = exists && sts_observed && sts_spec_replicas == c.replicas &&
                            current == c.replicas && updated == c.replicas && revision_current;
    const int quorum = c.replicas / 2 + 1;
    // Only an observed membership without a leader counts: the source may be switched off.
    const bool leader_unknown = observed.membership && observed.membership->leader.empty();
    const std::string leader_problem =
        leader_unknown ? "no leader: " + observed.membership->problem : std::string();
    std::string unhealthy;  // members the leader reports unhealthy, "a, b"
    if (observed.membership && !leader_unknown) {
        for (const auto& m : observed.membership->members) {
            if (!m.healthy)
                unhealthy += (unhealthy.empty() ? "" : ", ") + m.name;
        }
    }

    json status = {{"replicas", current},
                   {"readyReplicas", ready},
                   {"selector", selector_string(c)},
                   {"observedGeneration", c.generation},
                   {"members", json::array()}};
    if (observed.membership) {
        for (const auto& m : observed.membership->members) {
            status["members"].push_back({{"name", m.name},
                                         {"id", m.id},
                                         {"role", m.role},
                                         {"healthy", m.healthy},
                                         {"lag", m.lag}});
        }
        // Omitted when unknown: the 1.20 API server turns "" into null and then rejects it.
        if (!observed.membership->leader.empty())
            status["leader"] = observed.membership->leader;
    }
    json conditions =
        previous.is_object() ? previous.value("conditions", json::array()) : json::array();
    const auto g = c.generation;
    const std::string counts =
        std::to_string(ready) + "/" + std::to_string(c.replicas) + " members ready";

    // Ready
    if (!exists) {
        conditions = set_condition(
            conditions,
            {"Ready", "False", "StatefulSetMissing", "the StatefulSet does not exist yet", g}, now);
    } else if (ready >= c.replicas && rolled_out && leader_unknown) {
        conditions = set_condition(
            conditions, {"Ready", "False", "LeaderUnknown", counts + ", " + leader_problem, g},
            now);
    } else if (ready >= c.replicas && rolled_out) {
        conditions =
            set_condition(conditions, {"Ready", "True", "AllMembersReady", counts, g}, now);
    } else {
        conditions =
            set_condition(conditions, {"Ready", "False", "MembersNotReady", counts, g}, now);
    }

    // Progressing
    if (c.paused) {
        conditions = set_condition(
            conditions,
            {"Progressing", "False", "Paused",
             "spec.paused is true: the operator changes nothing until it is false", g},
            now);
    } else if (!exists || !rolled_out) {
        const bool scaling = exists && current != c.replicas;
        conditions = set_condition(conditions,
                                   {"Progressing", "True", scaling ? "Scaling" : "RollingOut",
                                    scaling ? "scaling from " + std::to_string(current) + " to " +
                                                  std::to_string(c.replicas) + " pods"
                                            : "waiting for the StatefulSet to roll out: " + counts,
                                    g},
                                   now);
    } else {
        conditions = set_condition(
            conditions, {"Progressing", "False", "RolloutComplete", "all pods are up to date", g},
            now);
    }

    // Degraded
    if (!observed.reconcile_error.empty()) {
        conditions = set_condition(
            conditions,
            {"Degraded", "True", observed.reconcile_error_reason, observed.reconcile_error, g},
            now);
    } else if (exists && rolled_out && ready < quorum) {
        conditions = set_condition(
            conditions,
            {"Degraded", "True", "QuorumUnavailable",
             "fewer than a majority (" + std::to_string(quorum) + ") of members are ready", g},
            now);
    } else if (exists && rolled_out && leader_unknown) {
        conditions = set_condition(conditions,
                                   {"Degraded", "True", "LeaderUnknown", leader_problem, g}, now);
    } else if (exists && rolled_out && ready < c.replicas) {
        conditions =
            set_condition(conditions, {"Degraded", "True", "MembersUnavailable", counts, g}, now);
    } else if (exists && rolled_out && !unhealthy.empty()) {
        conditions = set_condition(
            conditions,
            {"Degraded", "True", "MembersUnhealthy", "unhealthy for the leader: " + unhealthy, g},
            now);
    } else {
        conditions = set_condition(
            conditions, {"Degraded", "False", "AsExpected", "no problem detected", g}, now);
    }
    status["conditions"] = conditions;
    return status;
}

}  // namespace annal::op
