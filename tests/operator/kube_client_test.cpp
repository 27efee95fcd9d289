#include <doctest/doctest.h>

#include "fake_api.hpp"
#include "kube/client.hpp"
#include "kube/informer.hpp"
#include "kube/leader_elector.hpp"

using namespace annal;
using namespace annal::kube;
using nlohmann::json;
using namespace std::chrono_literals;

TEST_CASE("resource paths for core, grouped, namespaced and cluster-wide requests") {
    CHECK(resource_path(resources::pods(), "ns", "p") == "/api/v1/namespaces/ns/pods/p");
    CHECK(resource_path(resources::stateful_sets(), "") == "/apis/apps/v1/statefulsets");
    CHECK(resource_path(resources::annal_clusters(), "ns", "a", "scale") ==
          "/apis/annal.dev/v1alpha1/namespaces/ns/annalclusters/a/scale");
    CHECK(url_encode("a=b,c/d e") == "a%3Db%2Cc%2Fd%20e");
}

TEST_CASE("watch lines parse into events; malformed lines are Invalid") {
    auto e = parse_watch_line(R"({"type":"MODIFIED","object":{"metadata":{"name":"x"}}})");
    CHECK(e.type == WatchEvent::Type::Modified);
    CHECK(e.object["metadata"]["name"] == "x");
    CHECK(parse_watch_line(R"({"type":"ADDED","object":{}})").type == WatchEvent::Type::Added);
    CHECK(parse_watch_line(R"({"type":"DELETED","object":{}})").type == WatchEvent::Type::Deleted);
    CHECK(parse_watch_line(R"({"type":"BOOKMARK","object":{}})").type ==
          WatchEvent::Type::Bookmark);
    CHECK(parse_watch_line("not json").type == WatchEvent::Type::Invalid);
    CHECK(parse_watch_line(R"({"type":"ADDED"})").type == WatchEvent::Type::Invalid);
    CHECK(parse_watch_line(R"({"type":"WHAT","object":{}})").type == WatchEvent::Type::Invalid);
    auto gone = parse_watch_line(
        R"({"type":"ERROR","object":{"kind":"Status","code":410,"reason":"Expired"}})");
    CHECK(gone.type == WatchEvent::Type::Error);
    CHECK(is_gone(gone));
    CHECK_FALSE(is_gone(parse_watch_line(R"({"type":"ERROR","object":{"code":500}})")));
    CHECK_FALSE(is_gone(e));
}

TEST_CASE("what to do after a watch ends") {
    CHECK(decide_after_watch({200, "", false, "42"}) == AfterWatch::Rewatch);
    CHECK(decide_after_watch({200, "", true, "42"}) == AfterWatch::Relist);
    CHECK(decide_after_watch({410, "", false, "42"}) == AfterWatch::Relist);
    CHECK(decide_after_watch({0, "connection refused", false, "42"}) == AfterWatch::RewatchBackoff);
    CHECK(decide_after_watch({500, "boom", false, "42"}) == AfterWatch::RewatchBackoff);
    CHECK(decide_after_watch({200, "", false, ""}) == AfterWatch::Relist);
}

TEST_CASE("apply, patch and status requests use the right verbs and content types") {
    auto api = std::make_shared<test::FakeApi>();
    Client client(api);
    json cm = {{"apiVersion", "v1"},
               {"kind", "ConfigMap"},
               {"metadata", {{"name", "c"}, {"namespace", "ns"}}},
               {"data", {{"k", "v"}}}};
    Result applied = client.apply(resources::config_maps(), "ns", cm, "annal-operator");
    CHECK(applied.ok());
    auto reqs = api->requests();
    REQUIRE(reqs.size() == 1);
    CHECK(reqs[0].method == "PATCH");
    CHECK(reqs[0].content_type == "application/apply-patch+yaml");
    CHECK(reqs[0].target ==
          "/api/v1/namespaces/ns/configmaps/c?fieldManager=annal-operator&force=true");
    client.patch_status(resources::config_maps(), "ns", "c", {{"status", {{"x", 1}}}});
    reqs = api->requests();
    CHECK(reqs[1].target == "/api/v1/namespaces/ns/configmaps/c/status");
    CHECK(reqs[1].content_type == "application/merge-patch+json");
    Result missing = client.get(resources::config_maps(), "ns", "nope");
    CHECK(missing.not_found());
    CHECK(missing.message().find("not found") != std::string::npos);
}

TEST_CASE("update_with_retry re-reads after a 409 and succeeds") {
    auto api = std::make_shared<test::FakeApi>();
    Client client(api);
    const std::string path = "/api/v1/namespaces/ns/configmaps/c";
    api->put_object(path,
                    {{"metadata", {{"name", "c"}, {"namespace", "ns"}}}, {"data", {{"n", "0"}}}});
    int puts = 0;
    api->intercept = [&](const HttpRequest& r) -> std::optional<HttpResponse> {
        // Someone else writes between our first GET and PUT.
        if (r.method == "PUT" && puts++ == 0) {
            json other = api->object(path);
            other["data"]["other"] = "1";
            api->put_object(path, other);
        }
        return std::nullopt;
    };
    int mutations = 0;
    Result r = client.update_with_retry(resources::config_maps(), "ns", "c", [&](json& o) {
        ++mutations;
        o["data"]["n"] = "1";
        return true;
    });
    CHECK(r.ok());
    CHECK(mutations == 2);
    CHECK(api->object(path)["data"]["n"] == "1");
    CHECK(api->object(path)["data"]["other"] == "1");  // the other write survived
}

TEST_CASE("discovery picks the first served PDB version") {
    auto api = std::make_shared<test::FakeApi>();
    Client client(api);
    api->discovery["/apis/policy"] = {{"versions", {{{"version", "v1beta1"}}}}};
    CHECK(client.served_version("policy", {"v1", "v1beta1"}) == "v1beta1");
    api->discovery["/apis/policy"] = {
        {"versions", {{{"version", "v1"}}, {{"version", "v1beta1"}}}}};
    CHECK(client.served_version("policy", {"v1", "v1beta1"}) == "v1");
    CHECK_FALSE(client.served_version("nosuch", {"v1"}));
}

TEST_CASE("informer: list, watch from the list's resourceVersion, relist after 410") {
    auto api = std::make_shared<test::FakeApi>();
    Client client(api);
    const std::string base = "/api/v1/namespaces/ns/configmaps/";
    api->put_object(base + "a", {{"metadata", {{"name", "a"}, {"namespace", "ns"}}}});
    api->put_object(base + "b", {{"metadata", {{"name", "b"}, {"namespace", "ns"}}}});
    std::vector<std::string> watch_targets;
    std::stop_source stop;
    int watches = 0;
    api->watch = [&](const HttpRequest& r, const LineHandler& on_line) {
        watch_targets.push_back(r.target);
        ++watches;
        if (watches == 1) {
            on_line(
                R"({"type":"MODIFIED","object":{"metadata":{"name":"a","namespace":"ns","resourceVersion":"900"}}})");
            on_line(R"({"type":"BOOKMARK","object":{"metadata":{"resourceVersion":"950"}}})");
        } else if (watches == 2) {
            // b disappears while we are not looking; then our version is too old.
            api->send({"DELETE", base + "b", "", "application/json"});
            on_line(R"({"type":"ERROR","object":{"kind":"Status","code":410,"reason":"Expired"}})");
        } else {
            stop.request_stop();
        }
        return HttpResponse{200, "", ""};
    };
    std::vector<std::string> seen;
    Informer informer(
        client, {resources::config_maps(), "ns", {}, 30, 1ms},
        [&](WatchEvent::Type type, const json& o) {
            const char* t = type == WatchEvent::Type::Added      ? "A"
                            : type == WatchEvent::Type::Modified ? "M"
                            : type == WatchEvent::Type::Deleted  ? "D"
                                                                 : "?";
            seen.push_back(std::string(t) + ":" + o["metadata"]["name"].get<std::string>());
        });
    informer.run(stop.get_token());
    CHECK(informer.relists() == 2);
    REQUIRE(watch_targets.size() == 3);
    CHECK(watch_targets[0].find("watch=1") != std::string::npos);
    // The second watch resumes from the bookmark, not from the list.
    CHECK(watch_targets[1].find("resourceVersion=950") != std::string::npos);
    const std::vector<std::string> expected = {"A:a", "A:b", "M:a", "M:a", "D:b"};
    CHECK(seen == expected);
}

TEST_CASE("leader election: one holder; release hands over; expiry takes over") {
    auto api = std::make_shared<test::FakeApi>();
    Client c1(api), c2(api);
    LeaderElectionConfig base{"ns", "lock", "", 1000ms, 600ms, 50ms};
    LeaderElectionConfig one = base, two = base;
    one.identity = "one";
    two.identity = "two";
    LeaderElector e1(c1, one), e2(c2, two);
    CHECK(e1.try_acquire_or_renew());
    CHECK_FALSE(e2.try_acquire_or_renew());
    CHECK(e1.try_acquire_or_renew());  // renew
    const std::string path = "/apis/coordination.k8s.io/v1/namespaces/ns/leases/lock";
    CHECK(api->object(path)["spec"]["holderIdentity"] == "one");
    e1.release();
    CHECK(api->object(path)["spec"]["holderIdentity"] == "");
    CHECK(e2.try_acquire_or_renew());
    CHECK(api->object(path)["spec"]["holderIdentity"] == "two");
    CHECK_FALSE(e1.try_acquire_or_renew());
    // "two" stops renewing: "one" waits a full lease duration of unchanged lease, then wins.
    std::stop_source never;
    const auto start = std::chrono::steady_clock::now();
    CHECK(e1.acquire(never.get_token()));
    CHECK(std::chrono::steady_clock::now() - start >= 900ms);
    CHECK(api->object(path)["spec"]["holderIdentity"] == "one");
    CHECK(api->object(path)["spec"]["leaseTransitions"] == 1);
}
