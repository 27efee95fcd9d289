#include "tls/tls_context.hpp"

#include <openssl/err.h>
#include <openssl/x509.h>

#include <boost/asio/ip/address.hpp>
#include <boost/system/error_code.hpp>

namespace annal::tls {
namespace {

using boost::asio::ssl::context;

// The reason OpenSSL queued for the failed call, e.g. "PEM routines::no start line".
std::string openssl_reason(const boost::system::error_code& ec) {
    std::string reason = ec.message();
    if (const unsigned long code = ERR_get_error(); code != 0) {
        char text[256];
        ERR_error_string_n(code, text, sizeof text);
        reason = text;
    }
    ERR_clear_error();
    return reason;
}

// Common policy: TLS 1.2 or newer, no compression, no renegotiation surprises.
std::unique_ptr<context> new_context(context::method method, std::string& error) {
    auto ctx = std::make_unique<context>(method);
    boost::system::error_code ec;
    ctx->set_options(context::default_workarounds | context::no_sslv2 | context::no_sslv3 |
                         context::no_tlsv1 | context::no_tlsv1_1 | context::no_compression,
                     ec);
    if (ec) {
        error = "cannot configure TLS: " + openssl_reason(ec);
        return nullptr;
    }
    return ctx;
}

bool load_identity(context& ctx, const TlsFiles& files, std::string& error) {
    boost::system::error_code ec;
    ctx.use_certificate_chain_file(files.cert_file, ec);
    if (ec) {
        error = "cannot load the certificate '" + files.cert_file + "': " + openssl_reason(ec);
        return false;
    }
    ctx.use_private_key_file(files.key_file, context::pem, ec);
    if (ec) {
        error = "cannot load the private key '" + files.key_file + "': " + openssl_reason(ec);
        return false;
    }
    if (SSL_CTX_check_private_key(ctx.native_handle()) != 1) {
        ERR_clear_error();
        error = "the private key '" + files.key_file + "' does not match the certificate '" +
                files.cert_file + "'";
        return false;
    }
    return true;
}

bool load_ca(context& ctx, const TlsFiles& files, std::string& error) {
    boost::system::error_code ec;
    ctx.load_verify_file(files.ca_file, ec);
    if (ec) {
        error = "cannot load the CA certificate '" + files.ca_file + "': " + openssl_reason(ec);
        return false;
    }
    return true;
}

std::string common_name(const X509_NAME* name) {
    if (name == nullptr) {
        return "?";
    }
    char text[256] = {};
    if (X509_NAME_get_text_by_NID(name, NID_commonName, text, sizeof text) < 0) {
        return "?";
    }
    return text;
}

// SSL_set_tlsext_host_name is a macro with a C cast; this is the call it stands for.
bool send_server_name(SSL* ssl, const std::string& host) {
    return SSL_ctrl(ssl, SSL_CTRL_SET_TLSEXT_HOSTNAME, TLSEXT_NAMETYPE_host_name,
                    const_cast<char*>(host.c_str())) == 1;
}

}  // namespace

std::unique_ptr<context> make_server_context(const TlsFiles& files, std::string& error) {
    if (files.cert_file.empty() || files.key_file.empty()) {
        error = "TLS needs both a certificate file and a key file";
        return nullptr;
    }
    auto ctx = new_context(context::tls_server, error);
    if (!ctx || !load_identity(*ctx, files, error)) {
        return nullptr;
    }
    if (!files.ca_file.empty()) {
        if (!load_ca(*ctx, files, error)) {
            return nullptr;
        }
        // Request and verify a certificate but let the handshake complete whatever the
        // outcome: HTTP clients need none, and a peer with a bad one is better refused by
        // the transport, which can say who it was (describe_peer_certificate) and count it,
        // than by a handshake failure that looks like any network error. OpenSSL keeps the
        // verification result for peer_certificate_verified().
        SSL_CTX_set_verify(ctx->native_handle(), SSL_VERIFY_PEER,
                           [](int, X509_STORE_CTX*) { return 1; });
        // Tell clients which CA to pick their certificate for.
        STACK_OF(X509_NAME)* names = SSL_load_client_CA_file(files.ca_file.c_str());
        if (names == nullptr) {
            ERR_clear_error();
            error = "cannot read CA names from '" + files.ca_file + "'";
            return nullptr;
        }
        SSL_CTX_set_client_CA_list(ctx->native_handle(), names);  // takes ownership
    }
    return ctx;
}

std::unique_ptr<context> make_client_context(const TlsFiles& files, std::string& error) {
    auto ctx = new_context(context::tls_client, error);
    if (!ctx) {
        return nullptr;
    }
    boost::system::error_code ec;
    if (!files.ca_file.empty()) {
        if (!load_ca(*ctx, files, error)) {
            return nullptr;
        }
    } else {
        ctx->set_default_verify_paths(ec);
        if (ec) {
            error = "cannot load the system's trusted CAs: " + openssl_reason(ec);
            return nullptr;
        }
    }
    ctx->set_verify_mode(boost::asio::ssl::verify_peer, ec);
    if (ec) {
        error = "cannot set the verify mode: " + openssl_reason(ec);
        return nullptr;
    }
    if (!files.cert_file.empty() && !load_identity(*ctx, files, error)) {
        return nullptr;
    }
    return ctx;
}

bool expect_server_name(SSL* ssl, const std::string& host, std::string& error) {
    X509_VERIFY_PARAM* param = SSL_get0_param(ssl);
    boost::system::error_code ec;
    boost::asio::ip::make_address(host, ec);
    const bool ip_literal = !ec;
    const int ok = ip_literal ? X509_VERIFY_PARAM_set1_ip_asc(param, host.c_str())
                              : X509_VERIFY_PARAM_set1_host(param, host.c_str(), host.size());
    if (ok != 1 || (!ip_literal && !send_server_name(ssl, host))) {
        ERR_clear_error();
        error = "cannot verify the server name '" + host + "'";
        return false;
    }
    return true;
}

bool peer_certificate_verified(const SSL* ssl) {
    X509* certificate = SSL_get1_peer_certificate(ssl);
    if (certificate == nullptr) {
        return false;
    }
    X509_free(certificate);
    return SSL_get_verify_result(ssl) == X509_V_OK;
}

std::string describe_peer_certificate(const SSL* ssl) {
    X509* certificate = SSL_get1_peer_certificate(ssl);
    if (certificate == nullptr) {
        return "no certificate";
    }
    std::string text = "CN=" + common_name(X509_get_subject_name(certificate)) +
                       ", issuer CN=" + common_name(X509_get_issuer_name(certificate));
    X509_free(certificate);
    return text;
}

}  // namespace annal::tls
