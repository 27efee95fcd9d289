#include "api/kubernetes_cluster_file.hpp"

#include <yaml-cpp/yaml.h>

#include <cstdlib>
#include <vector>

#include "api/initial_cluster.hpp"

namespace annal::api {

bool apply_kubernetes_environment(NodeConfig& config, std::string& error) {
    const char* file = std::getenv("ANNAL_CLUSTER_FILE");
    const char* pod = std::getenv("POD_NAME");
    if (!config.initial_cluster.empty() || config.join || file == nullptr || pod == nullptr ||
        *file == '\0' || *pod == '\0') {
        return true;
    }
    return apply_kubernetes_cluster_file(file, pod, config, error);
}

bool apply_kubernetes_cluster_file(const std::string& path, const std::string& pod_name,
                                   NodeConfig& config, std::string& error) {
    try {
        const YAML::Node root = YAML::LoadFile(path);
        const std::string cluster_name = root["cluster_name"].as<std::string>("");
        const std::string ns = root["namespace"].as<std::string>("");
        const YAML::Node peers = root["peers"];
        if (cluster_name.empty() || ns.empty() || !peers.IsSequence() || peers.size() == 0) {
            error = path + ": expected cluster_name, namespace and a non-empty peers list";
            return false;
        }
        std::vector<ClusterMember> members;
        std::uint64_t self = 0;
        std::string self_address;
        for (const auto& peer : peers) {
            const auto ordinal = peer["ordinal"].as<long long>(-1);
            const auto name = peer["name"].as<std::string>("");
            const auto address = peer["address"].as<std::string>("");
            if (ordinal < 0 || name.empty() || address.empty()) {
                error = path + ": every peer needs ordinal (>= 0), name and address";
                return false;
            }
            const auto id = static_cast<std::uint64_t>(ordinal) + 1;
            members.push_back(ClusterMember{id, address});
            if (name == pod_name) {
                self = id;
                self_address = address;
            }
        }
        if (self == 0) {
            error = path + ": no peer is named '" + pod_name + "' (POD_NAME)";
            return false;
        }
        config.node_id = self;
        config.initial_cluster = format_initial_cluster(members);
        config.cluster_id = ns + "/" + cluster_name;
        if (config.advertise_address.empty()) {
            config.advertise_address = self_address;
        }
        return true;
    } catch (const YAML::Exception& exception) {
        error = path + ": " + exception.what();
        return false;
    }
}

}  // namespace annal::api
