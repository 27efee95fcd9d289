// TLS for the node's one port: server and client OpenSSL contexts built from PEM files.
//
// One port serves clients, admin calls and peers, so the server context REQUESTS a
// client certificate but does not require one: every client completes the handshake, with
// no certificate or with one that does not chain to the cluster CA, and is then just an
// unverified client. Whether a connection may speak the peer protocol is decided after the
// handshake with peer_certificate_verified() (mutual TLS for peers, plain server TLS for
// everyone else), where the refusal can name the certificate and be counted. The client context
// verifies the server against the CA and, for peers, presents this node's certificate.
#pragma once

#include <openssl/ssl.h>

#include <boost/asio/ssl/context.hpp>
#include <memory>
#include <string>

namespace annal::tls {

struct TlsFiles {
    std::string cert_file;  // PEM certificate chain of this node (leaf first)
    std::string key_file;   // PEM private key of cert_file
    std::string ca_file;    // PEM CA certificate(s) that peers' and servers' certificates chain to

    bool enabled() const { return !cert_file.empty(); }
};

// Server side of the node's port. Needs cert_file and key_file; with ca_file, client
// certificates are requested and verified against it (the result is only recorded). nullptr
// and `error` (naming the file and OpenSSL's reason) on failure.
std::unique_ptr<boost::asio::ssl::context> make_server_context(const TlsFiles& files,
                                                               std::string& error);

// Client side (CLI, peers dialling peers). With ca_file the server must chain to it;
// without, the system's default trust store is used. With cert_file/key_file the client
// presents them (mutual TLS).
std::unique_ptr<boost::asio::ssl::context> make_client_context(const TlsFiles& files,
                                                               std::string& error);

// After a completed handshake on the server side: true when the client presented a
// certificate and it verified against the CA (the only way to be accepted as a peer).
bool peer_certificate_verified(const SSL* ssl);

// Client side, before the handshake: the server's certificate must also name `host` (a DNS
// name in its subjectAltName, or an IP address among its IP SANs when `host` is an IP
// literal), on top of chaining to the CA. Also sends `host` as SNI when it is a name.
// False with `error` when OpenSSL refuses the name.
bool expect_server_name(SSL* ssl, const std::string& host, std::string& error);

// "CN=..., issuer CN=..." of the certificate the other side presented, for logs and
// rejection messages; "no certificate" when there is none.
std::string describe_peer_certificate(const SSL* ssl);

}  // namespace annal::tls
