#include "api/http_snapshot_source.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>
#include <functional>
#include <optional>

#include "tls/tls_context.hpp"

namespace annal::api {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;

// "host:port", "[v6]:port".
bool split_address(const std::string& address, std::string& host, std::string& port) {
    const auto colon = address.rfind(':');
    if (colon == std::string::npos || colon + 1 == address.size()) {
        return false;
    }
    host = address.substr(0, colon);
    port = address.substr(colon + 1);
    if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
        host = host.substr(1, host.size() - 2);
    }
    return !host.empty();
}

// One fetch: each step runs asynchronously on a private io_context, driven on the calling
// (the fetcher's) thread until the step ends, so the step's timeout, or stop() stopping
// the io_context, can end it.
class Exchange {
  public:
    Exchange(asio::io_context& io, const std::string& address, const std::function<bool()>& stopped)
        : io_(io), address_(address), stopped_(stopped) {}

    // False with `error` set when the step failed, timed out or the source stopped.
    bool run(const char* what, std::string& error) {
        io_.run();
        io_.restart();  // before the check: a stop() after it still ends the next run()
        if (stopped_()) {
            error = std::string(what) + " " + address_ + ": the node is stopping";
            return false;
        }
        if (failure_) {
            error = std::string(what) + " " + address_ + ": " + failure_.message();
            return false;
        }
        return true;
    }

    // Sends `request` and reads the response on an established (plain or TLS) stream.
    template <typename Stream>
    bool round_trip(Stream& stream, beast::tcp_stream& tcp, std::chrono::milliseconds timeout,
                    const http::request<http::empty_body>& request, std::size_t body_limit,
                    http::response<http::string_body>& response, std::string& error) {
        tcp.expires_after(timeout);
        http::async_write(stream, request,
                          [this](beast::error_code ec, std::size_t) { failure_ = ec; });
        if (!run("sending to", error)) {
            return false;
        }
        beast::flat_buffer buffer;
        http::response_parser<http::string_body> parser;
        parser.body_limit(body_limit);
        tcp.expires_after(timeout);
        http::async_read(stream, buffer, parser,
                         [this](beast::error_code ec, std::size_t) { failure_ = ec; });
        if (!run("reading from", error)) {
            return false;
        }
        response = parser.release();
        return true;
    }

    beast::error_code& failure() { return failure_; }

  private:
    asio::io_context& io_;
    const std::string& address_;
    const std::function<bool()>& stopped_;
    beast::error_code failure_;
};

}  // namespace

bool HttpSnapshotSource::begin(asio::io_context& io) {
    std::lock_guard lock(mutex_);
    if (stopped_) {
        return false;
    }
    running_ = &io;
    return true;
}

void HttpSnapshotSource::end() {
    std::lock_guard lock(mutex_);
    running_ = nullptr;
}

bool HttpSnapshotSource::stopped() const {
    std::lock_guard lock(mutex_);
    return stopped_;
}

void HttpSnapshotSource::stop() {
    std::lock_guard lock(mutex_);
    stopped_ = true;
    if (running_ != nullptr) {
        running_->stop();  // thread-safe; the fetch's run() returns and sees stopped_
    }
}

replication::FetchResult HttpSnapshotSource::fetch(const std::string& address,
                                                   std::uint64_t after_position,
                                                   std::uint64_t upto_position,
                                                   std::size_t max_bytes) {
    replication::FetchResult result;
    std::string host;
    std::string port;
    if (!split_address(address, host, port)) {
        result.error = "bad peer address '" + address + "'";
        return result;
    }
    asio::io_context io;
    if (!begin(io)) {
        result.error = "the node is stopping";
        return result;
    }
    // Unregistered before `io` goes away, whichever way this returns.
    struct Registration {
        HttpSnapshotSource& source;
        ~Registration() { source.end(); }
    } registration{*this};
    const std::function<bool()> is_stopped = [this] { return stopped(); };
    Exchange exchange(io, address, is_stopped);

    asio::ip::tcp::resolver resolver(io);
    asio::ip::tcp::resolver::results_type endpoints;
    resolver.async_resolve(host, port,
                           [&](beast::error_code ec, asio::ip::tcp::resolver::results_type found) {
                               exchange.failure() = ec;
                               endpoints = std::move(found);
                           });
    if (!exchange.run("resolving", result.error)) {
        return result;
    }
    std::optional<beast::ssl_stream<beast::tcp_stream>> secure;
    std::optional<beast::tcp_stream> plain;
    if (tls_client_) {
        secure.emplace(io, *tls_client_);
        if (!tls::expect_server_name(secure->native_handle(), host, result.error)) {
            return result;
        }
    } else {
        plain.emplace(io);
    }
    beast::tcp_stream& tcp = secure ? beast::get_lowest_layer(*secure) : *plain;
    tcp.expires_after(timeout_);
    tcp.async_connect(endpoints,
                      [&](beast::error_code ec, const auto&) { exchange.failure() = ec; });
    if (!exchange.run("connecting to", result.error)) {
        return result;
    }

    const std::string target = "/internal/snapshot/events?after=" + std::to_string(after_position) +
                               "&upto=" + std::to_string(upto_position) +
                               "&max_bytes=" + std::to_string(max_bytes);
    http::request<http::empty_body> request{http::verb::get, target, 11};
    request.set(http::field::host, address);
    request.set(http::field::connection, "close");
    // A chunk ends after the record that crosses max_bytes: allow one more record's worth.
    const std::size_t body_limit = max_bytes + (64u << 20);
    http::response<http::string_body> response;
    if (secure) {
        tcp.expires_after(timeout_);
        secure->async_handshake(asio::ssl::stream_base::client,
                                [&](beast::error_code ec) { exchange.failure() = ec; });
        if (!exchange.run("TLS handshake with", result.error) ||
            !exchange.round_trip(*secure, tcp, timeout_, request, body_limit, response,
                                 result.error)) {
            return result;
        }
        // No close_notify exchange: the response is complete, and the peer closes anyway.
    } else if (!exchange.round_trip(tcp, tcp, timeout_, request, body_limit, response,
                                    result.error)) {
        return result;
    }
    beast::error_code ignored;
    tcp.socket().shutdown(asio::ip::tcp::socket::shutdown_both, ignored);
    if (response.result_int() != 200) {
        result.error = "HTTP " + std::to_string(response.result_int()) + " from " + address + ": " +
                       response.body().substr(0, 200);
        return result;
    }
    result.ok = true;
    result.body = std::move(response.body());
    return result;
}

}  // namespace annal::api
