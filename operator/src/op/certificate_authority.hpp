// A small X.509 certificate authority on OpenSSL 3 (EVP APIs), for the operator's
// `tls.mode: OperatorGenerated`: a self-signed CA, and certificates it signs for the nodes.
// Keys are EC P-256. Everything is PEM text in and out (what a Secret stores), and nothing
// throws: failures return nullopt/false with `error` set.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <vector>

namespace annal::op {

using Clock = std::chrono::system_clock;

struct PemKeyPair {
    std::string certificate;  // PEM "CERTIFICATE"
    std::string private_key;  // PEM "PRIVATE KEY" (PKCS#8, unencrypted)
};

struct CertificateRequest {
    std::string common_name;
    std::vector<std::string> dns_names;
    std::vector<std::string> ip_addresses;  // textual IPv4 or IPv6
    Clock::time_point now;
    std::chrono::seconds validity{0};
};

// What the reconciler needs to know about an existing certificate.
struct CertificateInfo {
    std::string common_name;
    std::vector<std::string> dns_names;
    std::vector<std::string> ip_addresses;
    Clock::time_point not_before;
    Clock::time_point not_after;
    bool is_ca = false;
    std::string serial_hex;
};

// Certificates are back-dated by this much so a node whose clock lags a little accepts them.
inline constexpr std::chrono::minutes kClockSkewAllowance{5};

// A self-signed CA certificate (basicConstraints CA:TRUE pathlen 0, keyCertSign + cRLSign).
std::optional<PemKeyPair> create_certificate_authority(const std::string& common_name,
                                                       Clock::time_point now,
                                                       std::chrono::seconds validity,
                                                       std::string& error);

// A leaf certificate signed by `ca` with a fresh key: CA:FALSE, digitalSignature, extended key
// usage serverAuth + clientAuth (peers authenticate each other with the same certificate),
// subjectAltName from the request's names. Never valid past the CA's own expiry.
std::optional<PemKeyPair> issue_certificate(const PemKeyPair& ca, const CertificateRequest& request,
                                            std::string& error);

std::optional<CertificateInfo> inspect_certificate(const std::string& certificate_pem,
                                                   std::string& error);

// True if `certificate_pem` chains to `ca_certificate_pem` and both are valid at `at`.
bool verify_certificate(const std::string& certificate_pem, const std::string& ca_certificate_pem,
                        Clock::time_point at, std::string& error);

// True if `private_key_pem` is the key of `certificate_pem`.
bool key_matches_certificate(const std::string& certificate_pem,
                             const std::string& private_key_pem);

}  // namespace annal::op
