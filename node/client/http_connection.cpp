#include "client/http_connection.hpp"

#include <array>
#include <boost/asio/connect.hpp>
#include <boost/asio/error.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/beast/http/buffer_body.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <limits>
#include <nlohmann/json.hpp>
#include <optional>

#include "tls/tls_context.hpp"

namespace annal::client {

namespace beast = boost::beast;
namespace http = boost::beast::http;
namespace net = boost::asio;
using tcp = net::ip::tcp;
using boost::system::error_code;

namespace {

constexpr const char* kUserAgent = "annal-client/1";

// Errors that mean "the server closed this keep-alive connection before answering".
bool is_stale_connection(const error_code& ec) {
    return ec == http::error::end_of_stream || ec == net::error::eof ||
           ec == net::error::connection_reset || ec == net::error::broken_pipe ||
           ec == net::error::connection_aborted || ec == net::ssl::error::stream_truncated;
}

template <typename Request>
void set_common_fields(Request& request, const Endpoint& endpoint) {
    request.set(http::field::host, endpoint.host + ":" + endpoint.port);
    request.set(http::field::user_agent, kUserAgent);
    request.keep_alive(true);
}

}  // namespace

HttpConnection::HttpConnection(Endpoint endpoint, std::chrono::milliseconds connect_timeout,
                               std::chrono::milliseconds request_timeout,
                               std::shared_ptr<net::ssl::context> tls)
    : endpoint_(std::move(endpoint)),
      connect_timeout_(connect_timeout),
      request_timeout_(request_timeout),
      stream_(io_),
      tls_context_(std::move(tls)) {}

template <typename Use>
decltype(auto) HttpConnection::with_stream(Use&& use) {
    if (tls_stream_) {
        return use(*tls_stream_);
    }
    return use(stream_);
}

beast::tcp_stream& HttpConnection::tcp() {
    return tls_stream_ ? tls_stream_->next_layer() : stream_;
}

HttpConnection::~HttpConnection() {
    close();
}

void HttpConnection::close() {
    if (connected_) {
        // No TLS close_notify: the server treats a closed connection as the end either way,
        // and waiting for its reply would only add a round trip.
        error_code ignored;
        tcp().socket().shutdown(tcp::socket::shutdown_both, ignored);
        tcp().close();
    }
    connected_ = false;
    tls_stream_.reset();
    buffer_.clear();
}

template <typename Start>
error_code HttpConnection::run(Start&& start, std::size_t* bytes) {
    std::optional<error_code> result;
    start([&result, bytes](error_code ec, std::size_t transferred) {
        result = ec;
        if (bytes != nullptr) {
            *bytes = transferred;
        }
    });
    io_.restart();
    while (!result) {
        if (io_.run_one() == 0) {
            break;
        }
    }
    return result.value_or(net::error::operation_aborted);
}

Error HttpConnection::transport_error(const std::string& what, error_code ec) const {
    Error error;
    error.kind = Error::Kind::Transport;
    error.code = ec == beast::error::timeout ? "timeout" : "connection_failed";
    error.message = what + " " + endpoint_.to_url() + ": " + ec.message();
    return error;
}

error_code HttpConnection::ensure_connected() {
    if (connected_) {
        return {};
    }
    buffer_.clear();
    error_code ec;
    if (resolved_.empty()) {
        tcp::resolver resolver(io_);
        resolved_ = resolver.resolve(endpoint_.host, endpoint_.port, ec);
        if (ec) {
            return ec;
        }
    }
    if (endpoint_.tls) {
        if (!tls_context_) {
            return net::error::no_protocol_option;  // the Client always passes one
        }
        tls_stream_ = std::make_unique<beast::ssl_stream<beast::tcp_stream>>(io_, *tls_context_);
    }
    tcp().expires_after(connect_timeout_);
    ec = run([this](auto handler) {
        tcp().async_connect(resolved_,
                            [handler](error_code e, const tcp::endpoint&) { handler(e, 0); });
    });
    if (!ec) {
        // Small requests must not wait for Nagle: latency is what appends are measured by.
        tcp().socket().set_option(tcp::no_delay(true), ec);
        ec = {};
        if (tls_stream_) {
            ec = handshake();
        }
    }
    if (ec) {
        tcp().close();
        tls_stream_.reset();
        return ec;
    }
    connected_ = true;
    return {};
}

error_code HttpConnection::handshake() {
    std::string error;
    if (!tls::expect_server_name(tls_stream_->native_handle(), endpoint_.host, error)) {
        return net::error::invalid_argument;
    }
    // Still under the connect deadline.
    return run([this](auto handler) {
        tls_stream_->async_handshake(net::ssl::stream_base::client,
                                     [handler](error_code e) { handler(e, 0); });
    });
}

Result<HttpResponse> HttpConnection::round_trip(http::verb method, const std::string& target,
                                                std::string_view body, bool retry_safe) {
    for (int attempt = 0;; ++attempt) {
        const bool reused = connected_;
        if (const auto ec = ensure_connected()) {
            return transport_error("cannot connect to", ec);
        }
        http::request<http::string_body> request{method, target, 11};
        set_common_fields(request, endpoint_);
        if (!body.empty() || method == http::verb::post) {
            request.set(http::field::content_type, "application/json");
            request.body().assign(body.data(), body.size());
            request.prepare_payload();
        }
        tcp().expires_after(request_timeout_);
        auto ec = run([&](auto handler) {
            with_stream([&](auto& stream) { http::async_write(stream, request, handler); });
        });
        http::response_parser<http::string_body> parser;
        parser.body_limit(std::numeric_limits<std::uint64_t>::max());
        if (!ec) {
            ec = run([&](auto handler) {
                with_stream(
                    [&](auto& stream) { http::async_read(stream, buffer_, parser, handler); });
            });
        }
        if (ec) {
            const bool stale = reused && is_stale_connection(ec) && !parser.got_some();
            close();
            if (stale && retry_safe && attempt == 0) {
                continue;
            }
            return transport_error("request to", ec);
        }
        auto& message = parser.get();
        HttpResponse response;
        response.status = static_cast<int>(message.result_int());
        response.content_type = std::string(message[http::field::content_type]);
        response.body = std::move(message.body());
        response.location = std::string(message[http::field::location]);
        if (!message.keep_alive()) {
            close();
        }
        return response;
    }
}

Result<Done> HttpConnection::stream_get(const std::string& target,
                                        const std::function<bool(std::string_view)>& on_bytes,
                                        std::stop_token stop,
                                        std::chrono::milliseconds idle_timeout) {
    struct CloseAfter {
        HttpConnection& connection;
        ~CloseAfter() { connection.close(); }
    } close_after{*this};

    if (const auto ec = ensure_connected()) {
        return transport_error("cannot connect to", ec);
    }
    http::request<http::empty_body> request{http::verb::get, target, 11};
    set_common_fields(request, endpoint_);
    request.set(http::field::accept, "application/x-ndjson");

    // Stop requests arrive from another thread: wake the io_context and cancel the
    // pending read from inside it, the only place the socket may be touched.
    std::stop_callback on_stop(stop, [this] { net::post(io_, [this] { tcp().cancel(); }); });

    tcp().expires_after(request_timeout_);
    auto ec = run([&](auto handler) {
        with_stream([&](auto& stream) { http::async_write(stream, request, handler); });
    });
    if (ec) {
        return transport_error("request to", ec);
    }
    http::response_parser<http::buffer_body> parser;
    parser.body_limit(std::numeric_limits<std::uint64_t>::max());
    ec = run([&](auto handler) {
        with_stream(
            [&](auto& stream) { http::async_read_header(stream, buffer_, parser, handler); });
    });
    if (stop.stop_requested()) {
        return Done{};
    }
    if (ec) {
        return transport_error("request to", ec);
    }
    const int status = static_cast<int>(parser.get().result_int());
    std::string error_body;
    std::array<char, 16384> chunk{};
    while (!parser.is_done()) {
        parser.get().body().data = chunk.data();
        parser.get().body().size = chunk.size();
        tcp().expires_after(idle_timeout);
        // read_some, not read: read returns only once the chunk buffer is full, which a
        // quiet live subscription may never do.
        ec = run([&](auto handler) {
            with_stream(
                [&](auto& stream) { http::async_read_some(stream, buffer_, parser, handler); });
        });
        if (stop.stop_requested()) {
            return Done{};
        }
        if (ec && ec != http::error::need_buffer) {
            return transport_error("subscription to", ec);
        }
        const std::string_view received(chunk.data(), chunk.size() - parser.get().body().size);
        if (status / 100 != 2) {
            error_body.append(received);
        } else if (!received.empty() && !on_bytes(received)) {
            return Done{};
        }
    }
    if (status / 100 != 2) {
        return error_from_response(HttpResponse{status, "", std::move(error_body), ""});
    }
    return Done{};
}

Error error_from_response(const HttpResponse& response) {
    Error error;
    error.kind = Error::Kind::Http;
    error.http_status = response.status;
    const auto body = nlohmann::json::parse(response.body, nullptr, false);
    if (body.is_object() && body.contains("error") && body["error"].is_string()) {
        error.code = body["error"].get<std::string>();
        if (body.contains("message") && body["message"].is_string()) {
            error.message = body["message"].get<std::string>();
        }
        if (body.contains("current_version") && body["current_version"].is_number_unsigned()) {
            error.current_version = body["current_version"].get<std::uint64_t>();
        }
    } else {
        error.code = "http_" + std::to_string(response.status);
        error.message = response.body.substr(0, 200);
    }
    return error;
}

}  // namespace annal::client
