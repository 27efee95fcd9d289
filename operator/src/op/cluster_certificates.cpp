#include "op/cluster_certificates.hpp"

#include <algorithm>

#include "kube/base64.hpp"
#include "op/desired_objects.hpp"

namespace annal::op {
namespace {

using nlohmann::json;

std::optional<std::string> secret_entry(const json& secret, const char* key) {
    const json data = secret.is_object() ? secret.value("data", json::object()) : json::object();
    if (!data.is_object() || !data.contains(key) || !data[key].is_string())
        return std::nullopt;
    return kube::base64_decode(data[key].get<std::string>());
}

json secret_metadata(const ClusterSpec& c, const std::string& name) {
    return {{"name", name},
            {"namespace", c.ns},
            {"labels", common_labels(c)},
            {"ownerReferences", json::array({owner_reference(c)})}};
}

}  // namespace

std::string ca_secret_name(const ClusterSpec& c) {
    return c.name + "-ca";
}
std::string tls_secret_name(const ClusterSpec& c) {
    return c.name + "-tls";
}

std::string ca_common_name(const ClusterSpec& c) {
    return "annal-ca " + c.name + "." + c.ns;
}

std::vector<std::string> node_dns_names(const ClusterSpec& c) {
    std::vector<std::string> names;
    auto with_domains = [&](const std::string& base) {
        names.push_back(base);
        names.push_back(base + "." + c.ns);
        names.push_back(base + "." + c.ns + ".svc");
        names.push_back(base + "." + c.ns + ".svc.cluster.local");
    };
    for (int i = 0; i < c.replicas; ++i)
        with_domains(stateful_set_name(c) + "-" + std::to_string(i) + "." +
                     headless_service_name(c));
    with_domains(client_service_name(c));
    with_domains(headless_service_name(c));
    names.push_back("localhost");
    return names;
}

std::vector<std::string> node_ip_addresses() {
    return {"127.0.0.1", "::1"};
}

CertificateRequest node_certificate_request(const ClusterSpec& c, Clock::time_point now) {
    return {client_service_name(c) + "." + c.ns + ".svc", node_dns_names(c), node_ip_addresses(),
            now, kNodeCertificateValidity};
}

std::optional<PemKeyPair> ca_from_secret(const json& secret) {
    auto cert = secret_entry(secret, "ca.crt");
    auto key = secret_entry(secret, "ca.key");
    if (!cert || !key)
        return std::nullopt;
    return PemKeyPair{*cert, *key};
}

CaVerdict check_ca(const std::optional<PemKeyPair>& ca, Clock::time_point now) {
    if (!ca)
        return CaVerdict::Missing;
    std::string error;
    const auto info = inspect_certificate(ca->certificate, error);
    if (!info || !info->is_ca || !key_matches_certificate(ca->certificate, ca->private_key))
        return CaVerdict::Unreadable;
    // Replacing a CA that is still valid would cut off every client that trusts it.
    if (info->not_after <= now)
        return CaVerdict::Expired;
    return CaVerdict::Valid;
}

NodeCertificateVerdict check_node_certificate(const ClusterSpec& c, const json& tls_secret,
                                              const PemKeyPair& ca, Clock::time_point now) {
    if (!tls_secret.is_object())
        return NodeCertificateVerdict::Missing;
    const auto cert = secret_entry(tls_secret, "tls.crt");
    const auto key = secret_entry(tls_secret, "tls.key");
    const auto ca_cert = secret_entry(tls_secret, "ca.crt");
    std::string error;
    const auto info = cert ? inspect_certificate(*cert, error) : std::nullopt;
    if (!info || !key || !ca_cert || !key_matches_certificate(*cert, *key))
        return NodeCertificateVerdict::Unreadable;
    if (*ca_cert != ca.certificate || !verify_certificate(*cert, ca.certificate, now, error))
        return NodeCertificateVerdict::OtherCa;
    for (const std::string& name : node_dns_names(c)) {
        if (std::find(info->dns_names.begin(), info->dns_names.end(), name) ==
            info->dns_names.end()) {
            return NodeCertificateVerdict::NamesMissing;
        }
    }
    if (info->not_after - now < kRenewBefore)
        return NodeCertificateVerdict::ExpiresSoon;
    return NodeCertificateVerdict::Valid;
}

const char* to_string(CaVerdict verdict) {
    switch (verdict) {
        case CaVerdict::Valid:
            return "Valid";
        case CaVerdict::Missing:
            return "Missing";
        case CaVerdict::Unreadable:
            return "Unreadable";
        case CaVerdict::Expired:
            return "Expired";
    }
    return "Unknown";
}

const char* to_string(NodeCertificateVerdict verdict) {
    switch (verdict) {
        case NodeCertificateVerdict::Valid:
            return "Valid";
        case NodeCertificateVerdict::Missing:
            return "Missing";
        case NodeCertificateVerdict::Unreadable:
            return "Unreadable";
        case NodeCertificateVerdict::OtherCa:
            return "OtherCa";
        case NodeCertificateVerdict::NamesMissing:
            return "NamesMissing";
        case NodeCertificateVerdict::ExpiresSoon:
            return "ExpiresSoon";
    }
    return "Unknown";
}

json ca_secret(const ClusterSpec& c, const PemKeyPair& ca) {
    return {{"apiVersion", "v1"},
            {"kind", "Secret"},
            {"metadata", secret_metadata(c, ca_secret_name(c))},
            {"type", "Opaque"},
            {"data",
             {{"ca.crt", kube::base64_encode(ca.certificate)},
              {"ca.key", kube::base64_encode(ca.private_key)}}}};
}

json tls_secret(const ClusterSpec& c, const PemKeyPair& node, const std::string& ca_certificate) {
    return {{"apiVersion", "v1"},
            {"kind", "Secret"},
            {"metadata", secret_metadata(c, tls_secret_name(c))},
            {"type", "kubernetes.io/tls"},
            {"data",
             {{"tls.crt", kube::base64_encode(node.certificate)},
              {"tls.key", kube::base64_encode(node.private_key)},
              {"ca.crt", kube::base64_encode(ca_certificate)}}}};
}

std::string tls_revision(const json& secret) {
    const auto cert = secret_entry(secret, "tls.crt");
    if (!cert)
        return {};
    std::uint64_t hash = 14695981039346656037ull;  // FNV-1a
    for (unsigned char byte : *cert) {
        hash ^= byte;
        hash *= 1099511628211ull;
    }
    return std::to_string(hash);
}

}  // namespace annal::op
