#include "op/cluster_spec.hpp"

namespace annal::op {
namespace {

using nlohmann::json;

bool read_policy(const json& storage, const char* key, VolumePolicy& out, std::string& error) {
    if (!storage.contains(key))
        return true;
    const std::string value = storage[key].is_string() ? storage[key].get<std::string>() : "";
    if (value == "Retain") {
        out = VolumePolicy::Retain;
    } else if (value == "Delete") {
        out = VolumePolicy::Delete;
    } else {
        error = std::string("spec.storage.") + key + " must be Retain or Delete";
        return false;
    }
    return true;
}

}  // namespace

const char* to_string(VolumePolicy policy) {
    return policy == VolumePolicy::Delete ? "Delete" : "Retain";
}

std::optional<ClusterSpec> parse_cluster(const json& object, std::string& error) {
    if (!object.is_object() || !object.contains("metadata")) {
        error = "not an object with metadata";
        return std::nullopt;
    }
    ClusterSpec c;
    const json& meta = object["metadata"];
    c.name = meta.value("name", std::string());
    c.ns = meta.value("namespace", std::string());
    c.uid = meta.value("uid", std::string());
    c.generation = meta.value("generation", std::int64_t{0});
    c.deleting = meta.contains("deletionTimestamp") && !meta["deletionTimestamp"].is_null();
    if (meta.contains("finalizers")) {
        for (const auto& f : meta["finalizers"])
            c.finalizers.push_back(f.get<std::string>());
    }
    if (c.name.empty()) {
        error = "metadata.name is empty";
        return std::nullopt;
    }
    const json spec = object.value("spec", json::object());
    if (spec.contains("replicas")) {
        if (!spec["replicas"].is_number_integer() || spec["replicas"].get<int>() < 1) {
            error = "spec.replicas must be an integer >= 1";
            return std::nullopt;
        }
        c.replicas = spec["replicas"].get<int>();
    }
    c.image = spec.value("image", c.image);
    const json storage = spec.value("storage", json::object());
    c.storage_size = storage.value("size", c.storage_size);
    c.storage_class = storage.value("storageClassName", std::string());
    if (!read_policy(storage, "onScaleDown", c.on_scale_down, error) ||
        !read_policy(storage, "onDelete", c.on_delete, error)) {
        return std::nullopt;
    }
    c.resources = spec.value("resources", json::object());
    const json tls = spec.value("tls", json::object());
    const std::string mode = tls.value("mode", std::string("Disabled"));
    if (mode == "Disabled") {
        c.tls_mode = TlsMode::Disabled;
    } else if (mode == "OperatorGenerated") {
        c.tls_mode = TlsMode::OperatorGenerated;
    } else if (mode == "Secret") {
        c.tls_mode = TlsMode::Secret;
        c.tls_secret = tls.value("secretName", std::string());
        if (c.tls_secret.empty()) {
            error = "spec.tls.secretName is required when spec.tls.mode is Secret";
            return std::nullopt;
        }
    } else {
        error = "spec.tls.mode must be Disabled, OperatorGenerated or Secret";
        return std::nullopt;
    }
    c.node_config = spec.value("config", json::object());
    const json pod = spec.value("podTemplate", json::object());
    c.affinity = pod.value("affinity", json());
    c.tolerations = pod.value("tolerations", json());
    c.topology_spread_constraints = pod.value("topologySpreadConstraints", json());
    c.node_selector = pod.value("nodeSelector", json());
    c.paused = spec.value("paused", false);
    return c;
}

}  // namespace annal::op
