#include <doctest/doctest.h>

#include "op/cluster_status.hpp"
#include "op/conditions.hpp"

using namespace annal::op;
using nlohmann::json;

namespace {

ClusterSpec three() {
    ClusterSpec c;
    c.name = "demo";
    c.ns = "ns1";
    c.replicas = 3;
    c.generation = 2;
    return c;
}

json sts(int spec_replicas, int current, int ready, int updated, bool same_revision = true) {
    return {{"metadata", {{"generation", 5}}},
            {"spec", {{"replicas", spec_replicas}}},
            {"status",
             {{"observedGeneration", 5},
              {"replicas", current},
              {"readyReplicas", ready},
              {"updatedReplicas", updated},
              {"currentRevision", "r1"},
              {"updateRevision", same_revision ? "r1" : "r2"}}}};
}

std::string cond(const json& status, const char* type, const char* field) {
    return find_condition(status["conditions"], type)[field].get<std::string>();
}

}  // namespace

TEST_CASE("set_condition keeps lastTransitionTime unless the status changes") {
    json list = set_condition(json(), {"Ready", "False", "MembersNotReady", "0/3", 1}, "T1");
    CHECK(find_condition(list, "Ready")["lastTransitionTime"] == "T1");
    list = set_condition(list, {"Ready", "False", "MembersNotReady", "1/3", 2}, "T2");
    CHECK(find_condition(list, "Ready")["lastTransitionTime"] == "T1");
    CHECK(find_condition(list, "Ready")["message"] == "1/3");
    CHECK(find_condition(list, "Ready")["observedGeneration"] == 2);
    list = set_condition(list, {"Ready", "True", "AllMembersReady", "3/3", 2}, "T3");
    CHECK(find_condition(list, "Ready")["lastTransitionTime"] == "T3");
    list = set_condition(list, {"Degraded", "False", "AsExpected", "", 2}, "T4");
    CHECK(list.size() == 2);
    CHECK(find_condition(list, "Missing").is_null());
}

TEST_CASE("first reconcile sets all three conditions") {
    json status = compute_status(three(), {}, json(), "T0");
    CHECK(status["conditions"].size() == 3);
    CHECK(cond(status, "Ready", "status") == "False");
    CHECK(cond(status, "Ready", "reason") == "StatefulSetMissing");
    CHECK(cond(status, "Progressing", "status") == "True");
    CHECK(cond(status, "Degraded", "status") == "False");
    CHECK(status["observedGeneration"] == 2);
    CHECK(status["selector"] == "app.kubernetes.io/instance=demo,app.kubernetes.io/name=annal");
    CHECK(status["members"].empty());
}

TEST_CASE("condition transitions through a rollout") {
    Observation o;
    o.stateful_set = sts(3, 3, 1, 3);
    json s1 = compute_status(three(), o, json(), "T1");
    CHECK(s1["readyReplicas"] == 1);
    CHECK(cond(s1, "Ready", "reason") == "MembersNotReady");
    CHECK(cond(s1, "Degraded", "reason") == "QuorumUnavailable");

    o.stateful_set = sts(3, 3, 3, 3);
    json s2 = compute_status(three(), o, s1, "T2");
    CHECK(cond(s2, "Ready", "status") == "True");
    CHECK(cond(s2, "Ready", "lastTransitionTime") == "T2");
    CHECK(cond(s2, "Progressing", "reason") == "RolloutComplete");
    CHECK(cond(s2, "Degraded", "status") == "False");

    // Scaling to 5: the StatefulSet still has 3 pods.
    ClusterSpec five = three();
    five.replicas = 5;
    o.stateful_set = sts(5, 3, 3, 3);
    json s3 = compute_status(five, o, s2, "T3");
    CHECK(cond(s3, "Progressing", "reason") == "Scaling");
    CHECK(cond(s3, "Ready", "status") == "False");
    CHECK(cond(s3, "Ready", "lastTransitionTime") == "T3");

    // A template change rolling out.
    o.stateful_set = sts(3, 3, 3, 1, false);
    json s4 = compute_status(three(), o, s2, "T4");
    CHECK(cond(s4, "Progressing", "reason") == "RollingOut");
    // An identical observation gives an identical status: no needless status writes.
    CHECK(compute_status(three(), o, s4, "T5") == s4);
}

TEST_CASE("paused, errors and membership are reported") {
    ClusterSpec c = three();
    c.paused = true;
    Observation o;
    o.stateful_set = sts(3, 3, 3, 3);
    json paused = compute_status(c, o, json(), "T");
    CHECK(cond(paused, "Progressing", "reason") == "Paused");
    CHECK(cond(paused, "Progressing", "status") == "False");

    o.reconcile_error = "applying StatefulSet demo: forbidden";
    o.reconcile_error_reason = "ApplyFailed";
    json failed = compute_status(three(), o, json(), "T");
    CHECK(cond(failed, "Degraded", "status") == "True");
    CHECK(cond(failed, "Degraded", "reason") == "ApplyFailed");
    CHECK(cond(failed, "Degraded", "message") == o.reconcile_error);

    Observation with_members;
    with_members.stateful_set = sts(3, 3, 3, 3);
    with_members.membership = MembershipView{{{"demo-0", "1", "leader", true, 0}}, "demo-0", ""};
    json s = compute_status(three(), with_members, json(), "T");
    CHECK(s["leader"] == "demo-0");
    CHECK(s["members"][0]["role"] == "leader");
}
