// status.members / status.leader: the node's ClusterView JSON, the mapping of the nodes'
// answers to members and leader, the conditions it drives, the source that asks the pods
// (over a fake Kubernetes API and a fake node client) and the real HTTP client (against a
// local HTTP endpoint).
#include <doctest/doctest.h>

#include "fake_api.hpp"
#include "kube/base64.hpp"
#include "op/cluster_status.hpp"
#include "op/conditions.hpp"
#include "op/http_endpoint.hpp"
#include "op/http_membership_source.hpp"
#include "op/membership_mapping.hpp"
#include "op/node_admin_client.hpp"
#include "op/node_cluster_view.hpp"
#include "op/reconciler.hpp"

using namespace annal;
using namespace annal::op;
using nlohmann::json;

namespace {

ClusterSpec demo(int replicas = 3) {
    ClusterSpec c;
    c.name = "demo";
    c.ns = "ns";
    c.replicas = replicas;
    c.generation = 1;
    return c;
}

// A ClusterView as the node's GET /admin/cluster returns it.
json cluster_view(std::uint64_t self, std::uint64_t leader, std::uint64_t term,
                  const std::string& role, const json& members) {
    return {{"self", self},
            {"leader", leader},
            {"leader_address", leader == 0 ? "" : "10.0.0." + std::to_string(leader) + ":2113"},
            {"term", term},
            {"role", role},
            {"commit_index", 40},
            {"applied_index", 40},
            {"last_index", 42},
            {"first_index", 1},
            {"change_pending", false},
            {"members", members}};
}

json member(std::uint64_t id, const std::string& role, bool healthy, std::uint64_t lag) {
    return {{"id", id},           {"address", "10.0.0." + std::to_string(id) + ":2113"},
            {"role", role},       {"voter", role != "learner"},
            {"healthy", healthy}, {"match_index", 42 - lag},
            {"lag", lag}};
}

// The leader (node 2)'s view of three voters: node 3 is behind and not heard from.
json leader_view_of_three(std::uint64_t term = 5) {
    return cluster_view(2, 2, term, "leader",
                        json::array({member(1, "follower", true, 0), member(2, "leader", true, 0),
                                     member(3, "follower", false, 17)}));
}

NodeAnswer answer(const std::string& pod, const json& body) {
    NodeAnswer a;
    a.pod = pod;
    a.view = parse_node_cluster_view(body.dump(), a.error);
    REQUIRE_MESSAGE(a.view, a.error);
    return a;
}

NodeAnswer failed(const std::string& pod, const std::string& error) {
    NodeAnswer a;
    a.pod = pod;
    a.error = error;
    return a;
}

std::vector<MemberPod> three_ready_pods() {
    return {{"demo-0", 0, "10.0.0.1", true},
            {"demo-1", 1, "10.0.0.2", true},
            {"demo-2", 2, "10.0.0.3", true}};
}

const MemberStatus& by_name(const MembershipView& v, const std::string& name) {
    for (const auto& m : v.members) {
        if (m.name == name)
            return m;
    }
    FAIL("no member " << name);
    return v.members.front();
}

}  // namespace

TEST_CASE("parse_node_cluster_view reads every field of the ClusterView") {
    std::string error;
    auto view = parse_node_cluster_view(leader_view_of_three(7).dump(), error);
    REQUIRE_MESSAGE(view, error);
    CHECK(view->self == 2);
    CHECK(view->leader == 2);
    CHECK(view->leader_address == "10.0.0.2:2113");
    CHECK(view->term == 7);
    CHECK(view->role == "leader");
    CHECK(view->commit_index == 40);
    REQUIRE(view->members.size() == 3);
    CHECK(view->members[2].id == 3);
    CHECK(view->members[2].address == "10.0.0.3:2113");
    CHECK(view->members[2].role == "follower");
    CHECK(view->members[2].voter);
    CHECK_FALSE(view->members[2].healthy);
    CHECK(view->members[2].match_index == 25);
    CHECK(view->members[2].lag == 17);
}

TEST_CASE("parse_node_cluster_view refuses what is not a cluster view") {
    std::string error;
    CHECK_FALSE(parse_node_cluster_view(R"({"mode":"standalone","self":0})", error));
    CHECK(error.find("standalone") != std::string::npos);
    CHECK_FALSE(parse_node_cluster_view("<html>", error));
    CHECK(error.find("not a JSON object") != std::string::npos);
    json no_members = leader_view_of_three();
    no_members.erase("members");
    CHECK_FALSE(parse_node_cluster_view(no_members.dump(), error));
    json negative_term = leader_view_of_three();
    negative_term["term"] = -1;
    CHECK_FALSE(parse_node_cluster_view(negative_term.dump(), error));
    json bad_address = leader_view_of_three();
    bad_address["members"][0]["address"] = 5;
    CHECK_FALSE(parse_node_cluster_view(bad_address.dump(), error));
    CHECK(error.find("wrong type") != std::string::npos);
    json zero_id = leader_view_of_three();
    zero_id["members"][1]["id"] = 0;
    CHECK_FALSE(parse_node_cluster_view(zero_id.dump(), error));
}

TEST_CASE("node ids map to pod names: id N runs in NAME-(N-1)") {
    const ClusterSpec c = demo();
    CHECK(member_pod_name(c, 1) == "demo-0");
    CHECK(member_pod_name(c, 9) == "demo-8");
    CHECK(member_pod_ordinal(c, "demo-4") == 4);
    CHECK(member_pod_ordinal(c, "demo-x") == -1);
    CHECK(member_pod_ordinal(c, "demox-1") == -1);
    CHECK(member_pod_ordinal(c, "demo-") == -1);
}

TEST_CASE("the leader's view gives roles, health and lag of every member") {
    const json follower_view =
        cluster_view(1, 2, 5, "follower",
                     json::array({member(1, "follower", true, 0), member(2, "leader", true, 0),
                                  member(3, "follower", true, 0)}));
    const MembershipView v = membership_from_answers(
        demo(), three_ready_pods(),
        {answer("demo-0", follower_view), answer("demo-1", leader_view_of_three()),
         failed("demo-2", "connection refused")});
    CHECK(v.leader == "demo-1");
    CHECK(v.problem.empty());
    REQUIRE(v.members.size() == 3);
    for (std::size_t i = 0; i < 3; ++i) {
        CHECK(v.members[i].id == std::to_string(i + 1));
        CHECK(v.members[i].name == "demo-" + std::to_string(i));
    }
    CHECK(by_name(v, "demo-1").role == "leader");
    CHECK(by_name(v, "demo-0").role == "follower");
    CHECK(by_name(v, "demo-0").healthy);
    // The follower says it is fine; the leader's word counts.
    CHECK_FALSE(by_name(v, "demo-2").healthy);
    CHECK(by_name(v, "demo-2").lag == 17);
}

TEST_CASE("a deposed leader of an older term loses to the current one") {
    const json stale =
        cluster_view(1, 1, 4, "leader",
                     json::array({member(1, "leader", true, 0), member(2, "follower", true, 0),
                                  member(3, "follower", true, 0)}));
    const MembershipView v = membership_from_answers(
        demo(), three_ready_pods(),
        {answer("demo-0", stale), answer("demo-1", leader_view_of_three())});
    CHECK(v.leader == "demo-1");
    CHECK(by_name(v, "demo-0").role == "follower");
}

TEST_CASE("without the leader's answer a follower's view still names the leader") {
    auto pods = three_ready_pods();
    pods[2].ready = false;
    const json follower_view =
        cluster_view(1, 2, 5, "follower",
                     json::array({member(1, "follower", true, 0), member(2, "leader", true, 0),
                                  member(3, "follower", true, 0)}));
    const MembershipView v =
        membership_from_answers(demo(), pods,
                                {answer("demo-0", follower_view), failed("demo-1", "timeout"),
                                 failed("demo-2", "connection refused")});
    CHECK(v.leader == "demo-1");
    CHECK(v.problem.empty());
    CHECK(by_name(v, "demo-1").role == "leader");
    // Health falls back to the pods' readiness; lag is unknown.
    CHECK(by_name(v, "demo-0").healthy);
    CHECK_FALSE(by_name(v, "demo-2").healthy);
    CHECK(by_name(v, "demo-2").lag == 0);
}

TEST_CASE("no answer: members listed from the pods, unhealthy, no leader, and why") {
    const MembershipView v = membership_from_answers(
        demo(), three_ready_pods(),
        {failed("demo-0", "connection refused"), failed("demo-1", "timeout"),
         failed("demo-2", "connection refused")});
    CHECK(v.leader.empty());
    CHECK(v.problem.find("no member answered") != std::string::npos);
    CHECK(v.problem.find("demo-1: timeout") != std::string::npos);
    REQUIRE(v.members.size() == 3);
    for (const auto& m : v.members) {
        CHECK_FALSE(m.healthy);
        CHECK(m.role == "unknown");
    }
}

TEST_CASE("answers without any leader give no leader") {
    const json candidate =
        cluster_view(1, 0, 9, "candidate",
                     json::array({member(1, "follower", true, 0), member(2, "follower", true, 0),
                                  member(3, "follower", true, 0)}));
    const MembershipView v =
        membership_from_answers(demo(), three_ready_pods(), {answer("demo-0", candidate)});
    CHECK(v.leader.empty());
    CHECK(v.problem.find("no member knows a leader") != std::string::npos);
}

TEST_CASE("an answer from the wrong node is not attached to the pod") {
    // demo-0's IP answered as node 2 (e.g. an IP reused by another pod): ignored.
    const MembershipView v = membership_from_answers(demo(), three_ready_pods(),
                                                     {answer("demo-0", leader_view_of_three())});
    CHECK(v.leader.empty());
    CHECK(v.problem.find("demo-0: answered as node 2") != std::string::npos);
}

TEST_CASE("members of every pod and every desired ordinal are listed, in id order") {
    // Scaling down from 5 to 3: pod 4 still runs; pod 1 has not been created yet.
    std::vector<MemberPod> pods = {{"demo-0", 0, "10.0.0.1", true},
                                   {"demo-4", 4, "10.0.0.5", true}};
    const MembershipView v = membership_from_answers(demo(), pods, {});
    REQUIRE(v.members.size() == 4);
    CHECK(v.members[0].name == "demo-0");
    CHECK(v.members[1].name == "demo-1");
    CHECK(v.members[2].name == "demo-2");
    CHECK(v.members[3].name == "demo-4");
    CHECK(v.members[3].id == "5");
}

namespace {

json ready_statefulset() {
    return {{"metadata", {{"generation", 1}}},
            {"spec", {{"replicas", 3}}},
            {"status",
             {{"observedGeneration", 1},
              {"replicas", 3},
              {"readyReplicas", 3},
              {"updatedReplicas", 3},
              {"currentRevision", "r"},
              {"updateRevision", "r"}}}};
}

std::string condition_field(const json& status, const char* type, const char* field) {
    return find_condition(status["conditions"], type)[field].get<std::string>();
}

}  // namespace

TEST_CASE("an unknown leader makes the cluster not Ready and Degraded, saying why") {
    Observation o;
    o.stateful_set = ready_statefulset();
    o.membership = membership_from_answers(demo(), three_ready_pods(),
                                           {failed("demo-0", "connection refused")});
    const json status = compute_status(demo(), o, json(), "T");
    CHECK(condition_field(status, "Ready", "status") == "False");
    CHECK(condition_field(status, "Ready", "reason") == "LeaderUnknown");
    CHECK(condition_field(status, "Degraded", "status") == "True");
    CHECK(condition_field(status, "Degraded", "reason") == "LeaderUnknown");
    CHECK(condition_field(status, "Degraded", "message").find("connection refused") !=
          std::string::npos);
    CHECK_FALSE(status.contains("leader"));
    CHECK(status["members"].size() == 3);
    CHECK(
        status["members"][0] ==
        json{{"name", "demo-0"}, {"id", "1"}, {"role", "unknown"}, {"healthy", false}, {"lag", 0}});
}

TEST_CASE("a known leader: Ready, status.leader set; unhealthy members make it Degraded") {
    Observation o;
    o.stateful_set = ready_statefulset();
    o.membership = membership_from_answers(demo(), three_ready_pods(),
                                           {answer("demo-1", leader_view_of_three())});
    const json status = compute_status(demo(), o, json(), "T");
    CHECK(status["leader"] == "demo-1");
    CHECK(condition_field(status, "Ready", "status") == "True");
    CHECK(condition_field(status, "Degraded", "reason") == "MembersUnhealthy");
    CHECK(condition_field(status, "Degraded", "message").find("demo-2") != std::string::npos);
    CHECK(status["members"][2]["lag"] == 17);

    json all_healthy = leader_view_of_three();
    all_healthy["members"][2]["healthy"] = true;
    o.membership =
        membership_from_answers(demo(), three_ready_pods(), {answer("demo-1", all_healthy)});
    const json healthy = compute_status(demo(), o, json(), "T");
    CHECK(condition_field(healthy, "Degraded", "status") == "False");
}

namespace {

// Records what it was asked and answers from a table (pod name -> reply).
class FakeNodeAdmin final : public NodeAdminClient {
  public:
    std::map<std::string, NodeAdminReply> replies;
    std::vector<NodeAdminTarget> asked;
    std::optional<NodeAdminTls> tls_seen;

    std::vector<NodeAdminReply> fetch_cluster_views(const std::vector<NodeAdminTarget>& targets,
                                                    const NodeAdminTls* tls) override {
        asked = targets;
        tls_seen = tls == nullptr ? std::nullopt : std::optional<NodeAdminTls>(*tls);
        std::vector<NodeAdminReply> out;
        for (const auto& t : targets) {
            auto it = replies.find(t.pod);
            out.push_back(it != replies.end() ? it->second
                                              : NodeAdminReply{0, "", "connection refused"});
        }
        return out;
    }
};

struct SourceFixture {
    std::shared_ptr<test::FakeApi> api = std::make_shared<test::FakeApi>();
    kube::Client client{api};
    FakeNodeAdmin nodes;
    HttpMembershipSource source{client, nodes};

    void add_pod(int ordinal, const std::string& ip, bool ready) {
        const std::string name = "demo-" + std::to_string(ordinal);
        json pod = {
            {"metadata",
             {{"name", name},
              {"namespace", "ns"},
              {"labels",
               {{"app.kubernetes.io/name", "annal"}, {"app.kubernetes.io/instance", "demo"}}}}},
            {"status",
             {{"conditions",
               json::array({{{"type", "Ready"}, {"status", ready ? "True" : "False"}}})}}}};
        if (!ip.empty())
            pod["status"]["podIP"] = ip;
        api->put_object("/api/v1/namespaces/ns/pods/" + name, pod);
    }
};

}  // namespace

TEST_CASE("HttpMembershipSource asks every pod with an IP on the node port") {
    SourceFixture f;
    f.add_pod(0, "10.1.0.1", true);
    f.add_pod(1, "10.1.0.2", true);
    f.add_pod(2, "", false);  // not running yet: nothing to ask
    f.nodes.replies["demo-1"] = {200, leader_view_of_three().dump(), ""};
    ClusterSpec c = demo();
    c.node_config["listen_port"] = 7000;
    auto view = f.source.view(c);
    REQUIRE(view);
    REQUIRE(f.nodes.asked.size() == 2);
    CHECK(f.nodes.asked[0].pod == "demo-0");
    CHECK(f.nodes.asked[0].base_url == "http://10.1.0.1:7000");
    CHECK(f.nodes.asked[1].base_url == "http://10.1.0.2:7000");
    CHECK_FALSE(f.nodes.tls_seen);
    CHECK(view->leader == "demo-1");
    CHECK(by_name(*view, "demo-2").role == "follower");  // from the leader's view
}

TEST_CASE("HttpMembershipSource uses https with the cluster CA when TLS is on") {
    SourceFixture f;
    f.add_pod(0, "10.1.0.1", true);
    ClusterSpec c = demo();
    c.tls_mode = TlsMode::OperatorGenerated;
    auto missing = f.source.view(c);
    REQUIRE(missing);
    CHECK(missing->leader.empty());
    CHECK(missing->problem.find("demo-tls") != std::string::npos);
    CHECK(f.nodes.asked.empty());

    f.api->put_object("/api/v1/namespaces/ns/secrets/demo-tls",
                      {{"metadata", {{"name", "demo-tls"}, {"namespace", "ns"}}},
                       {"data",
                        {{"ca.crt", kube::base64_encode("CA PEM")},
                         {"tls.crt", kube::base64_encode("CERT PEM")},
                         {"tls.key", kube::base64_encode("KEY PEM")}}}});
    f.nodes.replies["demo-0"] = {503, "", ""};
    auto view = f.source.view(c);
    REQUIRE(view);
    REQUIRE(f.nodes.asked.size() == 1);
    CHECK(f.nodes.asked[0].base_url == "https://10.1.0.1:2113");
    CHECK(f.nodes.asked[0].tls_host == "demo-0.demo-peers.ns.svc");
    REQUIRE(f.nodes.tls_seen);
    CHECK(f.nodes.tls_seen->ca_pem == "CA PEM");
    CHECK(f.nodes.tls_seen->client_cert_pem == "CERT PEM");
    CHECK(view->problem.find("demo-0: HTTP 503") != std::string::npos);
}

TEST_CASE("HttpMembershipSource reports an unreadable pod list as the problem") {
    SourceFixture f;
    f.api->intercept = [](const kube::HttpRequest& r) -> std::optional<kube::HttpResponse> {
        if (r.target.find("/pods") != std::string::npos)
            return kube::HttpResponse{403, R"({"message":"pods is forbidden"})", ""};
        return std::nullopt;
    };
    auto view = f.source.view(demo());
    REQUIRE(view);
    CHECK(view->leader.empty());
    CHECK(view->problem.find("cannot list the member pods") != std::string::npos);
    CHECK(view->members.size() == 3);
}

TEST_CASE("CppRestNodeAdminClient fetches /admin/cluster and reports unreachable nodes") {
    const std::string body = leader_view_of_three().dump();
    HttpEndpoint node("127.0.0.1", 0, [&body](const std::string& target) {
        EndpointResponse r;
        if (target == "/admin/cluster") {
            r.content_type = "application/json";
            r.body = body;
        } else {
            r.status = 404;
        }
        return r;
    });
    std::string error;
    REQUIRE_MESSAGE(node.start(error), error);
    // A port that was free a moment ago: connection refused.
    HttpEndpoint closed("127.0.0.1", 0, [](const std::string&) { return EndpointResponse{}; });
    REQUIRE(closed.start(error));
    const std::uint16_t closed_port = closed.port();
    closed.stop();

    CppRestNodeAdminClient client(std::chrono::milliseconds(5000));
    const auto replies = client.fetch_cluster_views(
        {{"demo-1", "http://127.0.0.1:" + std::to_string(node.port()), ""},
         {"demo-2", "http://127.0.0.1:" + std::to_string(closed_port), ""}},
        nullptr);
    REQUIRE(replies.size() == 2);
    CHECK(replies[0].status == 200);
    CHECK(json::parse(replies[0].body) == json::parse(body));
    CHECK(replies[1].status == 0);
    CHECK_FALSE(replies[1].error.empty());
    node.stop();
}

namespace {

class FixedMembership final : public MembershipSource {
  public:
    std::optional<MembershipView> answer;
    std::optional<MembershipView> view(const ClusterSpec&) override { return answer; }
};

// A reconciled cluster whose StatefulSet has fully rolled out, so nothing but the members
// could ask for another look.
ReconcileResult reconcile_rolled_out(MembershipSource& membership, bool paused) {
    const std::string cr = "/apis/annal.dev/v1alpha1/namespaces/ns/annalclusters/demo";
    const std::string sts = "/apis/apps/v1/namespaces/ns/statefulsets/demo";
    auto api = std::make_shared<test::FakeApi>();
    kube::Client client{api};
    EventRecorder events{client, "annal-operator"};
    Reconciler reconciler{client, events, membership, "policy/v1beta1"};
    api->put_object(cr, {{"apiVersion", "annal.dev/v1alpha1"},
                         {"kind", "AnnalCluster"},
                         {"metadata", {{"name", "demo"}, {"namespace", "ns"}, {"uid", "u1"}}},
                         {"spec", {{"replicas", 3}, {"image", "annal:1"}}}});
    REQUIRE(reconciler.reconcile("ns", "demo").ok);
    json object = api->object(sts);
    REQUIRE(object.is_object());
    object["status"] = ready_statefulset()["status"];
    api->put_object(sts, object);
    if (paused) {
        api->send({"PATCH", cr, R"({"spec":{"paused":true}})", "application/merge-patch+json"});
    }
    return reconciler.reconcile("ns", "demo");
}

}  // namespace

TEST_CASE("observed members are looked at again periodically, also while paused") {
    using std::chrono::milliseconds;
    NoMembershipSource none;
    const ReconcileResult quiet = reconcile_rolled_out(none, false);
    REQUIRE(quiet.ok);
    CHECK(quiet.requeue_after == milliseconds(0));  // nothing to watch for

    FixedMembership observed;
    observed.answer = membership_from_answers(demo(), three_ready_pods(),
                                              {answer("demo-1", leader_view_of_three())});
    for (bool paused : {false, true}) {
        CAPTURE(paused);
        const ReconcileResult r = reconcile_rolled_out(observed, paused);
        REQUIRE(r.ok);
        CHECK(r.requeue_after > milliseconds(0));
        CHECK(r.requeue_after <= milliseconds(10000));
    }
}
