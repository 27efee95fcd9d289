// When the operator (re)creates the cluster CA and the node certificate.
#include <doctest/doctest.h>

#include <algorithm>

#include "kube/base64.hpp"
#include "op/cluster_certificates.hpp"

using namespace annal::op;
using namespace std::chrono_literals;
using nlohmann::json;

namespace {

ClusterSpec cluster(int replicas) {
    ClusterSpec c;
    c.name = "demo";
    c.ns = "ns";
    c.uid = "u-1";
    c.replicas = replicas;
    c.tls_mode = TlsMode::OperatorGenerated;
    return c;
}

bool has(const std::vector<std::string>& names, const std::string& name) {
    return std::find(names.begin(), names.end(), name) != names.end();
}

struct Issued {
    PemKeyPair ca;
    json secret;
};

Issued issue(const ClusterSpec& c, Clock::time_point now) {
    std::string error;
    auto ca = create_certificate_authority(ca_common_name(c), now, kCaValidity, error);
    REQUIRE_MESSAGE(ca, error);
    auto node = issue_certificate(*ca, node_certificate_request(c, now), error);
    REQUIRE_MESSAGE(node, error);
    return {*ca, tls_secret(c, *node, ca->certificate)};
}

}  // namespace

TEST_CASE("base64 round-trips any bytes and rejects garbage") {
    for (const std::string& bytes : {std::string(), std::string("a"), std::string("ab"),
                                     std::string("abc"), std::string("\0\xff\x10z", 4)}) {
        CAPTURE(bytes.size());
        CHECK(annal::kube::base64_decode(annal::kube::base64_encode(bytes)) == bytes);
    }
    CHECK(annal::kube::base64_encode("abcd") == "YWJjZA==");
    CHECK(annal::kube::base64_decode("YWJj\nZA==") == std::string("abcd"));
    CHECK_FALSE(annal::kube::base64_decode("YWJ"));
    CHECK_FALSE(annal::kube::base64_decode("YW!j"));
}

TEST_CASE("the node certificate names every member, the Services and localhost") {
    const auto names = node_dns_names(cluster(3));
    for (int i = 0; i < 3; ++i) {
        const std::string peer = "demo-" + std::to_string(i) + ".demo-peers";
        CHECK(has(names, peer + ".ns.svc"));  // the peer address in cluster.yaml
        CHECK(has(names, peer + ".ns.svc.cluster.local"));
        CHECK(has(names, peer));
    }
    CHECK_FALSE(has(names, "demo-3.demo-peers.ns.svc"));
    for (const char* name : {"demo", "demo.ns", "demo.ns.svc", "demo.ns.svc.cluster.local",
                             "demo-peers.ns.svc", "localhost"}) {
        CHECK(has(names, name));
    }
    CHECK(node_ip_addresses() == std::vector<std::string>{"127.0.0.1", "::1"});
    CHECK(ca_secret_name(cluster(3)) == "demo-ca");
    CHECK(tls_secret_name(cluster(3)) == "demo-tls");
}

TEST_CASE("secrets carry the PEM the pods and the next reconcile read") {
    const auto now = Clock::now();
    const ClusterSpec c = cluster(3);
    Issued issued = issue(c, now);
    const json ca = ca_secret(c, issued.ca);
    CHECK(ca["metadata"]["name"] == "demo-ca");
    CHECK(ca["metadata"]["ownerReferences"][0]["uid"] == "u-1");
    CHECK(ca["metadata"]["ownerReferences"][0]["controller"] == true);
    auto back = ca_from_secret(ca);
    REQUIRE(back);
    CHECK(back->certificate == issued.ca.certificate);
    CHECK(back->private_key == issued.ca.private_key);
    const json& tls = issued.secret;
    CHECK(tls["type"] == "kubernetes.io/tls");
    CHECK(tls["metadata"]["name"] == "demo-tls");
    for (const char* key : {"tls.crt", "tls.key", "ca.crt"})
        CHECK(tls["data"].contains(key));
    CHECK(annal::kube::base64_decode(tls["data"]["ca.crt"].get<std::string>()) ==
          issued.ca.certificate);
    CHECK_FALSE(tls["data"].contains("ca.key"));  // the pods never get the CA's key
    CHECK_FALSE(tls_revision(tls).empty());
    CHECK(tls_revision(tls) != tls_revision(issue(c, now).secret));
}

TEST_CASE("the CA is kept while valid and replaced only when missing, unreadable or expired") {
    const auto now = Clock::now();
    Issued issued = issue(cluster(3), now);
    CHECK(check_ca(std::nullopt, now) == CaVerdict::Missing);
    CHECK(check_ca(issued.ca, now) == CaVerdict::Valid);
    // Close to its end a CA is still kept: replacing it would cut off its clients.
    CHECK(check_ca(issued.ca, now + kCaValidity - 1h) == CaVerdict::Valid);
    CHECK(check_ca(issued.ca, now + kCaValidity + 1h) == CaVerdict::Expired);
    CHECK(check_ca(PemKeyPair{"junk", issued.ca.private_key}, now) == CaVerdict::Unreadable);
    // A leaf certificate is no CA.
    std::string error;
    auto node = issue_certificate(issued.ca, node_certificate_request(cluster(3), now), error);
    REQUIRE(node);
    CHECK(check_ca(*node, now) == CaVerdict::Unreadable);
    // A CA certificate with someone else's key.
    auto other = create_certificate_authority("other", now, kCaValidity, error);
    REQUIRE(other);
    CHECK(check_ca(PemKeyPair{issued.ca.certificate, other->private_key}, now) ==
          CaVerdict::Unreadable);
}

TEST_CASE("the node certificate is re-issued on growth, near expiry and for another CA") {
    const auto now = Clock::now();
    Issued issued = issue(cluster(3), now);
    CHECK(check_node_certificate(cluster(3), json(), issued.ca, now) ==
          NodeCertificateVerdict::Missing);
    CHECK(check_node_certificate(cluster(3), issued.secret, issued.ca, now) ==
          NodeCertificateVerdict::Valid);
    // Scaling down keeps it (it still names every member); scaling up does not.
    CHECK(check_node_certificate(cluster(1), issued.secret, issued.ca, now) ==
          NodeCertificateVerdict::Valid);
    CHECK(check_node_certificate(cluster(5), issued.secret, issued.ca, now) ==
          NodeCertificateVerdict::NamesMissing);
    CHECK(check_node_certificate(cluster(3), issued.secret, issued.ca,
                                 now + kNodeCertificateValidity - kRenewBefore - 24h) ==
          NodeCertificateVerdict::Valid);
    CHECK(check_node_certificate(cluster(3), issued.secret, issued.ca,
                                 now + kNodeCertificateValidity - kRenewBefore + 24h) ==
          NodeCertificateVerdict::ExpiresSoon);
    Issued other = issue(cluster(3), now);
    CHECK(check_node_certificate(cluster(3), issued.secret, other.ca, now) ==
          NodeCertificateVerdict::OtherCa);
    json wrong_key = issued.secret;
    wrong_key["data"]["tls.key"] = other.secret["data"]["tls.key"];
    CHECK(check_node_certificate(cluster(3), wrong_key, issued.ca, now) ==
          NodeCertificateVerdict::Unreadable);
    json no_ca = issued.secret;
    no_ca["data"].erase("ca.crt");
    CHECK(check_node_certificate(cluster(3), no_ca, issued.ca, now) ==
          NodeCertificateVerdict::Unreadable);
    CHECK(std::string(to_string(NodeCertificateVerdict::NamesMissing)) == "NamesMissing");
}
