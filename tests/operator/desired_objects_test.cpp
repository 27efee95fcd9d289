#include <doctest/doctest.h>

#include "op/cluster_spec.hpp"
#include "op/desired_objects.hpp"

using namespace annal::op;
using nlohmann::json;

namespace {

json cluster_object(json spec) {
    return {
        {"apiVersion", "annal.dev/v1alpha1"},
        {"kind", "AnnalCluster"},
        {"metadata", {{"name", "demo"}, {"namespace", "ns1"}, {"uid", "u-1"}, {"generation", 4}}},
        {"spec", std::move(spec)}};
}

ClusterSpec spec_of(json spec) {
    std::string error;
    auto c = parse_cluster(cluster_object(std::move(spec)), error);
    REQUIRE_MESSAGE(c.has_value(), error);
    return *c;
}

void check_owned(const json& object) {
    const json& refs = object["metadata"]["ownerReferences"];
    REQUIRE(refs.size() == 1);
    CHECK(refs[0]["kind"] == "AnnalCluster");
    CHECK(refs[0]["apiVersion"] == "annal.dev/v1alpha1");
    CHECK(refs[0]["name"] == "demo");
    CHECK(refs[0]["uid"] == "u-1");
    CHECK(refs[0]["controller"] == true);
    CHECK(refs[0]["blockOwnerDeletion"] == true);
    CHECK(object["metadata"]["namespace"] == "ns1");
    CHECK(object["metadata"]["labels"]["app.kubernetes.io/instance"] == "demo");
    CHECK(object["metadata"]["labels"]["app.kubernetes.io/managed-by"] == "annal-operator");
}

}  // namespace

TEST_CASE("spec parsing applies defaults and rejects what the CRD would reject") {
    ClusterSpec c = spec_of({{"replicas", 5}, {"image", "annal:1"}});
    CHECK(c.replicas == 5);
    CHECK(c.generation == 4);
    CHECK(c.on_scale_down == VolumePolicy::Delete);
    CHECK(c.on_delete == VolumePolicy::Retain);
    CHECK(c.storage_size == "1Gi");
    CHECK_FALSE(c.paused);

    std::string error;
    CHECK_FALSE(parse_cluster(cluster_object({{"replicas", 0}}), error));
    CHECK(error.find("replicas") != std::string::npos);
    CHECK_FALSE(parse_cluster(cluster_object({{"storage", {{"onDelete", "Keep"}}}}), error));
    CHECK(error.find("onDelete") != std::string::npos);
    CHECK_FALSE(parse_cluster(cluster_object({{"tls", {{"mode", "Secret"}}}}), error));
    CHECK(error.find("secretName") != std::string::npos);
}

TEST_CASE("every owned object carries labels and a controller owner reference") {
    ClusterSpec c = spec_of({{"replicas", 3}, {"image", "annal:1"}});
    for (const json& o : {headless_service(c), client_service(c), config_map(c), stateful_set(c),
                          pod_disruption_budget(c, "policy/v1beta1")}) {
        CAPTURE(o["kind"]);
        check_owned(o);
    }
}

TEST_CASE("services: headless one publishes not-ready peers, client one is a ClusterIP") {
    ClusterSpec c =
        spec_of({{"replicas", 3}, {"image", "annal:1"}, {"config", {{"listen_port", 3000}}}});
    json peers = headless_service(c);
    CHECK(peers["metadata"]["name"] == "demo-peers");
    CHECK(peers["spec"]["clusterIP"] == "None");
    CHECK(peers["spec"]["publishNotReadyAddresses"] == true);
    CHECK(peers["spec"]["selector"] == selector_labels(c));
    CHECK(peers["spec"]["ports"][0]["port"] == 3000);
    json client = client_service(c);
    CHECK(client["metadata"]["name"] == "demo");
    CHECK_FALSE(client["spec"].contains("clusterIP"));
    CHECK(client["spec"]["ports"][0]["port"] == 3000);
}

TEST_CASE("the StatefulSet: replicas, probes, storage, command, grace period") {
    ClusterSpec c = spec_of({{"replicas", 3},
                             {"image", "registry/annal:2"},
                             {"storage", {{"size", "5Gi"}, {"storageClassName", "fast"}}},
                             {"config", {{"shutdown_grace_ms", 20000}}}});
    json sts = stateful_set(c);
    const json& spec = sts["spec"];
    CHECK(spec["replicas"] == 3);
    CHECK(spec["serviceName"] == "demo-peers");
    CHECK(spec["podManagementPolicy"] == "Parallel");
    CHECK(spec["selector"]["matchLabels"] == selector_labels(c));
    const json& pod = spec["template"]["spec"];
    // The selector must select the pod template, or the API server rejects the set.
    const json selector = selector_labels(c);
    for (const auto& [k, v] : selector.items()) {
        CHECK(spec["template"]["metadata"]["labels"][k] == v);
    }
    const json& container = pod["containers"][0];
    CHECK(container["image"] == "registry/annal:2");
    CHECK(container["command"] == json({"annal", "node", "--config", "/etc/annal/annal.yaml",
                                        "--data-dir", "/var/lib/annal"}));
    CHECK(container["readinessProbe"]["httpGet"]["path"] == "/readyz");
    CHECK(container["livenessProbe"]["httpGet"]["path"] == "/healthz");
    CHECK(pod["terminationGracePeriodSeconds"] == 20 + 15 + 5);
    CHECK(pod["terminationGracePeriodSeconds"].get<int>() > 20);
    const json& claim = spec["volumeClaimTemplates"][0];
    CHECK(claim["metadata"]["name"] == "data");
    CHECK(claim["spec"]["resources"]["requests"]["storage"] == "5Gi");
    CHECK(claim["spec"]["storageClassName"] == "fast");
    CHECK_FALSE(pod.contains("affinity"));
    CHECK_FALSE(pod.contains("tolerations"));
}

TEST_CASE("pod template overrides and resources are applied verbatim") {
    const json affinity = {{"podAntiAffinity",
                            {{"requiredDuringSchedulingIgnoredDuringExecution",
                              json::array({{{"topologyKey", "zone"}}})}}}};
    const json tolerations = json::array({{{"key", "dedicated"}, {"operator", "Exists"}}});
    const json spread = json::array({{{"maxSkew", 1}, {"topologyKey", "zone"}}});
    const json resources = {{"limits", {{"memory", "1Gi"}}}};
    ClusterSpec c = spec_of({{"replicas", 3},
                             {"image", "a"},
                             {"resources", resources},
                             {"podTemplate",
                              {{"affinity", affinity},
                               {"tolerations", tolerations},
                               {"topologySpreadConstraints", spread},
                               {"nodeSelector", {{"disk", "ssd"}}}}}});
    const json pod = stateful_set(c)["spec"]["template"]["spec"];
    CHECK(pod["affinity"] == affinity);
    CHECK(pod["tolerations"] == tolerations);
    CHECK(pod["topologySpreadConstraints"] == spread);
    CHECK(pod["nodeSelector"]["disk"] == "ssd");
    CHECK(pod["containers"][0]["resources"] == resources);
}

TEST_CASE("PDB maxUnavailable never allows losing quorum") {
    const int expected[] = {0, 0, 0, 1, 1, 2, 2, 3};  // index = replicas
    for (int replicas = 1; replicas <= 7; ++replicas) {
        CAPTURE(replicas);
        ClusterSpec c = spec_of({{"replicas", replicas}, {"image", "a"}});
        json pdb = pod_disruption_budget(c, "policy/v1");
        const int max_unavailable = pdb["spec"]["maxUnavailable"].get<int>();
        CHECK(max_unavailable == expected[replicas]);
        // The members left after the allowed disruptions still form a majority.
        CHECK(replicas - max_unavailable >= replicas / 2 + 1);
        CHECK(pdb["apiVersion"] == "policy/v1");
        CHECK(pdb["spec"]["selector"]["matchLabels"] == selector_labels(c));
    }
    CHECK(pod_disruption_budget(spec_of({{"replicas", 3}, {"image", "a"}}),
                                "policy/v1beta1")["apiVersion"] == "policy/v1beta1");
}

TEST_CASE("config map: node config with operator-owned fields, stable peer names") {
    ClusterSpec c = spec_of({{"replicas", 3},
                             {"image", "a"},
                             {"config", {{"io_threads", 4}, {"data_dir", "/elsewhere"}}}});
    json cm = config_map(c);
    const std::string node = cm["data"]["annal.yaml"];
    CHECK(node.find("io_threads: 4\n") != std::string::npos);
    CHECK(node.find("data_dir: \"/var/lib/annal\"\n") != std::string::npos);
    CHECK(node.find("/elsewhere") == std::string::npos);
    CHECK(node.find("listen_address: \"0.0.0.0\"\n") != std::string::npos);
    const std::string peers = cm["data"]["cluster.yaml"];
    CHECK(peers.find("address: demo-2.demo-peers.ns1.svc:2113") != std::string::npos);
    CHECK(peers.find("demo-3") == std::string::npos);
    // A config change changes the pod template (rolling the pods); the same spec does not.
    const auto before = stateful_set(c)["spec"]["template"]["metadata"]["annotations"];
    CHECK(before == stateful_set(c)["spec"]["template"]["metadata"]["annotations"]);
    c.node_config["io_threads"] = 8;
    CHECK(before != stateful_set(c)["spec"]["template"]["metadata"]["annotations"]);
}

TEST_CASE("TLS from a Secret mounts it outside the ConfigMap volume") {
    ClusterSpec c = spec_of(
        {{"replicas", 1}, {"image", "a"}, {"tls", {{"mode", "Secret"}, {"secretName", "certs"}}}});
    const json pod = stateful_set(c)["spec"]["template"]["spec"];
    CHECK(pod["volumes"][1]["secret"]["secretName"] == "certs");
    CHECK(pod["containers"][0]["volumeMounts"][2]["mountPath"] == "/etc/annal-tls");
}

TEST_CASE("with TLS the node config names the mounted files and the probes use HTTPS") {
    for (const char* mode : {"Secret", "OperatorGenerated"}) {
        CAPTURE(mode);
        ClusterSpec c = spec_of(
            {{"replicas", 3}, {"image", "a"}, {"tls", {{"mode", mode}, {"secretName", "certs"}}}});
        const std::string node = config_map(c)["data"]["annal.yaml"];
        CHECK(node.find("tls_cert_file: \"/etc/annal-tls/tls.crt\"\n") != std::string::npos);
        CHECK(node.find("tls_key_file: \"/etc/annal-tls/tls.key\"\n") != std::string::npos);
        CHECK(node.find("tls_ca_file: \"/etc/annal-tls/ca.crt\"\n") != std::string::npos);
        const json container = stateful_set(c, "r1")["spec"]["template"]["spec"]["containers"][0];
        CHECK(container["readinessProbe"]["httpGet"]["scheme"] == "HTTPS");
        CHECK(container["livenessProbe"]["httpGet"]["scheme"] == "HTTPS");
    }
    // Without TLS: no TLS settings, plain HTTP probes (Kubernetes' default scheme).
    ClusterSpec plain = spec_of({{"replicas", 3}, {"image", "a"}});
    const std::string node = config_map(plain)["data"]["annal.yaml"];
    CHECK(node.find("tls_") == std::string::npos);
    const json container = stateful_set(plain)["spec"]["template"]["spec"]["containers"][0];
    CHECK_FALSE(container["readinessProbe"]["httpGet"].contains("scheme"));
    CHECK_FALSE(container["livenessProbe"]["httpGet"].contains("scheme"));
}

TEST_CASE("PVC names and ordinals of removed members") {
    ClusterSpec c = spec_of({{"replicas", 3}, {"image", "a"}});
    CHECK(pvc_name(c, 4) == "data-demo-4");
    CHECK(pvc_ordinal(c, "data-demo-4") == 4);
    CHECK(pvc_ordinal(c, "data-demo-12") == 12);
    CHECK(pvc_ordinal(c, "data-demo-x-1") == -1);  // another cluster "demo-x"
    CHECK(pvc_ordinal(c, "data-demo-") == -1);
    CHECK(pvc_ordinal(c, "other-demo-1") == -1);
    CHECK(selector_string(c) == "app.kubernetes.io/instance=demo,app.kubernetes.io/name=annal");
}

TEST_CASE("TLS generated by the operator mounts NAME-tls the same way; its revision rolls pods") {
    ClusterSpec c =
        spec_of({{"replicas", 1}, {"image", "a"}, {"tls", {{"mode", "OperatorGenerated"}}}});
    const json pod = stateful_set(c, "r1")["spec"]["template"];
    CHECK(pod["spec"]["volumes"][1]["secret"]["secretName"] == "demo-tls");
    CHECK(pod["spec"]["containers"][0]["volumeMounts"][2]["mountPath"] == "/etc/annal-tls");
    CHECK(pod["metadata"]["annotations"]["annal.dev/tls-revision"] == "r1");
    CHECK(stateful_set(c, "r2")["spec"]["template"] != pod);
    // Without TLS there is no volume and no revision.
    ClusterSpec plain = spec_of({{"replicas", 1}, {"image", "a"}});
    const json plain_pod = stateful_set(plain)["spec"]["template"];
    CHECK(plain_pod["spec"]["volumes"].size() == 1);
    CHECK_FALSE(plain_pod["metadata"]["annotations"].contains("annal.dev/tls-revision"));
}
