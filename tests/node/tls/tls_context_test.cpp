// Who is accepted on the node's TLS port: certificates from two CAs made with the
// `openssl` command, real handshakes over loopback.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>
#include <unistd.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/write.hpp>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <future>
#include <string>
#include <thread>

#include "certificate_directory.hpp"
#include "tls/tls_context.hpp"

namespace {

namespace asio = boost::asio;
using annal::tls::TlsFiles;
using annal::tls::test::CertificateDirectory;
using asio::ip::tcp;

struct ServerSide {
    bool handshake_ok = false;
    bool peer_verified = false;
    std::string peer;
};

struct Outcome {
    bool client_ok = false;
    ServerSide server;
};

// One handshake between a server using `server_files` and a client using `client_files`.
Outcome handshake(const TlsFiles& server_files, const TlsFiles& client_files) {
    std::string error;
    auto server_ctx = annal::tls::make_server_context(server_files, error);
    REQUIRE_MESSAGE(server_ctx, error);
    auto client_ctx = annal::tls::make_client_context(client_files, error);
    REQUIRE_MESSAGE(client_ctx, error);

    asio::io_context io;
    tcp::acceptor acceptor(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
    const auto port = acceptor.local_endpoint().port();
    std::promise<ServerSide> server_result;
    std::thread server([&] {
        ServerSide side;
        asio::ssl::stream<tcp::socket> stream(io, *server_ctx);
        boost::system::error_code ec;
        acceptor.accept(stream.next_layer(), ec);
        if (!ec) {
            stream.handshake(asio::ssl::stream_base::server, ec);
            side.handshake_ok = !ec;
            if (side.handshake_ok) {
                side.peer_verified = annal::tls::peer_certificate_verified(stream.native_handle());
                side.peer = annal::tls::describe_peer_certificate(stream.native_handle());
                // Let the client finish reading the server's last handshake message.
                char byte = 0;
                asio::read(stream, asio::buffer(&byte, 1), ec);
            }
        }
        server_result.set_value(side);
    });

    Outcome outcome;
    {
        asio::io_context client_io;
        asio::ssl::stream<tcp::socket> stream(client_io, *client_ctx);
        boost::system::error_code ec;
        stream.next_layer().connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port), ec);
        REQUIRE_FALSE(ec);
        stream.handshake(asio::ssl::stream_base::client, ec);
        outcome.client_ok = !ec;
        if (outcome.client_ok) {
            const char byte = 'x';
            asio::write(stream, asio::buffer(&byte, 1), ec);
        }
        stream.next_layer().close(ec);
    }
    server.join();
    outcome.server = server_result.get_future().get();
    return outcome;
}

}  // namespace

TEST_CASE("a peer with a certificate from the cluster CA is verified") {
    CertificateDirectory certs;
    REQUIRE_MESSAGE(certs.ok(), "the openssl command failed to make test certificates");
    const Outcome outcome =
        handshake(certs.files("node-1", "cluster-ca"), certs.files("node-2", "cluster-ca"));
    CHECK(outcome.client_ok);
    CHECK(outcome.server.handshake_ok);
    CHECK(outcome.server.peer_verified);
    CHECK(outcome.server.peer == "CN=node-2, issuer CN=cluster-ca");
}

TEST_CASE("a client without a certificate gets server TLS but is not a verified peer") {
    CertificateDirectory certs;
    REQUIRE(certs.ok());
    const Outcome outcome = handshake(certs.files("node-1", "cluster-ca"),
                                      TlsFiles{"", "", certs.path("cluster-ca.pem")});
    CHECK(outcome.client_ok);
    CHECK(outcome.server.handshake_ok);
    CHECK_FALSE(outcome.server.peer_verified);
    CHECK(outcome.server.peer == "no certificate");
}

TEST_CASE("a certificate from another CA completes the handshake but is not a verified peer") {
    CertificateDirectory certs;
    REQUIRE(certs.ok());
    // The intruder trusts the cluster CA (so it accepts the server) but its own
    // certificate is signed by another CA.
    const Outcome outcome =
        handshake(certs.files("node-1", "cluster-ca"),
                  TlsFiles{certs.path("intruder.pem"), certs.path("intruder.key"),
                           certs.path("cluster-ca.pem")});
    CHECK(outcome.server.handshake_ok);
    CHECK_FALSE(outcome.server.peer_verified);
    CHECK(outcome.server.peer == "CN=intruder, issuer CN=other-ca");
}

TEST_CASE("a client that trusts another CA refuses the server") {
    CertificateDirectory certs;
    REQUIRE(certs.ok());
    const Outcome outcome = handshake(certs.files("node-1", "cluster-ca"),
                                      TlsFiles{"", "", certs.path("other-ca.pem")});
    CHECK_FALSE(outcome.client_ok);
    CHECK_FALSE(outcome.server.peer_verified);
}

TEST_CASE("configuration errors name the file and the reason") {
    CertificateDirectory certs;
    REQUIRE(certs.ok());
    std::string error;
    CHECK(annal::tls::make_server_context(
              TlsFiles{"/nonexistent/cert.pem", certs.path("node-1.key"), ""}, error) == nullptr);
    CHECK(error.find("/nonexistent/cert.pem") != std::string::npos);

    error.clear();
    CHECK(annal::tls::make_server_context(
              TlsFiles{certs.path("node-1.pem"), certs.path("node-2.key"), ""}, error) == nullptr);
    INFO(error);
    CHECK(error.find("node-2.key") != std::string::npos);
    CHECK(error.find("mismatch") != std::string::npos);

    error.clear();
    CHECK(annal::tls::make_server_context(TlsFiles{certs.path("node-1.pem"), "", ""}, error) ==
          nullptr);
    CHECK(error.find("key") != std::string::npos);

    error.clear();
    CHECK(annal::tls::make_client_context(TlsFiles{"", "", certs.path("san.ext")}, error) ==
          nullptr);
    CHECK(error.find("san.ext") != std::string::npos);
}
