// Load generator for the HTTP append path (a benchmark command, not a test).
//
//   annal_api_loadgen [--clients N] [--seconds S] [--batch E] [--port P] [--no-fsync]
//                     [--io-threads T]
//
// Without --port it starts an in-process store (fsync on unless --no-fsync) and server in
// a temporary directory; with --port it drives an already running node on 127.0.0.1.
// Each client is one keep-alive connection appending `batch` events per request, one
// request at a time, to its own stream. Prints events/s and request latency p50/p99.
#include <algorithm>
#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "api/http_server.hpp"
#include "storage/event_store.hpp"

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
using tcp = net::ip::tcp;
using Clock = std::chrono::steady_clock;

namespace {

struct Totals {
    std::uint64_t ok = 0;
    std::uint64_t failed = 0;
    std::vector<double> latencies_ms;
};

class Appender : public std::enable_shared_from_this<Appender> {
  public:
    Appender(net::io_context& io, std::uint16_t port, int id, int batch, Clock::time_point end,
             Totals& totals)
        : stream_(io), port_(port), end_(end), totals_(totals) {
        std::string body = "{\"events\":[";
        for (int i = 0; i < batch; ++i) {
            body += std::string(i ? "," : "") +
                    "{\"type\":\"LoadTest\",\"data\":{\"client\":" + std::to_string(id) +
                    ",\"payload\":\"0123456789abcdef0123456789abcdef\"}}";
        }
        body += "]}";
        request_ = {http::verb::post, "/v1/streams/load-" + std::to_string(id), 11};
        request_.set(http::field::host, "127.0.0.1");
        request_.set(http::field::content_type, "application/json");
        request_.body() = std::move(body);
        request_.prepare_payload();
        batch_ = static_cast<std::uint64_t>(batch);
    }

    void start() {
        stream_.async_connect(tcp::endpoint(net::ip::make_address("127.0.0.1"), port_),
                              [self = shared_from_this()](beast::error_code ec) {
                                  if (ec) {
                                      std::fprintf(stderr, "connect: %s\n", ec.message().c_str());
                                      return;
                                  }
                                  self->stream_.socket().set_option(tcp::no_delay(true));
                                  self->send();
                              });
    }

  private:
    void send() {
        if (Clock::now() >= end_) {
            return;
        }
        sent_at_ = Clock::now();
        http::async_write(
            stream_, request_, [self = shared_from_this()](beast::error_code ec, std::size_t) {
                if (ec) {
                    ++self->totals_.failed;
                    return;
                }
                self->response_ = {};
                http::async_read(self->stream_, self->buffer_, self->response_,
                                 [self](beast::error_code read_ec, std::size_t) {
                                     if (read_ec) {
                                         ++self->totals_.failed;
                                         return;
                                     }
                                     if (self->response_.result_int() == 200) {
                                         self->totals_.ok += self->batch_;
                                         self->totals_.latencies_ms.push_back(
                                             std::chrono::duration<double, std::milli>(
                                                 Clock::now() - self->sent_at_)
                                                 .count());
                                     } else {
                                         ++self->totals_.failed;
                                     }
                                     self->send();
                                 });
            });
    }

    beast::tcp_stream stream_;
    std::uint16_t port_;
    Clock::time_point end_;
    Totals& totals_;
    http::request<http::string_body> request_;
    http::response<http::string_body> response_;
    beast::flat_buffer buffer_;
    Clock::time_point sent_at_;
    std::uint64_t batch_ = 1;
};

double percentile(std::vector<double>& values, double p) {
    if (values.empty()) {
        return 0;
    }
    const auto index = static_cast<std::size_t>(p * static_cast<double>(values.size() - 1));
    std::nth_element(values.begin(), values.begin() + static_cast<std::ptrdiff_t>(index),
                     values.end());
    return values[index];
}

}  // namespace

int main(int argc, char** argv) {
    int clients = 64;
    int seconds = 5;
    int batch = 1;
    int port = 0;
    unsigned io_threads = 2;
    bool fsync = true;
    for (int i = 1; i < argc; ++i) {
        const std::string arg = argv[i];
        auto next = [&] { return i + 1 < argc ? std::atoi(argv[++i]) : 0; };
        if (arg == "--clients") {
            clients = next();
        } else if (arg == "--seconds") {
            seconds = next();
        } else if (arg == "--batch") {
            batch = next();
        } else if (arg == "--port") {
            port = next();
        } else if (arg == "--io-threads") {
            io_threads = static_cast<unsigned>(next());
        } else if (arg == "--no-fsync") {
            fsync = false;
        } else {
            std::fprintf(stderr, "unknown argument %s\n", arg.c_str());
            return 2;
        }
    }

    std::string directory;
    std::unique_ptr<annal::storage::EventStore> store;
    std::unique_ptr<annal::api::HttpServer> server;
    if (port == 0) {
        directory = (std::filesystem::temp_directory_path() / "annal-loadgen-XXXXXX").string();
        if (mkdtemp(directory.data()) == nullptr) {
            return 1;
        }
        annal::storage::StoreOptions store_options;
        store_options.directory = directory;
        store_options.durable = fsync;
        std::string error;
        store = annal::storage::EventStore::open(store_options, error);
        if (!store) {
            std::fprintf(stderr, "store: %s\n", error.c_str());
            return 1;
        }
        annal::api::ServerOptions options;
        options.io_threads = io_threads;
        server = std::make_unique<annal::api::HttpServer>(*store, options);
        if (!server->start(error)) {
            std::fprintf(stderr, "server: %s\n", error.c_str());
            return 1;
        }
        port = server->port();
    }

    net::io_context io(1);
    Totals totals;
    const auto begin = Clock::now();
    const auto end = begin + std::chrono::seconds(seconds);
    for (int c = 0; c < clients; ++c) {
        std::make_shared<Appender>(io, static_cast<std::uint16_t>(port), c, batch, end, totals)
            ->start();
    }
    io.run();
    const double elapsed = std::chrono::duration<double>(Clock::now() - begin).count();

    std::uint64_t commits = 0;
    if (server) {
        commits = store->stats().commits;
        server->stop();
        store->close();
        server.reset();
        store.reset();
        std::filesystem::remove_all(directory);
    }
    std::printf(
        "clients=%d batch=%d fsync=%s seconds=%.1f events=%llu failed=%llu events/s=%.0f "
        "p50_ms=%.2f p99_ms=%.2f%s\n",
        clients, batch, fsync ? "on" : "off", elapsed, static_cast<unsigned long long>(totals.ok),
        static_cast<unsigned long long>(totals.failed), static_cast<double>(totals.ok) / elapsed,
        percentile(totals.latencies_ms, 0.5), percentile(totals.latencies_ms, 0.99),
        commits ? (" commits=" + std::to_string(commits)).c_str() : "");
    return totals.failed == 0 ? 0 : 1;
}
