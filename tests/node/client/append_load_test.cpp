// The append load generator (client::run_append_load, behind `annal bench`) against an
// in-process node: every acknowledged event is in the node, in the stream the generator
// says, no more and no fewer; errors are counted by status; a follower's 307 is followed
// once; an endless redirect and an unreachable node fail clearly. And the latency
// histogram's percentiles against known distributions.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/streambuf.hpp>
#include <boost/asio/write.hpp>
#include <cstdlib>
#include <filesystem>
#include <istream>
#include <memory>
#include <string>
#include <thread>

#include "api/http_server.hpp"
#include "client/append_load.hpp"
#include "client/client.hpp"
#include "client/latency_histogram.hpp"
#include "storage/event_store.hpp"

namespace {

namespace net = boost::asio;
using tcp = net::ip::tcp;
using annal::client::AppendLoadOptions;
using annal::client::AppendLoadReport;
using annal::client::Endpoint;
using annal::client::LatencyHistogram;

// A standalone node (store without fsync + HTTP server) in a temporary directory.
class InProcessNode {
  public:
    InProcessNode() {
        std::string pattern =
            (std::filesystem::temp_directory_path() / "annal-load-test-XXXXXX").string();
        REQUIRE(mkdtemp(pattern.data()) != nullptr);
        directory_ = pattern;
        annal::storage::StoreOptions store_options;
        store_options.directory = directory_;
        store_options.durable = false;
        std::string error;
        store_ = annal::storage::EventStore::open(store_options, error);
        REQUIRE_MESSAGE(store_ != nullptr, error);
        server_ = std::make_unique<annal::api::HttpServer>(*store_, annal::api::ServerOptions{});
        REQUIRE_MESSAGE(server_->start(error), error);
    }
    ~InProcessNode() {
        server_->begin_shutdown();
        server_->wait_for_appends(std::chrono::seconds(5));
        server_->stop();
        store_->close();
        server_.reset();
        store_.reset();
        std::error_code ignored;
        std::filesystem::remove_all(directory_, ignored);
    }
    InProcessNode(const InProcessNode&) = delete;
    InProcessNode& operator=(const InProcessNode&) = delete;

    Endpoint endpoint() const {
        Endpoint endpoint;
        endpoint.port = std::to_string(server_->port());
        return endpoint;
    }

  private:
    std::string directory_;
    std::unique_ptr<annal::storage::EventStore> store_;
    std::unique_ptr<annal::api::HttpServer> server_;
};

// Answers every request with a 307 to `leader_url` + the request's target (what a
// follower does), then closes the connection.
class Redirector {
  public:
    Redirector() : acceptor_(io_, tcp::endpoint(net::ip::make_address("127.0.0.1"), 0)) {}
    ~Redirector() {
        stopping_ = true;
        boost::system::error_code ignored;
        tcp::socket poke(io_);
        poke.connect(acceptor_.local_endpoint(), ignored);
        thread_.join();
    }
    Redirector(const Redirector&) = delete;
    Redirector& operator=(const Redirector&) = delete;

    void start(std::string leader_url) {
        leader_url_ = std::move(leader_url);
        thread_ = std::thread([this] { serve(); });
    }
    std::string url() const {
        return "http://127.0.0.1:" + std::to_string(acceptor_.local_endpoint().port());
    }
    Endpoint endpoint() const {
        Endpoint endpoint;
        endpoint.port = std::to_string(acceptor_.local_endpoint().port());
        return endpoint;
    }
    int requests() const { return requests_.load(); }

  private:
    void serve() {
        while (!stopping_) {
            tcp::socket socket(io_);
            boost::system::error_code ec;
            acceptor_.accept(socket, ec);
            if (ec || stopping_) {
                return;
            }
            net::streambuf buffer;
            net::read_until(socket, buffer, "\r\n\r\n", ec);
            if (ec) {
                continue;
            }
            std::istream head(&buffer);
            std::string method;
            std::string target;
            head >> method >> target;
            ++requests_;
            const std::string body = R"({"error":"not_leader","message":"ask the leader"})";
            const std::string reply =
                "HTTP/1.1 307 Temporary Redirect\r\nLocation: " + leader_url_ + target +
                "\r\nContent-Type: application/json\r\nContent-Length: " +
                std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n" + body;
            net::write(socket, net::buffer(reply), ec);
        }
    }

    net::io_context io_;
    tcp::acceptor acceptor_;
    std::string leader_url_;
    std::atomic<bool> stopping_{false};
    std::atomic<int> requests_{0};
    std::thread thread_;
};

AppendLoadReport run_load(const Endpoint& endpoint, const AppendLoadOptions& options) {
    std::uint64_t last_progress = 0;
    auto outcome =
        annal::client::run_append_load(endpoint, options, [&last_progress](std::uint64_t done) {
            // Progress only ever counts up.
            CHECK(done >= last_progress);
            last_progress = done;
        });
    REQUIRE_MESSAGE(outcome.ok(), (outcome.ok() ? "" : outcome.error().describe()));
    CHECK(last_progress == outcome.value().appends);
    return outcome.value();
}

// Every event of `stream` as the node returns it (following the pages).
std::uint64_t count_stream_events(annal::client::Client& client, const std::string& stream) {
    std::uint64_t count = 0;
    annal::client::ReadStreamRequest request;
    request.stream = stream;
    request.limit = 1000;
    for (;;) {
        auto page = client.read_stream(request);
        if (!page && page.error().http_status == 404) {
            return count;  // never written
        }
        REQUIRE_MESSAGE(page.ok(), (page.ok() ? "" : page.error().describe()));
        for (const auto& event : page.value().events) {
            CHECK(event.type == "BenchEvent");
        }
        count += page.value().events.size();
        if (!page.value().next) {
            return count;
        }
        request.from = page.value().next;
    }
}

// The node holds exactly the acknowledged events, stream by stream.
void check_node_holds_exactly(const Endpoint& endpoint, const AppendLoadReport& report) {
    annal::client::Client client(endpoint);
    std::uint64_t acknowledged = 0;
    std::uint64_t stored = 0;
    REQUIRE(report.streams.size() == report.connections);
    for (const auto& stream : report.streams) {
        const std::uint64_t in_node = count_stream_events(client, stream.name);
        CHECK_MESSAGE(in_node == stream.acknowledged_events, stream.name);
        acknowledged += stream.acknowledged_events;
        stored += in_node;
    }
    CHECK(acknowledged == report.events);
    CHECK(stored == report.events);
    CHECK(report.events == report.appends * report.batch);
}

void check_latencies_ordered(const AppendLoadReport& report) {
    CHECK(report.latency_p50_ms > 0);
    CHECK(report.latency_p50_ms <= report.latency_p90_ms);
    CHECK(report.latency_p90_ms <= report.latency_p99_ms);
    CHECK(report.latency_p99_ms <= report.latency_p999_ms);
    CHECK(report.latency_p999_ms <= report.latency_max_ms);
    CHECK(report.latency_mean_ms <= report.latency_max_ms);
}

}  // namespace

TEST_CASE("latency histogram: exact below 256 us, within 1/128 above, max and mean exact") {
    LatencyHistogram empty;
    CHECK(empty.count() == 0);
    CHECK(empty.percentile_us(0.5) == 0);
    CHECK(empty.mean_us() == 0);

    LatencyHistogram small;
    for (std::uint64_t value = 1; value <= 200; ++value) {
        small.record(value);
    }
    CHECK(small.count() == 200);
    CHECK(small.percentile_us(0.5) == 100);
    CHECK(small.percentile_us(0.99) == 198);
    CHECK(small.percentile_us(1.0) == 200);
    CHECK(small.percentile_us(0.0) == 1);
    CHECK(small.mean_us() == doctest::Approx(100.5));

    LatencyHistogram wide;
    for (std::uint64_t value = 1; value <= 100000; ++value) {
        wide.record(value * 10);  // 10 us .. 1 s
    }
    for (const double fraction : {0.5, 0.9, 0.99, 0.999}) {
        const double exact = fraction * 1000000.0;
        const auto reported = static_cast<double>(wide.percentile_us(fraction));
        CHECK(reported >= exact);  // an upper bound of the bucket, never below
        CHECK(reported <= exact * (1.0 + 1.0 / 128.0) + 10);
    }
    CHECK(wide.max_us() == 1000000);
    CHECK(wide.percentile_us(1.0) == 1000000);

    LatencyHistogram merged;
    merged.merge(small);
    merged.merge(wide);
    CHECK(merged.count() == 100200);
    CHECK(merged.max_us() == 1000000);
    // Rank ceil(0.001 x 100200) = 101: 1..92 from `small` and 10, 20, .., 90 from `wide`.
    CHECK(merged.percentile_us(0.001) == 92);
}

TEST_CASE("append load: a fixed number of appends, every acknowledged event is stored") {
    InProcessNode node;
    AppendLoadOptions options;
    options.connections = 8;
    options.appends = 203;  // not a multiple of 8: the remainder is spread too
    options.batch = 3;
    options.event_bytes = 100;
    options.stream_prefix = "fixed";
    const AppendLoadReport report = run_load(node.endpoint(), options);
    CHECK(report.errors == 0);
    CHECK(report.errors_by_status.empty());
    CHECK(report.appends == 203);
    CHECK(report.events == 609);
    CHECK(report.connections == 8);
    CHECK(report.target == node.endpoint().to_url());
    check_node_holds_exactly(node.endpoint(), report);
    check_latencies_ordered(report);

    // The data is a JSON string of exactly event_bytes bytes.
    annal::client::Client client(node.endpoint());
    annal::client::ReadStreamRequest request;
    request.stream = report.streams.front().name;
    request.limit = 1;
    auto page = client.read_stream(request);
    REQUIRE(page.ok());
    REQUIRE(page.value().events.size() == 1);
    REQUIRE(page.value().events.front().data_json.has_value());
    CHECK(page.value().events.front().data_json->size() == 100);
}

TEST_CASE("append load: a one-second run, acknowledged events == events in the node") {
    InProcessNode node;
    AppendLoadOptions options;
    options.connections = 16;
    options.duration = std::chrono::seconds(1);
    options.batch = 1;
    options.event_bytes = 64;
    options.stream_prefix = "timed";
    const AppendLoadReport report = run_load(node.endpoint(), options);
    CHECK(report.errors == 0);
    CHECK(report.appends > 0);
    CHECK(report.seconds > 0);
    CHECK(report.events_per_s ==
          doctest::Approx(static_cast<double>(report.events) / report.seconds));
    check_node_holds_exactly(node.endpoint(), report);
    check_latencies_ordered(report);
}

TEST_CASE("append load: rejected appends are counted by status and code") {
    InProcessNode node;
    AppendLoadOptions options;
    options.connections = 2;
    options.appends = 10;
    options.stream_prefix = "$reserved";  // '$' names are refused: 400 invalid_stream
    const AppendLoadReport report = run_load(node.endpoint(), options);
    CHECK(report.appends == 0);
    CHECK(report.events == 0);
    // Each connection gives up after 100 errors in a row.
    CHECK(report.errors == 200);
    REQUIRE(report.errors_by_status.size() == 1);
    CHECK(report.errors_by_status.begin()->first == "400 invalid_stream");
    CHECK(report.errors_by_status.begin()->second == 200);
    CHECK(report.first_error.find("400") != std::string::npos);
}

TEST_CASE("append load: follows a follower's 307 to the leader once, before the run") {
    InProcessNode leader;
    Redirector follower;
    follower.start(leader.endpoint().to_url());
    AppendLoadOptions options;
    options.connections = 4;
    options.appends = 40;
    options.stream_prefix = "redirected";
    const AppendLoadReport report = run_load(follower.endpoint(), options);
    CHECK(report.target == leader.endpoint().to_url());
    CHECK(report.errors == 0);
    CHECK(report.appends == 40);
    CHECK(follower.requests() == 1);  // only the probe; the appends went to the leader
    check_node_holds_exactly(leader.endpoint(), report);
}

TEST_CASE("append load: an endless redirect or an unreachable node fails clearly") {
    Redirector looping;
    looping.start(looping.url());
    AppendLoadOptions options;
    options.connections = 2;
    options.appends = 2;
    auto redirected =
        annal::client::run_append_load(looping.endpoint(), options, [](std::uint64_t) {});
    REQUIRE_FALSE(redirected.ok());
    CHECK(redirected.error().http_status == 307);
    CHECK(looping.requests() == 2);  // the probe and the one hop it followed

    Endpoint nowhere;
    {
        // A port that was free a moment ago: nothing listens there.
        net::io_context io;
        tcp::acceptor probe(io, tcp::endpoint(net::ip::make_address("127.0.0.1"), 0));
        nowhere.port = std::to_string(probe.local_endpoint().port());
    }
    auto unreachable = annal::client::run_append_load(nowhere, options, [](std::uint64_t) {});
    REQUIRE_FALSE(unreachable.ok());
    CHECK(unreachable.error().kind == annal::client::Error::Kind::Transport);
}
