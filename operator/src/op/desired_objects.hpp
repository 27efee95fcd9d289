// The objects an AnnalCluster should own, as pure functions of its spec: no I/O, no
// clock, so every decision here is unit-tested. The reconciler server-side-applies them.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>

#include "op/cluster_spec.hpp"

namespace annal::op {

inline constexpr const char* kFieldManager = "annal-operator";
inline constexpr const char* kVolumeFinalizer = "annal.dev/delete-volumes";
inline constexpr const char* kConfigHashAnnotation = "annal.dev/config-hash";
inline constexpr const char* kDataVolume = "data";
inline constexpr int kDefaultPort = 2113;

// Labels on every owned object; the selector is the stable subset.
nlohmann::json common_labels(const ClusterSpec& c);
nlohmann::json selector_labels(const ClusterSpec& c);
// "k=v,k=v" form of selector_labels, for status.selector (the scale subresource / HPA).
std::string selector_string(const ClusterSpec& c);
// Owner reference to the AnnalCluster: controller, blockOwnerDeletion, so GC deletes us.
nlohmann::json owner_reference(const ClusterSpec& c);

std::string headless_service_name(const ClusterSpec& c);  // NAME-peers
std::string client_service_name(const ClusterSpec& c);    // NAME
std::string config_map_name(const ClusterSpec& c);        // NAME-config
std::string stateful_set_name(const ClusterSpec& c);      // NAME
std::string pdb_name(const ClusterSpec& c);               // NAME
int node_port(const ClusterSpec& c);

// Raft keeps working with a majority: at most (replicas-1)/2 may be down at once.
int pdb_max_unavailable(int replicas);
// Node shutdown grace (in-flight requests) plus time to hand leadership to a follower.
int termination_grace_seconds(const ClusterSpec& c);

// annal.yaml: the NodeConfig fields (spec.config plus what the operator decides).
std::string node_config_yaml(const ClusterSpec& c);
// cluster.yaml: the stable peer list for the clustering code of the replicated node.
std::string cluster_peers_yaml(const ClusterSpec& c);
// FNV-1a of the ConfigMap data, stamped on the pod template so config changes roll pods.
std::uint64_t config_hash(const ClusterSpec& c);

nlohmann::json headless_service(const ClusterSpec& c);
nlohmann::json client_service(const ClusterSpec& c);
nlohmann::json config_map(const ClusterSpec& c);
// `tls_revision` (tls.mode OperatorGenerated) changes with the node certificate, so the pods
// restart onto a re-issued one.
nlohmann::json stateful_set(const ClusterSpec& c, const std::string& tls_revision = {});
nlohmann::json pod_disruption_budget(const ClusterSpec& c, const std::string& api_version);

// Name of the PVC of ordinal `ordinal` (StatefulSet naming: TEMPLATE-STS-ORDINAL), and
// the ordinal of a PVC name of this cluster (-1 if it is not one).
std::string pvc_name(const ClusterSpec& c, int ordinal);
int pvc_ordinal(const ClusterSpec& c, const std::string& pvc);

}  // namespace annal::op
