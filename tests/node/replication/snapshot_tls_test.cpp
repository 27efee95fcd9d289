// The snapshot route and its HTTP source over the node's one port with TLS on: only a
// client certificate from the cluster CA may read events, the source presents one and
// verifies the server like a peer link does, and stop() ends a fetch in flight. Real
// sockets on loopback; certificates from the openssl command.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <memory>
#include <string>
#include <thread>

#include "../tls/certificate_directory.hpp"
#include "api/http_server.hpp"
#include "api/http_snapshot_source.hpp"
#include "replicated_cluster.hpp"
#include "storage/raw_records.hpp"
#include "tls/tls_context.hpp"

namespace annal::replication {
namespace {

using tls::TlsFiles;
using tls::test::CertificateDirectory;

constexpr std::uint64_t kEvents = 30;

std::shared_ptr<boost::asio::ssl::context> client_context(const TlsFiles& files) {
    std::string error;
    std::shared_ptr<boost::asio::ssl::context> context = tls::make_client_context(files, error);
    REQUIRE_MESSAGE(context, error);
    return context;
}

// A one-node cluster holding kEvents events, served on a TLS port with node-1's
// certificate (cluster CA).
class TlsReplica {
  public:
    explicit TlsReplica(const CertificateDirectory& certs) : cluster_(1) {
        REQUIRE(cluster_.wait_for_leader() == 1);
        for (std::uint64_t i = 0; i < kEvents / 3; ++i) {
            const auto result =
                test::append_and_wait(cluster_.store(1), test::make_request("s", 3));
            REQUIRE(result);
            REQUIRE(result->status == storage::AppendStatus::Ok);
        }
        server_ = std::make_unique<api::HttpServer>(cluster_.store(1), api::ServerOptions{});
        std::string error;
        std::shared_ptr<boost::asio::ssl::context> context =
            tls::make_server_context(certs.files("node-1", "cluster-ca"), error);
        REQUIRE_MESSAGE(context, error);
        server_->set_tls_context(std::move(context));
        REQUIRE_MESSAGE(server_->start(error), error);
    }
    ~TlsReplica() {
        server_->begin_shutdown();
        server_->stop();
    }
    std::string address() const { return "127.0.0.1:" + std::to_string(server_->port()); }
    std::uint64_t records_served() {
        return cluster_.store(1).snapshot_transfer_stats().records_served;
    }

  private:
    test::ReplicatedCluster cluster_;
    std::unique_ptr<api::HttpServer> server_;
};

}  // namespace

TEST_CASE("snapshot source over TLS: a cluster certificate reads, any other is refused") {
    CertificateDirectory certs;
    REQUIRE(certs.ok());
    TlsReplica replica(certs);

    SUBCASE("the node's own certificate (cluster CA) fetches every event") {
        api::HttpSnapshotSource source(client_context(certs.files("node-2", "cluster-ca")));
        const FetchResult fetched = source.fetch(replica.address(), 0, kEvents, 1 << 20);
        REQUIRE_MESSAGE(fetched.ok, fetched.error);
        std::vector<storage::RawRecordView> records;
        REQUIRE(storage::decode_raw_records(fetched.body, records));
        REQUIRE(records.size() == kEvents);
        CHECK(records.front().position == 1);
        CHECK(records.back().position == kEvents);
        CHECK(replica.records_served() == kEvents);
    }
    SUBCASE("a certificate from another CA gets 403 and no events") {
        api::HttpSnapshotSource source(client_context(certs.files("intruder", "cluster-ca")));
        const FetchResult fetched = source.fetch(replica.address(), 0, kEvents, 1 << 20);
        CHECK_FALSE(fetched.ok);
        CHECK_MESSAGE(fetched.error.find("HTTP 403") != std::string::npos, fetched.error);
        CHECK(fetched.body.empty());
        CHECK(replica.records_served() == 0);
    }
    SUBCASE("no client certificate gets 403") {
        api::HttpSnapshotSource source(
            client_context(TlsFiles{"", "", certs.path("cluster-ca.pem")}));
        const FetchResult fetched = source.fetch(replica.address(), 0, kEvents, 1 << 20);
        CHECK_FALSE(fetched.ok);
        CHECK_MESSAGE(fetched.error.find("HTTP 403") != std::string::npos, fetched.error);
        CHECK(replica.records_served() == 0);
    }
    SUBCASE("the source refuses a server that does not chain to its CA") {
        api::HttpSnapshotSource source(client_context(certs.files("node-2", "other-ca")));
        const FetchResult fetched = source.fetch(replica.address(), 0, kEvents, 1 << 20);
        CHECK_FALSE(fetched.ok);
        CHECK_MESSAGE(fetched.error.find("TLS handshake") != std::string::npos, fetched.error);
        CHECK(replica.records_served() == 0);
    }
    SUBCASE("plain HTTP to the TLS port gets no events") {
        api::HttpSnapshotSource source;
        const FetchResult fetched = source.fetch(replica.address(), 0, kEvents, 1 << 20);
        CHECK_FALSE(fetched.ok);
        CHECK(replica.records_served() == 0);
    }
}

TEST_CASE("snapshot source: stop() ends a fetch from a peer that never answers") {
    boost::asio::io_context io;
    boost::asio::ip::tcp::acceptor acceptor(
        io, boost::asio::ip::tcp::endpoint(boost::asio::ip::make_address("127.0.0.1"), 0));
    const std::string address = "127.0.0.1:" + std::to_string(acceptor.local_endpoint().port());
    // A timeout far beyond the test's patience: only stop() can end the fetch in time.
    api::HttpSnapshotSource source(nullptr, std::chrono::minutes(5));
    FetchResult fetched;
    std::thread fetcher([&] { fetched = source.fetch(address, 0, 10, 1 << 20); });
    boost::asio::ip::tcp::socket silent(io);
    acceptor.accept(silent);  // connected; the request is never answered
    source.stop();
    fetcher.join();
    CHECK_FALSE(fetched.ok);
    CHECK_MESSAGE(fetched.error.find("stopping") != std::string::npos, fetched.error);
    // Once stopped, later fetches fail at once.
    const FetchResult later = source.fetch(address, 0, 10, 1 << 20);
    CHECK_FALSE(later.ok);
    CHECK(later.error.find("stopping") != std::string::npos);
}

}  // namespace annal::replication
