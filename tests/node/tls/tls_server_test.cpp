// The node's one port with TLS on: HTTPS for clients (the client library with the CA),
// plain HTTP refused without harm, and the peer path open only to a client certificate
// from the cluster CA. Real sockets on loopback; certificates from the openssl command.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>

#include <sys/socket.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/write.hpp>
#include <filesystem>
#include <memory>
#include <stop_token>
#include <string>
#include <thread>

#include "../transport/test_support.hpp"
#include "api/http_server.hpp"
#include "certificate_directory.hpp"
#include "client/client.hpp"
#include "storage/event_store.hpp"
#include "tls/rejection_log.hpp"
#include "tls/socket_stream.hpp"
#include "tls/tls_context.hpp"
#include "transport/peer_transport.hpp"
#include "transport/transport_metrics.hpp"

namespace {

using annal::tls::TlsFiles;
using annal::tls::test::CertificateDirectory;
namespace api = annal::api;
namespace client = annal::client;
namespace raft = annal::raft;
namespace transport = annal::transport;
using transport::test::eventually;
using transport::test::make_message;

std::shared_ptr<boost::asio::ssl::context> client_context(const TlsFiles& files) {
    std::string error;
    std::shared_ptr<boost::asio::ssl::context> context =
        annal::tls::make_client_context(files, error);
    REQUIRE_MESSAGE(context, error);
    return context;
}

// A store and a TLS server (node-1's certificate) on an ephemeral port, optionally with
// a peer transport behind the port, as a cluster node has it.
class TlsNode {
  public:
    explicit TlsNode(const CertificateDirectory& certs, bool with_peers = false,
                     api::ServerOptions server_options = {}) {
        std::string pattern =
            (std::filesystem::temp_directory_path() / "annal-tls-node-XXXXXX").string();
        REQUIRE(mkdtemp(pattern.data()) != nullptr);
        directory_ = pattern;
        annal::storage::StoreOptions options;
        options.directory = directory_;
        options.durable = false;
        std::string error;
        store_ = annal::storage::EventStore::open(options, error);
        REQUIRE_MESSAGE(store_, error);
        server_ = std::make_unique<api::HttpServer>(*store_, std::move(server_options));
        const TlsFiles files = certs.files("node-1", "cluster-ca");
        std::shared_ptr<boost::asio::ssl::context> context =
            annal::tls::make_server_context(files, error);
        REQUIRE_MESSAGE(context, error);
        server_->set_tls_context(std::move(context));
        if (with_peers) {
            transport::PeerTransportOptions peer_options;
            peer_options.self = 1;
            peer_options.cluster_id = transport::cluster_id_from_name("test-cluster");
            peer_options.tls_client = client_context(files);
            peers_ = std::make_unique<transport::PeerTransport>(
                server_->io_context(), peer_options,
                [this](std::vector<raft::Message> messages) { inbox.add(std::move(messages)); },
                [](raft::NodeId) {});
            server_->set_peer_acceptor(
                [peers = peers_.get()](annal::tls::SocketStream stream, std::string first) {
                    peers->accept(std::move(stream), std::move(first));
                });
        }
        REQUIRE_MESSAGE(server_->start(error), error);
    }
    ~TlsNode() {
        server_->begin_shutdown();
        server_->stop();
        if (peers_) {
            peers_->stop();
        }
        store_->close();
        peers_.reset();
        server_.reset();
        store_.reset();
        std::error_code ignored;
        std::filesystem::remove_all(directory_, ignored);
    }
    std::uint16_t port() const { return server_->port(); }
    std::string address() const { return "127.0.0.1:" + std::to_string(port()); }
    api::HttpServer& server() { return *server_; }
    transport::TransportStats peer_stats() const { return peers_->stats(); }

    transport::test::Inbox inbox;

  private:
    std::string directory_;
    std::unique_ptr<annal::storage::EventStore> store_;
    std::unique_ptr<api::HttpServer> server_;
    std::unique_ptr<transport::PeerTransport> peers_;
};

client::Endpoint endpoint(const std::string& scheme, std::uint16_t port) {
    std::string error;
    auto parsed = client::Endpoint::parse(scheme + "://127.0.0.1:" + std::to_string(port), error);
    REQUIRE_MESSAGE(parsed, error);
    return *parsed;
}

client::ClientOptions trusting(const std::string& ca_file) {
    client::ClientOptions options;
    options.tls_ca_file = ca_file;
    options.connect_timeout = std::chrono::milliseconds(5000);
    options.request_timeout = std::chrono::milliseconds(10000);
    return options;
}

client::NewEvent event(const std::string& type) {
    client::NewEvent e;
    e.type = type;
    e.data_json = "{\"n\":1}";
    return e;
}

// The value of the first sample line starting with `series ` in Prometheus text, or -1.
long long sample(const std::string& text, const std::string& series) {
    const std::string prefix = series + " ";
    std::size_t at = 0;
    while (at < text.size()) {
        const std::size_t end = std::min(text.find('\n', at), text.size());
        if (text.compare(at, prefix.size(), prefix) == 0) {
            return std::stoll(text.substr(at + prefix.size(), end - at - prefix.size()));
        }
        at = end + 1;
    }
    return -1;
}

long long scraped(client::Client& https, const std::string& series) {
    auto metrics = https.get("/metrics");
    REQUIRE_MESSAGE(metrics.ok(), (metrics.ok() ? "" : metrics.error().describe()));
    return sample(metrics.value().body, series);
}

std::size_t open_descriptors() {
    std::size_t count = 0;
    for ([[maybe_unused]] const auto& entry :
         std::filesystem::directory_iterator("/proc/self/fd")) {
        ++count;
    }
    return count;
}

using TcpSocket = boost::asio::ip::tcp::socket;
using RawTlsStream = boost::asio::ssl::stream<TcpSocket>;

// A hand-driven TLS client, for what the client library never does: drop a connection
// half-way, or look at how the server ends one.
std::unique_ptr<RawTlsStream> raw_tls_connection(boost::asio::io_context& io,
                                                 boost::asio::ssl::context& context,
                                                 std::uint16_t port) {
    auto stream = std::make_unique<RawTlsStream>(io, context);
    boost::system::error_code ec;
    stream->next_layer().connect({boost::asio::ip::make_address("127.0.0.1"), port}, ec);
    REQUIRE_MESSAGE(!ec, ec.message());
    stream->handshake(boost::asio::ssl::stream_base::client, ec);
    REQUIRE_MESSAGE(!ec, ec.message());
    return stream;
}

void reset_on_close(TcpSocket& socket) {
    boost::system::error_code ignored;
    socket.set_option(boost::asio::socket_base::linger(true, 0), ignored);
}

// A peer transport dialling the node from node 2 with the given TLS identity.
struct DiallingPeer {
    DiallingPeer(transport::test::IoThreads& io, const TlsFiles& identity,
                 const std::string& address) {
        transport::PeerTransportOptions options;
        options.self = 2;
        options.cluster_id = transport::cluster_id_from_name("test-cluster");
        options.tls_client = client_context(identity);
        options.reconnect_max = std::chrono::milliseconds(200);
        peers = std::make_unique<transport::PeerTransport>(
            io.io(), options, [](std::vector<raft::Message>) {}, [](raft::NodeId) {});
        peers->set_peer_address(1, address);
    }
    ~DiallingPeer() { peers->stop(); }
    void send(std::uint64_t sequence) { peers->send({make_message(2, 1, 0, sequence)}); }
    std::unique_ptr<transport::PeerTransport> peers;
};

}  // namespace

TEST_CASE("https: append, read and subscribe with the client library and the cluster CA") {
    CertificateDirectory certs;
    REQUIRE_MESSAGE(certs.ok(), "the openssl command failed to make test certificates");
    TlsNode node(certs);
    client::Client https(endpoint("https", node.port()), trusting(certs.path("cluster-ca.pem")));
    auto appended =
        https.append("orders", client::ExpectedVersion::any(), {event("Placed"), event("Paid")});
    REQUIRE_MESSAGE(appended.ok(), (appended.ok() ? "" : appended.error().describe()));
    CHECK(appended.value().last_position == 2);

    client::ReadStreamRequest request;
    request.stream = "orders";
    auto page = https.read_stream(request);
    REQUIRE_MESSAGE(page.ok(), (page.ok() ? "" : page.error().describe()));
    REQUIRE(page.value().events.size() == 2);
    CHECK(page.value().events[0].type == "Placed");
    CHECK(page.value().events[1].type == "Paid");

    // A subscription streams through the same TLS connection machinery (chunked NDJSON).
    std::vector<std::string> seen;
    auto subscribed = https.subscribe(client::SubscribeRequest{1, std::nullopt},
                                      [&](const client::RecordedEvent& e) {
                                          seen.push_back(e.type);
                                          return seen.size() < 2;
                                      });
    REQUIRE_MESSAGE(subscribed.ok(), (subscribed.ok() ? "" : subscribed.error().describe()));
    CHECK(seen == std::vector<std::string>{"Placed", "Paid"});
    CHECK(node.server().tls_handshake_failures() == 0);
    CHECK(scraped(https, "annal_tls_handshake_failures_total") == 0);
}

TEST_CASE("plain HTTP on the TLS port is refused and the node keeps serving https") {
    CertificateDirectory certs;
    REQUIRE(certs.ok());
    TlsNode node(certs);
    client::Client plain(endpoint("http", node.port()));
    auto status = plain.status();
    REQUIRE_FALSE(status.ok());
    // Either the node's plain-text hint (400) or a closed connection, never a served request.
    if (status.error().kind == client::Error::Kind::Http) {
        CHECK(status.error().http_status == 400);
    }
    CHECK(eventually([&] { return node.server().tls_handshake_failures() >= 1; }));

    client::Client https(endpoint("https", node.port()), trusting(certs.path("cluster-ca.pem")));
    auto after = https.status();
    CHECK_MESSAGE(after.ok(), (after.ok() ? "" : after.error().describe()));
    CHECK(scraped(https, "annal_tls_handshake_failures_total") >= 1);
}

TEST_CASE("a client that does not trust the node's CA refuses it") {
    CertificateDirectory certs;
    REQUIRE(certs.ok());
    TlsNode node(certs);
    client::Client wrong_ca(endpoint("https", node.port()), trusting(certs.path("other-ca.pem")));
    auto status = wrong_ca.status();
    REQUIRE_FALSE(status.ok());
    CHECK(status.error().kind == client::Error::Kind::Transport);
}

TEST_CASE("peers: a certificate from the cluster CA is accepted, none or another CA's is not") {
    CertificateDirectory certs;
    REQUIRE(certs.ok());
    TlsNode node(certs, true);
    transport::test::IoThreads io;

    SUBCASE("a certificate from the cluster CA") {
        DiallingPeer peer(io, certs.files("node-2", "cluster-ca"), node.address());
        peer.send(1);
        REQUIRE(node.inbox.wait_for_count(1));
        CHECK(node.inbox.messages()[0].from == 2);
        CHECK(node.peer_stats().inbound_rejected_certificate == 0);
        CHECK(sample(transport::render_transport_metrics(node.peer_stats()),
                     "annal_peer_rejected_total{reason=\"certificate\"}") == 0);
    }
    SUBCASE("no client certificate") {
        DiallingPeer peer(io, TlsFiles{"", "", certs.path("cluster-ca.pem")}, node.address());
        CHECK(eventually([&] {
            peer.send(1);  // the link redials after each refusal
            return node.peer_stats().inbound_rejected_certificate >= 2;
        }));
        CHECK(node.inbox.size() == 0);
        // What /metrics shows a cluster node's operator (ReplicatedClusterAdmin renders it).
        CHECK(sample(transport::render_transport_metrics(node.peer_stats()),
                     "annal_peer_rejected_total{reason=\"certificate\"}") >= 2);
    }
    SUBCASE("a certificate from another CA") {
        DiallingPeer peer(io,
                          TlsFiles{certs.path("intruder.pem"), certs.path("intruder.key"),
                                   certs.path("cluster-ca.pem")},
                          node.address());
        CHECK(eventually([&] {
            peer.send(1);
            return node.peer_stats().inbound_rejected_certificate >= 2;
        }));
        CHECK(node.inbox.size() == 0);
    }
    SUBCASE("a peer that does not trust the node's CA never connects") {
        // The dialling side verifies the node's certificate against other-ca and fails
        // its own handshake: no connection, messages dropped, nothing delivered.
        DiallingPeer peer(io,
                          TlsFiles{certs.path("node-2.pem"), certs.path("node-2.key"),
                                   certs.path("other-ca.pem")},
                          node.address());
        for (std::uint64_t i = 1; i <= 5; ++i) {
            peer.send(i);
            std::this_thread::sleep_for(std::chrono::milliseconds(50));
        }
        CHECK(eventually([&] {
            for (const auto& stats : peer.peers->stats().peers) {
                if (stats.id == 1 && stats.connects == 0 && stats.messages_dropped > 0) {
                    return true;
                }
            }
            return false;
        }));
        CHECK(node.inbox.size() == 0);
    }
}

TEST_CASE("the server ends an https connection with close_notify, not a bare TCP close") {
    CertificateDirectory certs;
    REQUIRE(certs.ok());
    TlsNode node(certs);
    boost::asio::io_context io;
    auto context = client_context(TlsFiles{"", "", certs.path("cluster-ca.pem")});
    auto stream = raw_tls_connection(io, *context, node.port());
    boost::asio::write(*stream,
                       boost::asio::buffer(std::string_view(
                           "GET /healthz HTTP/1.1\r\nHost: node\r\nConnection: close\r\n\r\n")));
    std::string response;
    boost::system::error_code ec;
    boost::asio::read(*stream, boost::asio::dynamic_buffer(response), ec);
    CHECK(response.rfind("HTTP/1.1 200", 0) == 0);
    // eof from an ssl::stream means the peer's close_notify arrived; a TCP close without
    // it would be stream_truncated.
    CHECK_MESSAGE(ec == boost::asio::error::eof, ec.message());
}

TEST_CASE("a body over the limit gets its 413 over https, not a reset") {
    CertificateDirectory certs;
    REQUIRE(certs.ok());
    api::ServerOptions options;
    options.max_body_bytes = 64 * 1024;
    TlsNode node(certs, false, options);
    boost::asio::io_context io;
    auto context = client_context(TlsFiles{"", "", certs.path("cluster-ca.pem")});
    auto stream = raw_tls_connection(io, *context, node.port());
    const std::string body(1u << 20, 'x');
    const std::string head =
        "POST /v1/streams/big HTTP/1.1\r\nHost: node\r\nContent-Type: "
        "application/json\r\nContent-Length: " +
        std::to_string(body.size()) + "\r\n\r\n";
    boost::system::error_code ec;
    // The server answers after the header; the client, like most, sends its whole body
    // before it reads. The server must read (and drop) that body rather than reset.
    boost::asio::write(*stream, boost::asio::buffer(head), ec);
    REQUIRE_MESSAGE(!ec, ec.message());
    boost::asio::write(*stream, boost::asio::buffer(body), ec);
    CHECK_MESSAGE(!ec, ec.message());
    std::string response;
    boost::asio::read(*stream, boost::asio::dynamic_buffer(response), ec);
    CHECK(response.rfind("HTTP/1.1 413", 0) == 0);
    CHECK(response.find("body_too_large") != std::string::npos);
}

TEST_CASE("200 connections dropped mid-handshake or mid-request leave no descriptor behind") {
    CertificateDirectory certs;
    REQUIRE(certs.ok());
    TlsNode node(certs);
    boost::asio::io_context io;
    auto context = client_context(TlsFiles{"", "", certs.path("cluster-ca.pem")});
    const boost::asio::ip::tcp::endpoint address(boost::asio::ip::make_address("127.0.0.1"),
                                                 node.port());
    {
        // Asio opens its reactor's descriptors (epoll, eventfd, timerfd) with the first
        // socket; they must be in the baseline.
        TcpSocket warm_up(io);
    }
    const std::size_t baseline = open_descriptors();
    constexpr std::string_view kPartialRequest =
        "POST /v1/streams/dropped HTTP/1.1\r\nHost: node\r\nContent-Length: 100\r\n\r\n{\"par";
    constexpr int kConnections = 200;
    for (int i = 0; i < kConnections; ++i) {
        switch (i % 5) {
            case 0: {  // connects and leaves before the handshake
                TcpSocket socket(io);
                socket.connect(address);
                break;
            }
            case 1: {  // the first bytes of a ClientHello record, then gone
                TcpSocket socket(io);
                socket.connect(address);
                const std::array<unsigned char, 7> partial_hello = {0x16, 0x03, 0x01, 0x00,
                                                                    0xc8, 0x01, 0x00};
                boost::asio::write(socket, boost::asio::buffer(partial_hello));
                if (i % 2 == 0) {
                    reset_on_close(socket);
                }
                break;
            }
            case 2: {  // handshake done, nothing sent
                auto stream = raw_tls_connection(io, *context, node.port());
                break;
            }
            case 3: {  // half a request, then a FIN without close_notify
                auto stream = raw_tls_connection(io, *context, node.port());
                boost::asio::write(*stream, boost::asio::buffer(kPartialRequest));
                break;
            }
            default: {  // half a request, then a reset
                auto stream = raw_tls_connection(io, *context, node.port());
                boost::asio::write(*stream, boost::asio::buffer(kPartialRequest));
                reset_on_close(stream->next_layer());
                break;
            }
        }
    }
    // Every server-side descriptor (TLS socket, socket pair ends) is released once the
    // server notices the drop; the grace after a session ends is 2 s.
    std::size_t now = 0;
    CHECK_MESSAGE(eventually(
                      [&] {
                          now = open_descriptors();
                          return now <= baseline;
                      },
                      std::chrono::seconds(20)),
                  "descriptors: baseline " << baseline << ", now " << now);
    CHECK(node.server().tls_handshake_failures() >= static_cast<std::uint64_t>(kConnections / 5));

    client::Client https(endpoint("https", node.port()), trusting(certs.path("cluster-ca.pem")));
    auto after = https.status();
    CHECK_MESSAGE(after.ok(), (after.ok() ? "" : after.error().describe()));
}

TEST_CASE("the rejection log reports an address once per interval, counting the rest") {
    annal::tls::RejectionLog log(std::chrono::seconds(3600));
    std::uint64_t suppressed = 99;
    CHECK(log.should_log("10.0.0.1", suppressed));
    CHECK(suppressed == 0);
    CHECK_FALSE(log.should_log("10.0.0.1", suppressed));
    CHECK_FALSE(log.should_log("10.0.0.1", suppressed));
    CHECK(log.should_log("10.0.0.2", suppressed));  // another address is reported at once

    annal::tls::RejectionLog immediate(std::chrono::seconds(0));
    CHECK(immediate.should_log("10.0.0.1", suppressed));
    CHECK(immediate.should_log("10.0.0.1", suppressed));
}
