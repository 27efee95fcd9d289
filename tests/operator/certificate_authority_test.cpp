// The operator's CA, checked with OpenSSL itself (not with the code under test): chains,
// names, validity, key type and usages.
#include <doctest/doctest.h>

#include <algorithm>
#include <memory>
#include <set>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "op/certificate_authority.hpp"

using namespace annal::op;
using namespace std::chrono_literals;

namespace {

struct X509Free {
    void operator()(X509* p) const { X509_free(p); }
};
struct PkeyFree {
    void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
};
struct BioFree {
    void operator()(BIO* p) const { BIO_free_all(p); }
};
using X509Ptr = std::unique_ptr<X509, X509Free>;

X509Ptr parse(const std::string& pem) {
    std::unique_ptr<BIO, BioFree> bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
    return X509Ptr(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
}

std::unique_ptr<EVP_PKEY, PkeyFree> parse_key(const std::string& pem) {
    std::unique_ptr<BIO, BioFree> bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
    return std::unique_ptr<EVP_PKEY, PkeyFree>(
        PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr));
}

// X509_verify_cert with `ca` as the only trust anchor, for one TLS purpose, at `at`.
int openssl_verify(const std::string& cert_pem, const std::string& ca_pem, int purpose,
                   Clock::time_point at) {
    X509Ptr cert = parse(cert_pem);
    X509Ptr ca = parse(ca_pem);
    REQUIRE(cert);
    REQUIRE(ca);
    std::unique_ptr<X509_STORE, void (*)(X509_STORE*)> store(X509_STORE_new(), X509_STORE_free);
    std::unique_ptr<X509_STORE_CTX, void (*)(X509_STORE_CTX*)> ctx(X509_STORE_CTX_new(),
                                                                   X509_STORE_CTX_free);
    REQUIRE(X509_STORE_add_cert(store.get(), ca.get()) == 1);
    REQUIRE(X509_STORE_CTX_init(ctx.get(), store.get(), cert.get(), nullptr) == 1);
    REQUIRE(X509_STORE_CTX_set_purpose(ctx.get(), purpose) == 1);
    X509_STORE_CTX_set_time(ctx.get(), 0, Clock::to_time_t(at));
    if (X509_verify_cert(ctx.get()) == 1)
        return X509_V_OK;
    return X509_STORE_CTX_get_error(ctx.get());
}

std::string group_of(const std::string& key_pem) {
    auto key = parse_key(key_pem);
    REQUIRE(key);
    char name[64] = {};
    size_t length = 0;
    REQUIRE(EVP_PKEY_get_group_name(key.get(), name, sizeof name, &length) == 1);
    return name;
}

// Whole seconds: X.509 times have no fraction.
Clock::time_point now_seconds() {
    return Clock::from_time_t(Clock::to_time_t(Clock::now()));
}

CertificateRequest request(Clock::time_point now) {
    return {"demo.ns.svc",
            {"demo-0.demo-peers.ns.svc", "demo-1.demo-peers.ns.svc", "localhost"},
            {"127.0.0.1", "::1"},
            now,
            std::chrono::hours(24 * 365)};
}

}  // namespace

TEST_CASE("the CA is a self-signed EC P-256 CA valid for the requested time") {
    const auto now = now_seconds();
    std::string error;
    auto ca = create_certificate_authority("annal-ca demo.ns", now, 24h * 3650, error);
    REQUIRE_MESSAGE(ca, error);
    const std::string group = group_of(ca->private_key);
    CHECK((group == "prime256v1" || group == "P-256"));
    X509Ptr cert = parse(ca->certificate);
    REQUIRE(cert);
    CHECK(X509_check_ca(cert.get()) != 0);
    CHECK((X509_get_key_usage(cert.get()) & KU_KEY_CERT_SIGN) != 0);
    CHECK(X509_check_issued(cert.get(), cert.get()) == X509_V_OK);  // self-signed
    auto info = inspect_certificate(ca->certificate, error);
    REQUIRE(info);
    CHECK(info->is_ca);
    CHECK(info->common_name == "annal-ca demo.ns");
    CHECK(info->not_after == now + 24h * 3650);
    CHECK(info->not_before == now - kClockSkewAllowance);
    CHECK(key_matches_certificate(ca->certificate, ca->private_key));
}

TEST_CASE("a node certificate chains to its CA for TLS server and client use") {
    const auto now = now_seconds();
    std::string error;
    auto ca = create_certificate_authority("ca", now, 24h * 3650, error);
    REQUIRE(ca);
    auto node = issue_certificate(*ca, request(now), error);
    REQUIRE_MESSAGE(node, error);
    // Mutual TLS between peers: every node is both a server and a client.
    CHECK(openssl_verify(node->certificate, ca->certificate, X509_PURPOSE_SSL_SERVER, now) ==
          X509_V_OK);
    CHECK(openssl_verify(node->certificate, ca->certificate, X509_PURPOSE_SSL_CLIENT, now) ==
          X509_V_OK);
    CHECK(verify_certificate(node->certificate, ca->certificate, now, error));

    X509Ptr cert = parse(node->certificate);
    REQUIRE(cert);
    CHECK(X509_check_ca(cert.get()) == 0);
    CHECK((X509_get_key_usage(cert.get()) & KU_DIGITAL_SIGNATURE) != 0);
    CHECK((X509_get_key_usage(cert.get()) & KU_KEY_CERT_SIGN) == 0);
    const uint32_t eku = X509_get_extended_key_usage(cert.get());
    CHECK((eku & XKU_SSL_SERVER) != 0);
    CHECK((eku & XKU_SSL_CLIENT) != 0);
    // OpenSSL's own host and IP matching against the SANs.
    CHECK(X509_check_host(cert.get(), "demo-1.demo-peers.ns.svc", 0, 0, nullptr) == 1);
    CHECK(X509_check_host(cert.get(), "demo-2.demo-peers.ns.svc", 0, 0, nullptr) == 0);
    CHECK(X509_check_ip_asc(cert.get(), "127.0.0.1", 0) == 1);
    CHECK(X509_check_ip_asc(cert.get(), "::1", 0) == 1);

    auto info = inspect_certificate(node->certificate, error);
    REQUIRE(info);
    CHECK(info->dns_names == request(now).dns_names);
    CHECK(info->ip_addresses == std::vector<std::string>{"127.0.0.1", "::1"});
    CHECK(info->common_name == "demo.ns.svc");
    CHECK(info->not_before == now - kClockSkewAllowance);
    CHECK(info->not_after == now + 24h * 365);
    CHECK_FALSE(info->is_ca);
    CHECK(group_of(node->private_key) == group_of(ca->private_key));
    CHECK(key_matches_certificate(node->certificate, node->private_key));
    CHECK_FALSE(key_matches_certificate(node->certificate, ca->private_key));

    // Two issues never share a key or a serial.
    auto again = issue_certificate(*ca, request(now), error);
    REQUIRE(again);
    CHECK(again->private_key != node->private_key);
    CHECK(inspect_certificate(again->certificate, error)->serial_hex != info->serial_hex);
}

TEST_CASE("verification fails for another CA and outside the validity period") {
    const auto now = now_seconds();
    std::string error;
    auto ca = create_certificate_authority("ca", now, 24h * 3650, error);
    auto other = create_certificate_authority("other", now, 24h * 3650, error);
    REQUIRE(ca);
    REQUIRE(other);
    auto node = issue_certificate(*ca, request(now), error);
    REQUIRE(node);
    CHECK(openssl_verify(node->certificate, other->certificate, X509_PURPOSE_SSL_SERVER, now) !=
          X509_V_OK);
    CHECK_FALSE(verify_certificate(node->certificate, other->certificate, now, error));
    CHECK_FALSE(error.empty());
    CHECK(openssl_verify(node->certificate, ca->certificate, X509_PURPOSE_SSL_SERVER,
                         now + 24h * 366) == X509_V_ERR_CERT_HAS_EXPIRED);
    CHECK_FALSE(verify_certificate(node->certificate, ca->certificate, now + 24h * 366, error));
    CHECK(verify_certificate(node->certificate, ca->certificate, now + 24h * 364, error));
    CHECK_FALSE(verify_certificate(node->certificate, ca->certificate, now - 1h, error));
}

TEST_CASE("a node certificate never outlives its CA") {
    const auto now = now_seconds();
    std::string error;
    auto ca = create_certificate_authority("short", now, 24h * 10, error);
    REQUIRE(ca);
    auto node = issue_certificate(*ca, request(now), error);
    REQUIRE(node);
    CHECK(inspect_certificate(node->certificate, error)->not_after == now + 24h * 10);
    // An expired CA signs nothing.
    auto late = request(now + 24h * 11);
    CHECK_FALSE(issue_certificate(*ca, late, error));
    CHECK(error.find("expired") != std::string::npos);
}

TEST_CASE("bad input is an error, not a crash") {
    const auto now = now_seconds();
    std::string error;
    CHECK_FALSE(inspect_certificate("not a certificate", error));
    CHECK_FALSE(error.empty());
    CHECK_FALSE(verify_certificate("junk", "junk", now, error));
    CHECK_FALSE(key_matches_certificate("junk", "junk"));
    auto ca = create_certificate_authority("ca", now, 24h, error);
    REQUIRE(ca);
    auto no_names = request(now);
    no_names.dns_names.clear();
    no_names.ip_addresses.clear();
    CHECK_FALSE(issue_certificate(*ca, no_names, error));
    auto bad_name = request(now);
    bad_name.dns_names.push_back("a,DNS:evil.example");
    error.clear();
    CHECK_FALSE(issue_certificate(*ca, bad_name, error));
    CHECK(error.find("evil") != std::string::npos);
    auto bad_ip = request(now);
    bad_ip.ip_addresses = {"300.1.1.1"};
    CHECK_FALSE(issue_certificate(*ca, bad_ip, error));
    PemKeyPair mismatched{ca->certificate,
                          issue_certificate(*ca, request(now), error)->private_key};
    CHECK_FALSE(issue_certificate(mismatched, request(now), error));
}
