// TLS for the node's one port: server and client OpenSSL contexts built from PEM files.
//
// One port serves clients, admin calls and peers, so the server context REQUESTS a
// client certificate but does not require one: an HTTP client without a certificate
// completes the handshake; a client that presents a certificate not signed by the
// cluster CA fails it. Whether a connection may speak the peer protocol is decided after
// the handshake with peer_certificate_verified() (mutual TLS for peers, plain server TLS
// for everyone else). The client context verifies the server against the CA and, for
// peers, presents this node's certificate.
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
// certificates are requested and verified against it (optional for the client). nullptr
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

// "CN=..., issuer CN=..." of the certificate the other side presented, for logs and
// rejection messages; "no certificate" when there is none.
std::string describe_peer_certificate(const SSL* ssl);

}  // namespace annal::tls
