#include <doctest/doctest.h>

#include "fake_api.hpp"
#include "kube/base64.hpp"
#include "op/certificate_authority.hpp"
#include "op/conditions.hpp"
#include "op/controller.hpp"
#include "op/reconciler.hpp"

using namespace annal;
using nlohmann::json;

namespace {

const std::string kCr = "/apis/annal.dev/v1alpha1/namespaces/ns/annalclusters/demo";
const std::string kSts = "/apis/apps/v1/namespaces/ns/statefulsets/demo";
const std::string kPdb = "/apis/policy/v1beta1/namespaces/ns/poddisruptionbudgets/demo";
const std::string kPvcs = "/api/v1/namespaces/ns/persistentvolumeclaims/";
const std::string kPods = "/api/v1/namespaces/ns/pods/";

struct Fixture {
    std::shared_ptr<test::FakeApi> api = std::make_shared<test::FakeApi>();
    kube::Client client{api};
    op::EventRecorder events{client, "annal-operator"};
    op::NoMembershipSource membership;
    op::Reconciler reconciler{client, events, membership, "policy/v1beta1"};

    void create_cluster(json spec) {
        api->put_object(kCr, {{"apiVersion", "annal.dev/v1alpha1"},
                              {"kind", "AnnalCluster"},
                              {"metadata", {{"name", "demo"}, {"namespace", "ns"}}},
                              {"spec", std::move(spec)}});
    }
    void patch_spec(const json& patch) {
        api->send({"PATCH", kCr, json{{"spec", patch}}.dump(), "application/merge-patch+json"});
    }
    op::ReconcileResult reconcile() { return reconciler.reconcile("ns", "demo"); }
    json condition(const char* type) {
        return op::find_condition(api->object(kCr)["status"]["conditions"], type);
    }
    std::vector<std::string> event_reasons() {
        std::vector<std::string> out;
        for (const auto& r : api->requests()) {
            if (r.method == "POST" && r.target.find("/events") != std::string::npos) {
                out.push_back(json::parse(r.body)["reason"]);
            }
        }
        return out;
    }
    void add_member(int ordinal) {
        const json labels = {{"app.kubernetes.io/name", "annal"},
                             {"app.kubernetes.io/instance", "demo"}};
        const std::string n = std::to_string(ordinal);
        api->put_object(
            kPvcs + "data-demo-" + n,
            {{"metadata", {{"name", "data-demo-" + n}, {"namespace", "ns"}, {"labels", labels}}}});
        api->put_object(
            kPods + "demo-" + n,
            {{"metadata", {{"name", "demo-" + n}, {"namespace", "ns"}, {"labels", labels}}}});
    }
};

}  // namespace

TEST_CASE("first reconcile creates every owned object and reports status") {
    Fixture f;
    f.create_cluster({{"replicas", 3}, {"image", "annal:1"}});
    auto result = f.reconcile();
    CHECK(result.ok);
    const std::string uid = f.api->object(kCr)["metadata"]["uid"];
    for (const std::string& path : {kSts, kPdb, std::string("/api/v1/namespaces/ns/services/demo"),
                                    std::string("/api/v1/namespaces/ns/services/demo-peers"),
                                    std::string("/api/v1/namespaces/ns/configmaps/demo-config")}) {
        CAPTURE(path);
        json o = f.api->object(path);
        REQUIRE(o.is_object());
        CHECK(o["metadata"]["ownerReferences"][0]["uid"] == uid);
    }
    CHECK(f.api->object(kSts)["spec"]["replicas"] == 3);
    json status = f.api->object(kCr)["status"];
    CHECK(status["observedGeneration"] == 1);
    CHECK(status["conditions"].size() == 3);
    CHECK(f.condition("Ready")["status"] == "False");
    CHECK(f.condition("Progressing")["status"] == "True");
    // Retain on delete: no finalizer is needed.
    CHECK_FALSE(f.api->object(kCr)["metadata"].contains("finalizers"));
    const auto reasons = f.event_reasons();
    CHECK(std::count(reasons.begin(), reasons.end(), "Created") == 5);
    // Still progressing: come back to watch the rollout.
    CHECK(result.requeue_after.count() > 0);
}

TEST_CASE("a second reconcile with nothing changed writes nothing but applies") {
    Fixture f;
    f.create_cluster({{"replicas", 3}, {"image", "annal:1"}});
    f.reconcile();
    const auto rv = f.api->object(kSts)["metadata"]["resourceVersion"];
    const auto cr_rv = f.api->object(kCr)["metadata"]["resourceVersion"];
    f.reconcile();
    CHECK(f.api->object(kSts)["metadata"]["resourceVersion"] == rv);
    CHECK(f.api->object(kCr)["metadata"]["resourceVersion"] == cr_rv);  // no status write
}

TEST_CASE("scale-down deletes volumes of removed members only with onScaleDown Delete") {
    for (const std::string policy : {"Delete", "Retain"}) {
        CAPTURE(policy);
        Fixture f;
        f.create_cluster({{"replicas", 5}, {"image", "a"}, {"storage", {{"onScaleDown", policy}}}});
        for (int i = 0; i < 5; ++i)
            f.add_member(i);
        f.reconcile();
        f.patch_spec({{"replicas", 3}});
        // Pods 3 and 4 still exist: their volumes must wait.
        auto waiting = f.reconcile();
        CHECK(f.api->has(kPvcs + "data-demo-4"));
        CHECK(f.api->object(kSts)["spec"]["replicas"] == 3);
        if (policy == "Delete")
            CHECK(waiting.requeue_after.count() > 0);
        f.api->send({"DELETE", kPods + "demo-3", "", ""});
        f.api->send({"DELETE", kPods + "demo-4", "", ""});
        f.reconcile();
        CHECK(f.api->has(kPvcs + "data-demo-2"));
        CHECK(f.api->has(kPvcs + "data-demo-3") == (policy == "Retain"));
        CHECK(f.api->has(kPvcs + "data-demo-4") == (policy == "Retain"));
        const auto reasons = f.event_reasons();
        CHECK(std::count(reasons.begin(), reasons.end(), "Scaled") == 1);
        CHECK(std::count(reasons.begin(), reasons.end(), "DeletedVolume") ==
              (policy == "Delete" ? 2 : 0));
    }
}

TEST_CASE("paused: no owned object is created or changed; the condition says so") {
    Fixture f;
    f.create_cluster({{"replicas", 3}, {"image", "a"}, {"paused", true}});
    CHECK(f.reconcile().ok);
    CHECK_FALSE(f.api->has(kSts));
    CHECK(f.condition("Progressing")["reason"] == "Paused");
    f.patch_spec({{"paused", false}});
    f.reconcile();
    CHECK(f.api->has(kSts));
    f.patch_spec({{"paused", true}, {"replicas", 5}});
    f.reconcile();
    CHECK(f.api->object(kSts)["spec"]["replicas"] == 3);
}

TEST_CASE("onDelete Delete: finalizer added; deletion removes volumes after the pods") {
    Fixture f;
    f.create_cluster({{"replicas", 3}, {"image", "a"}, {"storage", {{"onDelete", "Delete"}}}});
    for (int i = 0; i < 3; ++i)
        f.add_member(i);
    f.reconcile();
    CHECK(f.api->object(kCr)["metadata"]["finalizers"] == json({"annal.dev/delete-volumes"}));
    f.api->send({"DELETE", kCr, "", ""});
    REQUIRE(f.api->object(kCr)["metadata"].contains("deletionTimestamp"));
    auto r = f.reconcile();
    CHECK_FALSE(f.api->has(kSts));             // deleted first
    CHECK(f.api->has(kPvcs + "data-demo-0"));  // pods still there
    CHECK(r.requeue_after.count() > 0);
    for (int i = 0; i < 3; ++i)
        f.api->send({"DELETE", kPods + "demo-" + std::to_string(i), "", ""});
    f.reconcile();
    CHECK_FALSE(f.api->has(kPvcs + "data-demo-0"));
    CHECK_FALSE(f.api->has(kCr));  // finalizer removed, object gone
}

TEST_CASE("an object with our name but another owner is not taken over") {
    Fixture f;
    f.create_cluster({{"replicas", 3}, {"image", "a"}});
    f.api->put_object("/api/v1/namespaces/ns/configmaps/demo-config",
                      {{"metadata", {{"name", "demo-config"}, {"namespace", "ns"}}}});
    auto r = f.reconcile();
    CHECK_FALSE(r.ok);
    CHECK(f.condition("Degraded")["reason"] == "ApplyFailed");
    CHECK_FALSE(f.api->has(kSts));
}

TEST_CASE("owned objects map back to their AnnalCluster") {
    CHECK(op::owner_key({{"kind", "AnnalCluster"},
                         {"metadata", {{"name", "a"}, {"namespace", "n"}}}}) == "n/a");
    CHECK(op::owner_key({{"kind", "StatefulSet"},
                         {"metadata",
                          {{"name", "x"},
                           {"namespace", "n"},
                           {"ownerReferences",
                            {{{"apiVersion", "annal.dev/v1alpha1"},
                              {"kind", "AnnalCluster"},
                              {"name", "b"},
                              {"controller", true}}}}}}}) == "n/b");
    CHECK(op::owner_key(
              {{"kind", "Pod"},
               {"metadata",
                {{"name", "c-0"},
                 {"namespace", "n"},
                 {"labels",
                  {{"app.kubernetes.io/name", "annal"}, {"app.kubernetes.io/instance", "c"}}}}}}) ==
          "n/c");
    CHECK(op::owner_key({{"kind", "Pod"}, {"metadata", {{"name", "x"}, {"namespace", "n"}}}})
              .empty());
}

namespace {

const std::string kCaSecret = "/api/v1/namespaces/ns/secrets/demo-ca";
const std::string kTlsSecret = "/api/v1/namespaces/ns/secrets/demo-tls";

std::string secret_pem(const json& secret, const char* key) {
    return kube::base64_decode(secret["data"][key].get<std::string>()).value_or("");
}

std::vector<std::string> tls_names(const json& secret) {
    std::string error;
    auto info = op::inspect_certificate(secret_pem(secret, "tls.crt"), error);
    REQUIRE_MESSAGE(info, error);
    return info->dns_names;
}

bool names(const std::vector<std::string>& all, const std::string& name) {
    return std::find(all.begin(), all.end(), name) != all.end();
}

}  // namespace

TEST_CASE("tls OperatorGenerated: CA and node certificate Secrets, mounted and kept current") {
    Fixture f;
    auto now = op::Clock::now();
    f.reconciler.set_clock([&now] { return now; });
    f.create_cluster({{"replicas", 3}, {"image", "a"}, {"tls", {{"mode", "OperatorGenerated"}}}});
    REQUIRE(f.reconcile().ok);
    CHECK(f.condition("Degraded")["status"] == "False");
    const std::string uid = f.api->object(kCr)["metadata"]["uid"];
    const json ca = f.api->object(kCaSecret);
    const json tls = f.api->object(kTlsSecret);
    REQUIRE(ca.is_object());
    REQUIRE(tls.is_object());
    CHECK(ca["metadata"]["ownerReferences"][0]["uid"] == uid);
    CHECK(tls["metadata"]["ownerReferences"][0]["uid"] == uid);
    CHECK(tls["type"] == "kubernetes.io/tls");
    std::string error;
    CHECK_MESSAGE(
        op::verify_certificate(secret_pem(tls, "tls.crt"), secret_pem(ca, "ca.crt"), now, error),
        error);
    CHECK(secret_pem(tls, "ca.crt") == secret_pem(ca, "ca.crt"));
    CHECK(names(tls_names(tls), "demo-2.demo-peers.ns.svc"));
    CHECK_FALSE(names(tls_names(tls), "demo-3.demo-peers.ns.svc"));
    const json pod = f.api->object(kSts)["spec"]["template"];
    CHECK(pod["spec"]["volumes"][1]["secret"]["secretName"] == "demo-tls");
    const auto revision = pod["metadata"]["annotations"]["annal.dev/tls-revision"];
    CHECK_FALSE(revision.get<std::string>().empty());
    auto issued = [&f] {
        const auto r = f.event_reasons();
        return std::count(r.begin(), r.end(), "IssuedCertificate");
    };
    CHECK(issued() == 1);

    SUBCASE("nothing changes while nothing needs to") {
        now += std::chrono::hours(24 * 300);
        f.reconcile();
        CHECK(f.api->object(kTlsSecret)["metadata"]["resourceVersion"] ==
              tls["metadata"]["resourceVersion"]);
        CHECK(issued() == 1);
    }
    SUBCASE("scaling up re-issues with the new members' names, under the same CA") {
        f.patch_spec({{"replicas", 5}});
        REQUIRE(f.reconcile().ok);
        const json reissued = f.api->object(kTlsSecret);
        CHECK(names(tls_names(reissued), "demo-4.demo-peers.ns.svc"));
        CHECK(f.api->object(kCaSecret)["data"] == ca["data"]);
        CHECK(op::verify_certificate(secret_pem(reissued, "tls.crt"), secret_pem(ca, "ca.crt"), now,
                                     error));
        CHECK(f.api->object(
                  kSts)["spec"]["template"]["metadata"]["annotations"]["annal.dev/tls-revision"] !=
              revision);
        CHECK(issued() == 2);
        // Back down: the certificate still names every member, so it stays.
        f.patch_spec({{"replicas", 3}});
        f.reconcile();
        CHECK(f.api->object(kTlsSecret)["data"] == reissued["data"]);
    }
    SUBCASE("less than 30 days left re-issues; the CA stays") {
        now += std::chrono::hours(24 * 340);
        f.reconcile();
        CHECK(f.api->object(kTlsSecret)["data"]["tls.crt"] != tls["data"]["tls.crt"]);
        CHECK(f.api->object(kCaSecret)["data"] == ca["data"]);
        CHECK(issued() == 2);
    }
    SUBCASE("a lost CA Secret means a new CA and a node certificate signed by it") {
        f.api->send({"DELETE", kCaSecret, "", ""});
        f.reconcile();
        const json new_ca = f.api->object(kCaSecret);
        REQUIRE(new_ca.is_object());
        CHECK(new_ca["data"] != ca["data"]);
        CHECK(op::verify_certificate(secret_pem(f.api->object(kTlsSecret), "tls.crt"),
                                     secret_pem(new_ca, "ca.crt"), now, error));
    }
}

TEST_CASE("tls OperatorGenerated: a Secret of someone else is not overwritten") {
    Fixture f;
    f.create_cluster({{"replicas", 3}, {"image", "a"}, {"tls", {{"mode", "OperatorGenerated"}}}});
    f.api->put_object(kTlsSecret, {{"metadata", {{"name", "demo-tls"}, {"namespace", "ns"}}},
                                   {"data", {{"tls.crt", "eA=="}}}});
    auto r = f.reconcile();
    CHECK_FALSE(r.ok);
    CHECK(f.condition("Degraded")["reason"] == "CertificateFailed");
    CHECK(f.api->object(kTlsSecret)["data"]["tls.crt"] == "eA==");
    CHECK_FALSE(f.api->has(kSts));
}
