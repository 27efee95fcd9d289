#include "op/desired_objects.hpp"

#include <algorithm>
#include <charconv>

#include "op/cluster_certificates.hpp"

namespace annal::op {
namespace {

using nlohmann::json;

json metadata(const ClusterSpec& c, const std::string& name) {
    return {{"name", name},
            {"namespace", c.ns},
            {"labels", common_labels(c)},
            {"ownerReferences", json::array({owner_reference(c)})}};
}

std::string yaml_scalar(const json& value) {
    if (value.is_string())
        return json(value.get<std::string>()).dump();  // quoted, escaped
    return value.dump();
}

}  // namespace

json common_labels(const ClusterSpec& c) {
    json labels = selector_labels(c);
    labels["app.kubernetes.io/managed-by"] = "annal-operator";
    labels["app.kubernetes.io/component"] = "node";
    return labels;
}

json selector_labels(const ClusterSpec& c) {
    return {{"app.kubernetes.io/name", "annal"}, {"app.kubernetes.io/instance", c.name}};
}

std::string selector_string(const ClusterSpec& c) {
    std::string out;
    const json labels = selector_labels(c);
    for (const auto& [key, value] : labels.items()) {  // sorted by key
        if (!out.empty())
            out += ",";
        out += key + "=" + value.get<std::string>();
    }
    return out;
}

json owner_reference(const ClusterSpec& c) {
    return {{"apiVersion", "annal.dev/v1alpha1"},
            {"kind", "AnnalCluster"},
            {"name", c.name},
            {"uid", c.uid},
            {"controller", true},
            {"blockOwnerDeletion", true}};
}

std::string headless_service_name(const ClusterSpec& c) {
    return c.name + "-peers";
}
std::string client_service_name(const ClusterSpec& c) {
    return c.name;
}
std::string config_map_name(const ClusterSpec& c) {
    return c.name + "-config";
}
std::string stateful_set_name(const ClusterSpec& c) {
    return c.name;
}
std::string pdb_name(const ClusterSpec& c) {
    return c.name;
}

int node_port(const ClusterSpec& c) {
    if (c.node_config.contains("listen_port") && c.node_config["listen_port"].is_number()) {
        return c.node_config["listen_port"].get<int>();
    }
    return kDefaultPort;
}

int pdb_max_unavailable(int replicas) {
    return std::max(0, (replicas - 1) / 2);
}

int termination_grace_seconds(const ClusterSpec& c) {
    const int shutdown_ms = c.node_config.value("shutdown_grace_ms", 10000);
    constexpr int leadership_transfer_seconds = 15;  // a few election timeouts, with margin
    constexpr int margin_seconds = 5;
    return (shutdown_ms + 999) / 1000 + leadership_transfer_seconds + margin_seconds;
}

std::string node_config_yaml(const ClusterSpec& c) {
    json config = c.node_config;
    // The pod's layout is the operator's decision, not the user's.
    config["data_dir"] = "/var/lib/annal";
    config["listen_address"] = "0.0.0.0";
    config["listen_port"] = node_port(c);
    if (c.tls_mode != TlsMode::Disabled) {
        // The mounted Secret (kubernetes.io/tls layout plus ca.crt): the node serves https
        // and its peers must present a certificate from the same CA.
        const std::string dir = kTlsMountPath;
        config["tls_cert_file"] = dir + "/tls.crt";
        config["tls_key_file"] = dir + "/tls.key";
        config["tls_ca_file"] = dir + "/ca.crt";
    }
    std::string out = "# Written by annal-operator from AnnalCluster " + c.name + ".\n";
    for (const auto& [key, value] : config.items())
        out += key + ": " + yaml_scalar(value) + "\n";
    return out;
}

std::string cluster_peers_yaml(const ClusterSpec& c) {
    // Stable DNS names through the headless Service, never pod IPs (they change on restart).
    std::string out =
        "# Written by annal-operator. Peer i is pod NAME-i; a pod finds its own ordinal from\n"
        "# POD_NAME. The replicated node reads this as its initial cluster.\n";
    out += "cluster_name: " + json(c.name).dump() + "\n";
    out += "namespace: " + json(c.ns).dump() + "\n";
    out += "replicas: " + std::to_string(c.replicas) + "\n";
    out += "peers:\n";
    for (int i = 0; i < c.replicas; ++i) {
        const std::string pod = stateful_set_name(c) + "-" + std::to_string(i);
        out += "  - ordinal: " + std::to_string(i) + "\n";
        out += "    name: " + pod + "\n";
        out += "    address: " + pod + "." + headless_service_name(c) + "." + c.ns +
               ".svc:" + std::to_string(node_port(c)) + "\n";
    }
    return out;
}

std::uint64_t config_hash(const ClusterSpec& c) {
    std::uint64_t hash = 14695981039346656037ull;
    for (const std::string& part : {node_config_yaml(c), cluster_peers_yaml(c)}) {
        for (unsigned char byte : part) {
            hash ^= byte;
            hash *= 1099511628211ull;
        }
    }
    return hash;
}

json headless_service(const ClusterSpec& c) {
    return {{"apiVersion", "v1"},
            {"kind", "Service"},
            {"metadata", metadata(c, headless_service_name(c))},
            {"spec",
             {{"clusterIP", "None"},
              // Peers must resolve each other before they are ready, or no quorum forms.
              {"publishNotReadyAddresses", true},
              {"selector", selector_labels(c)},
              {"ports", json::array({{{"name", "peer"},
                                      {"port", node_port(c)},
                                      {"targetPort", "client"},
                                      {"protocol", "TCP"}}})}}}};
}

json client_service(const ClusterSpec& c) {
    return {{"apiVersion", "v1"},
            {"kind", "Service"},
            {"metadata", metadata(c, client_service_name(c))},
            {"spec",
             {{"type", "ClusterIP"},
              {"selector", selector_labels(c)},
              {"ports", json::array({{{"name", "client"},
                                      {"port", node_port(c)},
                                      {"targetPort", "client"},
                                      {"protocol", "TCP"}}})}}}};
}

json config_map(const ClusterSpec& c) {
    return {
        {"apiVersion", "v1"},
        {"kind", "ConfigMap"},
        {"metadata", metadata(c, config_map_name(c))},
        {"data", {{"annal.yaml", node_config_yaml(c)}, {"cluster.yaml", cluster_peers_yaml(c)}}}};
}

namespace {
// With TLS the port speaks only TLS; the kubelet's HTTPS probe does not check the
// certificate, which is fine for a liveness signal.
json probe_target(const ClusterSpec& c, const char* path) {
    json target = {{"path", path}, {"port", "client"}};
    if (c.tls_mode != TlsMode::Disabled)
        target["scheme"] = "HTTPS";
    return target;
}
}  // namespace

json stateful_set(const ClusterSpec& c, const std::string& tls_revision) {
    json container = {
        {"name", "annal"},
        {"image", c.image},
        {"imagePullPolicy", "IfNotPresent"},
        {"command",
         {"annal", "node", "--config", "/etc/annal/annal.yaml", "--data-dir", "/var/lib/annal"}},
        {"env",
         {{{"name", "POD_NAME"}, {"valueFrom", {{"fieldRef", {{"fieldPath", "metadata.name"}}}}}},
          {{"name", "POD_NAMESPACE"},
           {"valueFrom", {{"fieldRef", {{"fieldPath", "metadata.namespace"}}}}}},
          {{"name", "ANNAL_CLUSTER_FILE"}, {"value", "/etc/annal/cluster.yaml"}}}},
        {"ports", {{{"name", "client"}, {"containerPort", node_port(c)}, {"protocol", "TCP"}}}},
        {"readinessProbe",
         {{"httpGet", probe_target(c, "/readyz")}, {"periodSeconds", 5}, {"failureThreshold", 3}}},
        {"livenessProbe",
         {{"httpGet", probe_target(c, "/healthz")},
          {"initialDelaySeconds", 10},
          {"periodSeconds", 10},
          {"failureThreshold", 6}}},
        {"volumeMounts",
         {{{"name", kDataVolume}, {"mountPath", "/var/lib/annal"}},
          {{"name", "config"}, {"mountPath", "/etc/annal"}, {"readOnly", true}}}}};
    if (!c.resources.empty())
        container["resources"] = c.resources;
    json volumes = {{{"name", "config"}, {"configMap", {{"name", config_map_name(c)}}}}};
    if (c.tls_mode != TlsMode::Disabled) {
        // Not under /etc/annal: a ConfigMap volume cannot host a nested mount point.
        container["volumeMounts"].push_back(
            {{"name", "tls"}, {"mountPath", kTlsMountPath}, {"readOnly", true}});
        const std::string secret =
            c.tls_mode == TlsMode::Secret ? c.tls_secret : tls_secret_name(c);
        volumes.push_back({{"name", "tls"}, {"secret", {{"secretName", secret}}}});
    }
    json pod_labels = common_labels(c);
    json pod_annotations = {{kConfigHashAnnotation, std::to_string(config_hash(c))}};
    if (!tls_revision.empty())
        pod_annotations[kTlsRevisionAnnotation] = tls_revision;
    json pod_spec = {{"terminationGracePeriodSeconds", termination_grace_seconds(c)},
                     {"containers", json::array({container})},
                     {"volumes", volumes}};
    if (!c.affinity.is_null())
        pod_spec["affinity"] = c.affinity;
    if (!c.tolerations.is_null())
        pod_spec["tolerations"] = c.tolerations;
    if (!c.topology_spread_constraints.is_null()) {
        pod_spec["topologySpreadConstraints"] = c.topology_spread_constraints;
    }
    if (!c.node_selector.is_null())
        pod_spec["nodeSelector"] = c.node_selector;

    json claim_spec = {{"accessModes", {"ReadWriteOnce"}},
                       {"resources", {{"requests", {{"storage", c.storage_size}}}}}};
    if (!c.storage_class.empty())
        claim_spec["storageClassName"] = c.storage_class;

    return {{"apiVersion", "apps/v1"},
            {"kind", "StatefulSet"},
            {"metadata", metadata(c, stateful_set_name(c))},
            {"spec",
             {{"replicas", c.replicas},
              {"serviceName", headless_service_name(c)},
              // Parallel: a Raft cluster needs a majority up together to elect a leader, and
              // a node is not ready before that, so OrderedReady would wait on pod 0 forever.
              // Rolling updates still replace one pod at a time.
              {"podManagementPolicy", "Parallel"},
              {"updateStrategy", {{"type", "RollingUpdate"}}},
              {"selector", {{"matchLabels", selector_labels(c)}}},
              {"template",
               {{"metadata", {{"labels", pod_labels}, {"annotations", pod_annotations}}},
                {"spec", pod_spec}}},
              {"volumeClaimTemplates",
               {{{"metadata", {{"name", kDataVolume}, {"labels", selector_labels(c)}}},
                 {"spec", claim_spec}}}}}}};
}

json pod_disruption_budget(const ClusterSpec& c, const std::string& api_version) {
    return {{"apiVersion", api_version},
            {"kind", "PodDisruptionBudget"},
            {"metadata", metadata(c, pdb_name(c))},
            {"spec",
             {{"maxUnavailable", pdb_max_unavailable(c.replicas)},
              {"selector", {{"matchLabels", selector_labels(c)}}}}}};
}

std::string pvc_name(const ClusterSpec& c, int ordinal) {
    return std::string(kDataVolume) + "-" + stateful_set_name(c) + "-" + std::to_string(ordinal);
}

int pvc_ordinal(const ClusterSpec& c, const std::string& pvc) {
    const std::string prefix = std::string(kDataVolume) + "-" + stateful_set_name(c) + "-";
    if (pvc.size() <= prefix.size() || pvc.compare(0, prefix.size(), prefix) != 0)
        return -1;
    int ordinal = -1;
    const char* first = pvc.data() + prefix.size();
    const char* last = pvc.data() + pvc.size();
    auto [end, ec] = std::from_chars(first, last, ordinal);
    if (ec != std::errc() || end != last || ordinal < 0)
        return -1;
    return ordinal;
}

}  // namespace annal::op
