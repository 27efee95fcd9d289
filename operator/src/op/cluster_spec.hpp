// An AnnalCluster custom resource, read into a struct with the CRD's defaults applied, so
// the reconciler's decisions never re-interpret raw JSON.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace annal::op {

enum class VolumePolicy { Retain, Delete };
enum class TlsMode { Disabled, OperatorGenerated, Secret };

struct ClusterSpec {
    // identity
    std::string name;
    std::string ns;
    std::string uid;
    std::int64_t generation = 0;
    bool deleting = false;  // metadata.deletionTimestamp set
    std::vector<std::string> finalizers;
    // spec
    int replicas = 3;
    std::string image = "annal:latest";
    std::string storage_size = "1Gi";
    std::string storage_class;  // empty: the cluster default
    VolumePolicy on_scale_down = VolumePolicy::Delete;
    VolumePolicy on_delete = VolumePolicy::Retain;
    nlohmann::json resources = nlohmann::json::object();  // container resources
    TlsMode tls_mode = TlsMode::Disabled;
    std::string tls_secret;
    nlohmann::json node_config = nlohmann::json::object();  // NodeConfig fields
    nlohmann::json affinity;                                // null when unset
    nlohmann::json tolerations;
    nlohmann::json topology_spread_constraints;
    nlohmann::json node_selector;
    bool paused = false;
};

// Reads an AnnalCluster object. Fails (nullopt, `error`) only on values the CRD schema
// would also reject, in case the operator runs against an older CRD.
std::optional<ClusterSpec> parse_cluster(const nlohmann::json& object, std::string& error);

const char* to_string(VolumePolicy policy);

}  // namespace annal::op
