#include "op/certificate_authority.hpp"

#include <arpa/inet.h>

#include <algorithm>
#include <ctime>
#include <memory>

#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

namespace annal::op {
namespace {

template <auto Free>
struct FreeWith {
    template <typename T>
    void operator()(T* p) const {
        Free(p);
    }
};
using Key = std::unique_ptr<EVP_PKEY, FreeWith<EVP_PKEY_free>>;
using KeyContext = std::unique_ptr<EVP_PKEY_CTX, FreeWith<EVP_PKEY_CTX_free>>;
using Certificate = std::unique_ptr<X509, FreeWith<X509_free>>;
using Bio = std::unique_ptr<BIO, FreeWith<BIO_free_all>>;
using BigNumber = std::unique_ptr<BIGNUM, FreeWith<BN_free>>;
using Extension = std::unique_ptr<X509_EXTENSION, FreeWith<X509_EXTENSION_free>>;
using Store = std::unique_ptr<X509_STORE, FreeWith<X509_STORE_free>>;
using StoreContext = std::unique_ptr<X509_STORE_CTX, FreeWith<X509_STORE_CTX_free>>;
using GeneralNames = std::unique_ptr<GENERAL_NAMES, FreeWith<GENERAL_NAMES_free>>;

// X.509 limits a commonName to 64 characters; the SANs carry the full names anyway.
constexpr std::size_t kMaxCommonName = 64;

// Drains OpenSSL's thread-local error queue into one message, so a later call on this
// thread does not report a stale error.
std::string openssl_error(const std::string& what) {
    std::string out = what;
    while (const unsigned long code = ERR_get_error()) {
        char buffer[256];
        ERR_error_string_n(code, buffer, sizeof buffer);
        out += out == what ? ": " : "; ";
        out += buffer;
    }
    return out;
}

Key generate_key(std::string& error) {
    KeyContext context(EVP_PKEY_CTX_new_from_name(nullptr, "EC", nullptr));
    EVP_PKEY* raw = nullptr;
    if (!context || EVP_PKEY_keygen_init(context.get()) <= 0 ||
        EVP_PKEY_CTX_set_group_name(context.get(), "P-256") <= 0 ||
        EVP_PKEY_generate(context.get(), &raw) <= 0) {
        error = openssl_error("generating an EC P-256 key");
        return nullptr;
    }
    return Key(raw);
}

Certificate read_certificate(const std::string& pem, std::string& error) {
    Bio bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
    Certificate cert(bio ? PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr) : nullptr);
    if (!cert)
        error = openssl_error("reading a PEM certificate");
    return cert;
}

Key read_private_key(const std::string& pem, std::string& error) {
    Bio bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
    Key key(bio ? PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr) : nullptr);
    if (!key)
        error = openssl_error("reading a PEM private key");
    return key;
}

std::optional<PemKeyPair> to_pem(X509* cert, EVP_PKEY* key, std::string& error) {
    Bio cert_bio(BIO_new(BIO_s_mem()));
    Bio key_bio(BIO_new(BIO_s_mem()));
    if (!cert_bio || !key_bio || PEM_write_bio_X509(cert_bio.get(), cert) != 1 ||
        PEM_write_bio_PrivateKey(key_bio.get(), key, nullptr, nullptr, 0, nullptr, nullptr) != 1) {
        error = openssl_error("writing PEM");
        return std::nullopt;
    }
    auto text = [](BIO* bio) {
        char* data = nullptr;
        const long size = BIO_get_mem_data(bio, &data);
        return std::string(data, static_cast<std::size_t>(size));
    };
    return PemKeyPair{text(cert_bio.get()), text(key_bio.get())};
}

std::optional<Clock::time_point> to_time_point(const ASN1_TIME* time) {
    std::tm parts{};
    if (time == nullptr || ASN1_TIME_to_tm(time, &parts) != 1)
        return std::nullopt;
    return Clock::from_time_t(timegm(&parts));
}

// A fresh certificate with a random positive 127-bit serial (RFC 5280 allows up to 20
// octets; randomness keeps serials unique without a counter to persist).
Certificate new_certificate(const std::string& common_name, EVP_PKEY* public_key,
                            Clock::time_point not_before, Clock::time_point not_after,
                            std::string& error) {
    Certificate cert(X509_new());
    unsigned char serial[16];
    if (!cert || RAND_bytes(serial, sizeof serial) != 1) {
        error = openssl_error("creating a certificate");
        return nullptr;
    }
    serial[0] &= 0x7f;
    BigNumber serial_number(BN_bin2bn(serial, sizeof serial, nullptr));
    const std::string cn = common_name.substr(0, kMaxCommonName);
    X509_NAME* subject = X509_get_subject_name(cert.get());
    if (!serial_number || X509_set_version(cert.get(), X509_VERSION_3) != 1 ||
        BN_to_ASN1_INTEGER(serial_number.get(), X509_get_serialNumber(cert.get())) == nullptr ||
        X509_NAME_add_entry_by_txt(subject, "CN", MBSTRING_UTF8,
                                   reinterpret_cast<const unsigned char*>(cn.c_str()), -1, -1,
                                   0) != 1 ||
        ASN1_TIME_set(X509_getm_notBefore(cert.get()), Clock::to_time_t(not_before)) == nullptr ||
        ASN1_TIME_set(X509_getm_notAfter(cert.get()), Clock::to_time_t(not_after)) == nullptr ||
        X509_set_pubkey(cert.get(), public_key) != 1) {
        error = openssl_error("filling in a certificate");
        return nullptr;
    }
    return cert;
}

bool add_extension(X509* cert, X509* issuer, int nid, const std::string& value,
                   std::string& error) {
    X509V3_CTX context;
    X509V3_set_ctx(&context, issuer, cert, nullptr, nullptr, 0);
    Extension extension(X509V3_EXT_conf_nid(nullptr, &context, nid, value.c_str()));
    if (!extension || X509_add_ext(cert, extension.get(), -1) != 1) {
        error = openssl_error(std::string("adding extension ") + OBJ_nid2sn(nid) + "=" + value);
        return false;
    }
    return true;
}

bool add_extensions(X509* cert, X509* issuer,
                    const std::vector<std::pair<int, std::string>>& extensions,
                    std::string& error) {
    return std::all_of(extensions.begin(), extensions.end(), [&](const auto& e) {
        return add_extension(cert, issuer, e.first, e.second, error);
    });
}

bool sign(X509* cert, EVP_PKEY* key, std::string& error) {
    if (X509_sign(cert, key, EVP_sha256()) <= 0) {
        error = openssl_error("signing a certificate");
        return false;
    }
    return true;
}

bool valid_name(const std::string& name) {
    // The names become an OpenSSL configuration value, where ',' separates entries.
    return !name.empty() && name.find_first_of(", \n") == std::string::npos;
}

}  // namespace

std::optional<PemKeyPair> create_certificate_authority(const std::string& common_name,
                                                       Clock::time_point now,
                                                       std::chrono::seconds validity,
                                                       std::string& error) {
    Key key = generate_key(error);
    if (!key)
        return std::nullopt;
    Certificate cert =
        new_certificate(common_name, key.get(), now - kClockSkewAllowance, now + validity, error);
    if (!cert || X509_set_issuer_name(cert.get(), X509_get_subject_name(cert.get())) != 1)
        return std::nullopt;
    // pathlen 0: this CA signs node certificates only, never another CA.
    if (!add_extensions(cert.get(), cert.get(),
                        {{NID_basic_constraints, "critical,CA:TRUE,pathlen:0"},
                         {NID_key_usage, "critical,keyCertSign,cRLSign"},
                         {NID_subject_key_identifier, "hash"}},
                        error) ||
        !sign(cert.get(), key.get(), error)) {
        return std::nullopt;
    }
    return to_pem(cert.get(), key.get(), error);
}

std::optional<PemKeyPair> issue_certificate(const PemKeyPair& ca, const CertificateRequest& request,
                                            std::string& error) {
    Certificate ca_cert = read_certificate(ca.certificate, error);
    if (!ca_cert)
        return std::nullopt;
    Key ca_key = read_private_key(ca.private_key, error);
    if (!ca_key)
        return std::nullopt;
    if (X509_check_private_key(ca_cert.get(), ca_key.get()) != 1) {
        error = openssl_error("the CA key does not belong to the CA certificate");
        return std::nullopt;
    }
    if (request.dns_names.empty() && request.ip_addresses.empty()) {
        error = "a certificate needs at least one DNS name or IP address";
        return std::nullopt;
    }
    std::string alt_names;
    for (const auto& [prefix, names] :
         {std::pair{"DNS:", &request.dns_names}, std::pair{"IP:", &request.ip_addresses}}) {
        for (const std::string& name : *names) {
            if (!valid_name(name)) {
                error = "invalid subjectAltName entry '" + name + "'";
                return std::nullopt;
            }
            alt_names += (alt_names.empty() ? "" : ",") + std::string(prefix) + name;
        }
    }
    const auto ca_not_after = to_time_point(X509_get0_notAfter(ca_cert.get()));
    if (!ca_not_after || *ca_not_after <= request.now) {
        error = "the CA certificate has expired";
        return std::nullopt;
    }
    // A certificate outliving its CA would be unusable for that extra time anyway.
    const auto not_after = std::min(request.now + request.validity, *ca_not_after);
    Key key = generate_key(error);
    if (!key)
        return std::nullopt;
    Certificate cert = new_certificate(request.common_name, key.get(),
                                       request.now - kClockSkewAllowance, not_after, error);
    if (!cert || X509_set_issuer_name(cert.get(), X509_get_subject_name(ca_cert.get())) != 1)
        return std::nullopt;
    // digitalSignature is all an ECDHE handshake needs from an EC key.
    if (!add_extensions(cert.get(), ca_cert.get(),
                        {{NID_basic_constraints, "critical,CA:FALSE"},
                         {NID_key_usage, "critical,digitalSignature"},
                         {NID_ext_key_usage, "serverAuth,clientAuth"},
                         {NID_subject_key_identifier, "hash"},
                         {NID_authority_key_identifier, "keyid:always"},
                         {NID_subject_alt_name, alt_names}},
                        error) ||
        !sign(cert.get(), ca_key.get(), error)) {
        return std::nullopt;
    }
    return to_pem(cert.get(), key.get(), error);
}

std::optional<CertificateInfo> inspect_certificate(const std::string& certificate_pem,
                                                   std::string& error) {
    Certificate cert = read_certificate(certificate_pem, error);
    if (!cert)
        return std::nullopt;
    CertificateInfo info;
    const auto not_before = to_time_point(X509_get0_notBefore(cert.get()));
    const auto not_after = to_time_point(X509_get0_notAfter(cert.get()));
    if (!not_before || !not_after) {
        error = "unreadable certificate validity";
        return std::nullopt;
    }
    info.not_before = *not_before;
    info.not_after = *not_after;
    info.is_ca = (X509_get_extension_flags(cert.get()) & EXFLAG_CA) != 0;
    char cn[kMaxCommonName * 4 + 1] = {};
    if (X509_NAME_get_text_by_NID(X509_get_subject_name(cert.get()), NID_commonName, cn,
                                  sizeof cn) > 0) {
        info.common_name = cn;
    }
    BigNumber serial(ASN1_INTEGER_to_BN(X509_get0_serialNumber(cert.get()), nullptr));
    if (serial) {
        struct OpenSslFree {
            void operator()(char* p) const { OPENSSL_free(p); }
        };
        std::unique_ptr<char, OpenSslFree> hex(BN_bn2hex(serial.get()));
        if (hex)
            info.serial_hex = hex.get();
    }
    GeneralNames names(static_cast<GENERAL_NAMES*>(
        X509_get_ext_d2i(cert.get(), NID_subject_alt_name, nullptr, nullptr)));
    const int count = names ? sk_GENERAL_NAME_num(names.get()) : 0;
    for (int i = 0; i < count; ++i) {
        const GENERAL_NAME* name = sk_GENERAL_NAME_value(names.get(), i);
        if (name->type == GEN_DNS) {
            const ASN1_IA5STRING* dns = name->d.dNSName;
            info.dns_names.emplace_back(reinterpret_cast<const char*>(ASN1_STRING_get0_data(dns)),
                                        static_cast<std::size_t>(ASN1_STRING_length(dns)));
        } else if (name->type == GEN_IPADD) {
            const ASN1_OCTET_STRING* ip = name->d.iPAddress;
            const int length = ASN1_STRING_length(ip);
            char text[INET6_ADDRSTRLEN] = {};
            const int family = length == 4 ? AF_INET : AF_INET6;
            if ((length == 4 || length == 16) &&
                inet_ntop(family, ASN1_STRING_get0_data(ip), text, sizeof text) != nullptr) {
                info.ip_addresses.emplace_back(text);
            }
        }
    }
    ERR_clear_error();
    return info;
}

bool verify_certificate(const std::string& certificate_pem, const std::string& ca_certificate_pem,
                        Clock::time_point at, std::string& error) {
    Certificate cert = read_certificate(certificate_pem, error);
    Certificate ca = cert ? read_certificate(ca_certificate_pem, error) : nullptr;
    if (!cert || !ca)
        return false;
    Store store(X509_STORE_new());
    StoreContext context(X509_STORE_CTX_new());
    if (!store || !context || X509_STORE_add_cert(store.get(), ca.get()) != 1 ||
        X509_STORE_CTX_init(context.get(), store.get(), cert.get(), nullptr) != 1) {
        error = openssl_error("setting up verification");
        return false;
    }
    X509_STORE_CTX_set_time(context.get(), 0, Clock::to_time_t(at));
    if (X509_verify_cert(context.get()) != 1) {
        error = X509_verify_cert_error_string(X509_STORE_CTX_get_error(context.get()));
        ERR_clear_error();
        return false;
    }
    return true;
}

bool key_matches_certificate(const std::string& certificate_pem,
                             const std::string& private_key_pem) {
    std::string error;
    Certificate cert = read_certificate(certificate_pem, error);
    Key key = cert ? read_private_key(private_key_pem, error) : nullptr;
    const bool matches = cert && key && X509_check_private_key(cert.get(), key.get()) == 1;
    ERR_clear_error();
    return matches;
}

}  // namespace annal::op
