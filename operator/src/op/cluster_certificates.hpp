// tls.mode OperatorGenerated: which certificates a cluster needs, and when to (re)issue
// them, as pure functions (no I/O; the clock is a parameter) so every decision is unit-tested.
//
// One node certificate for the whole cluster, not one per pod: the StatefulSet's pod
// template is the same for every ordinal, so each pod can only mount the same Secret at the
// same path. Its SANs list every member's stable peer name explicitly (no wildcard, so the
// certificate names exactly the members it was issued for) plus the client Service names and
// localhost; scaling up beyond the covered ordinals re-issues it, scaling down does not.
#pragma once

#include <nlohmann/json.hpp>

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "op/certificate_authority.hpp"
#include "op/cluster_spec.hpp"

namespace annal::op {

inline constexpr const char* kTlsMountPath = "/etc/annal-tls";
inline constexpr const char* kTlsRevisionAnnotation = "annal.dev/tls-revision";
inline constexpr std::chrono::hours kCaValidity{24 * 3650};
inline constexpr std::chrono::hours kNodeCertificateValidity{24 * 365};
// Re-issue when less than this is left, so a node never serves an expired certificate
// even if the operator is down for a while.
inline constexpr std::chrono::hours kRenewBefore{24 * 30};

std::string ca_secret_name(const ClusterSpec& c);   // NAME-ca
std::string tls_secret_name(const ClusterSpec& c);  // NAME-tls: what the pods mount

// Every name a member is reached by: NAME-i.NAME-peers[.NS[.svc[.cluster.local]]] for each
// ordinal < replicas, the client and headless Services, and localhost.
std::vector<std::string> node_dns_names(const ClusterSpec& c);
std::vector<std::string> node_ip_addresses();
CertificateRequest node_certificate_request(const ClusterSpec& c, Clock::time_point now);
std::string ca_common_name(const ClusterSpec& c);

// The PEM entries of a Secret (decoded from base64); nullopt if one is missing or garbled.
std::optional<PemKeyPair> ca_from_secret(const nlohmann::json& secret);

// Why the CA must be (re)created; Valid means keep it.
enum class CaVerdict { Valid, Missing, Unreadable, Expired };
CaVerdict check_ca(const std::optional<PemKeyPair>& ca, Clock::time_point now);

// Why the node certificate Secret must be re-issued; Valid means keep it.
enum class NodeCertificateVerdict {
    Valid,
    Missing,
    Unreadable,    // an entry is missing or not PEM, or the key is not the cert's
    OtherCa,       // does not chain to the current CA (or ca.crt is not the current CA)
    NamesMissing,  // the cluster grew past the members it names
    ExpiresSoon,   // less than kRenewBefore left
};
NodeCertificateVerdict check_node_certificate(const ClusterSpec& c,
                                              const nlohmann::json& tls_secret,
                                              const PemKeyPair& ca, Clock::time_point now);
// CamelCase, for events and logs.
const char* to_string(CaVerdict verdict);
const char* to_string(NodeCertificateVerdict verdict);

nlohmann::json ca_secret(const ClusterSpec& c, const PemKeyPair& ca);
// kubernetes.io/tls with ca.crt, the layout mode Secret expects from a user's Secret.
nlohmann::json tls_secret(const ClusterSpec& c, const PemKeyPair& node,
                          const std::string& ca_certificate);
// Changes whenever the node certificate does; on the pod template so pods restart onto it.
std::string tls_revision(const nlohmann::json& tls_secret);

}  // namespace annal::op
