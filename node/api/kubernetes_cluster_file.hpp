// Cluster settings derived from the operator's cluster.yaml (operator/src/op/
// desired_objects.cpp, cluster_peers_yaml): inside a StatefulSet pod every node reads the
// same file and finds itself by POD_NAME, so no per-pod configuration is needed.
#pragma once

#include <string>

#include "api/node_config.hpp"

namespace annal::api {

// When `initial_cluster` is empty and both ANNAL_CLUSTER_FILE and POD_NAME are set in
// the environment, applies apply_kubernetes_cluster_file(). Otherwise changes nothing.
bool apply_kubernetes_environment(NodeConfig& config, std::string& error);

// node_id = ordinal + 1 of the peer named `pod_name`; initial_cluster = every peer as
// "ordinal+1=address"; cluster_id = "namespace/cluster_name"; advertise_address = the
// peer's own address unless one is configured.
bool apply_kubernetes_cluster_file(const std::string& path, const std::string& pod_name,
                                   NodeConfig& config, std::string& error);

}  // namespace annal::api
