#include "api/http_session.hpp"

#include <boost/asio/post.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket/rfc6455.hpp>
#include <cstring>
#include <optional>

#include "api/server_core.hpp"
#include "api/subscriber_sessions.hpp"

namespace annal::api {
namespace {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
using error_code = boost::system::error_code;

constexpr std::uint32_t kHeaderLimit = 16 * 1024;
constexpr auto kWriteTimeout = std::chrono::seconds(60);
// After a 413 the client may still be sending its body; reading (and dropping) it for
// a moment before closing lets the client see the reply instead of a connection reset.
constexpr auto kLingerTime = std::chrono::seconds(2);
constexpr std::size_t kLingerBytes = 64u << 20;

class HttpSession : public std::enable_shared_from_this<HttpSession> {
  public:
    HttpSession(ServerCore& core, ConnectionSocket socket, std::string_view already_read,
                ConnectionSecurity security)
        : core_(core), stream_(std::move(socket)), security_(security) {
        // Bytes the acceptor peeked at (to tell peers from clients) start the request.
        if (!already_read.empty()) {
            const auto space = buffer_.prepare(already_read.size());
            std::memcpy(space.data(), already_read.data(), already_read.size());
            buffer_.commit(already_read.size());
        }
    }

    ~HttpSession() { release_in_flight(); }

    void run() {
        net::post(stream_.get_executor(), [self = shared_from_this()] { self->read_header(); });
    }

  private:
    void read_header() {
        parser_.emplace();
        parser_->header_limit(kHeaderLimit);
        parser_->body_limit(core_.options.max_body_bytes);
        stream_.expires_after(core_.options.idle_timeout);
        http::async_read_header(
            stream_, buffer_, *parser_,
            [self = shared_from_this()](error_code ec, std::size_t) { self->on_header(ec); });
    }

    void on_header(error_code ec) {
        if (ec) {
            on_read_error(ec);
            return;
        }
        // Small bodies usually arrive with their header: finish parsing from the buffer
        // instead of starting another asynchronous read.
        while (!parser_->is_done() && buffer_.size() > 0) {
            error_code put_ec;
            const std::size_t used = parser_->put(buffer_.data(), put_ec);
            buffer_.consume(used);
            if (put_ec == http::error::need_more || (!put_ec && used == 0)) {
                break;
            }
            if (put_ec) {
                on_read_error(put_ec);
                return;
            }
        }
        if (parser_->is_done()) {
            handle_request();
            return;
        }
        const auto& request = parser_->get();
        if (beast::iequals(request[http::field::expect], "100-continue")) {
            continue_response_.emplace(http::status::continue_, request.version());
            http::async_write(stream_, *continue_response_,
                              [self = shared_from_this()](error_code write_ec, std::size_t) {
                                  if (write_ec) {
                                      self->close();
                                      return;
                                  }
                                  self->read_body();
                              });
            return;
        }
        read_body();
    }

    void read_body() {
        http::async_read(stream_, buffer_, *parser_,
                         [self = shared_from_this()](error_code ec, std::size_t) {
                             if (ec) {
                                 self->on_read_error(ec);
                                 return;
                             }
                             self->handle_request();
                         });
    }

    void on_read_error(error_code ec) {
        if (ec == http::error::body_limit) {
            keep_alive_ = false;
            linger_after_reply_ = true;
            send(ApiHandler::error_reply(ApiError{413, "body_too_large",
                                                  "request body is larger than " +
                                                      std::to_string(core_.options.max_body_bytes) +
                                                      " bytes",
                                                  false, std::nullopt}));
            return;
        }
        if (ec.category() == http::make_error_code(http::error::bad_target).category() &&
            ec != http::error::end_of_stream && ec != http::error::partial_message) {
            keep_alive_ = false;
            version_ = 11;
            send(ApiHandler::error_reply(ApiError{400, "bad_request",
                                                  "not a valid HTTP/1.1 request: " + ec.message(),
                                                  false, std::nullopt}));
            return;
        }
        // EOF, timeout, reset: nothing to answer.
        close();
    }

    void handle_request() {
        received_at_ = std::chrono::steady_clock::now();
        request_ = parser_->release();
        parser_.reset();
        keep_alive_ = request_.keep_alive();
        version_ = request_.version();
        target_ = std::string(request_.target());
        dispatch(core_.handler.route(request_.method_string(), request_.target(), request_.body(),
                                     security_));
    }

    void dispatch(Routed routed) {
        if (auto* reply = std::get_if<Reply>(&routed)) {
            send(std::move(*reply));
            return;
        }
        if (auto* job = std::get_if<SubscribeJob>(&routed)) {
            stream_.expires_never();
            if (beast::websocket::is_upgrade(request_)) {
                start_websocket_subscription(core_, std::move(stream_), std::move(request_),
                                             std::move(*job));
            } else {
                start_ndjson_subscription(core_, std::move(stream_), version_, std::move(*job));
            }
            return;
        }
        if (std::holds_alternative<BarrierJob>(routed)) {
            wait_for_read_barrier();
            return;
        }
        if (auto* job = std::get_if<AdminJob>(&routed)) {
            stream_.expires_never();
            job->start([self = shared_from_this()](AdminOutcome outcome) mutable {
                auto executor = self->stream_.get_executor();
                net::post(executor, [self = std::move(self), outcome = std::move(outcome)] {
                    self->send(ApiHandler::admin_reply(outcome, self->target_));
                });
            });
            return;
        }
        submit_append(std::move(std::get<AppendJob>(routed).request));
    }

    void wait_for_read_barrier() {
        // The client waits for us; the store bounds the wait (read_barrier_timeout).
        stream_.expires_never();
        core_.store.read_barrier([self = shared_from_this()](storage::ReadBarrierResult result) {
            auto executor = self->stream_.get_executor();
            net::post(executor, [self = std::move(self), result = std::move(result)] {
                if (result.status != storage::ReadBarrierResult::Status::Ok) {
                    self->send(ApiHandler::barrier_reply(result, self->target_));
                    return;
                }
                self->dispatch(self->core_.handler.route(
                    self->request_.method_string(), self->request_.target(), self->request_.body(),
                    self->security_, true));
            });
        });
    }

    void submit_append(storage::AppendRequest request) {
        append_stream_ = request.stream;
        core_.appends_in_flight.fetch_add(1, std::memory_order_acq_rel);
        counted_in_flight_ = true;
        // No read timeout while the store works: the client is waiting for us.
        stream_.expires_never();
        core_.store.append(
            std::move(request), [self = shared_from_this()](storage::AppendResult result) mutable {
                // Committer thread: hand the result back to this connection's strand and
                // return at once.
                auto executor = self->stream_.get_executor();
                net::post(executor, [self = std::move(self), result = std::move(result)] {
                    self->on_append_done(result);
                });
            });
    }

    void on_append_done(const storage::AppendResult& result) {
        Reply reply = ApiHandler::append_reply(result, append_stream_, target_);
        core_.metrics.observe_append_latency(
            std::chrono::duration<double>(std::chrono::steady_clock::now() - received_at_).count());
        send(std::move(reply));
    }

    void send(Reply reply) {
        core_.metrics.count_http_response(reply.status);
        if (core_.flags.shutting_down.load(std::memory_order_acquire)) {
            keep_alive_ = false;
        }
        response_.emplace(static_cast<http::status>(reply.status), version_);
        response_->set(http::field::server, "annal");
        response_->set(http::field::content_type, reply.content_type);
        if (!reply.allow.empty()) {
            response_->set(http::field::allow, reply.allow);
        }
        if (!reply.location.empty()) {
            response_->set(http::field::location, reply.location);
        }
        if (!reply.retry_after.empty()) {
            response_->set(http::field::retry_after, reply.retry_after);
        }
        response_->keep_alive(keep_alive_);
        response_->body() = std::move(reply.body);
        response_->prepare_payload();
        stream_.expires_after(kWriteTimeout);
        http::async_write(
            stream_, *response_,
            [self = shared_from_this()](error_code ec, std::size_t) { self->on_write(ec); });
    }

    void on_write(error_code ec) {
        response_.reset();
        release_in_flight();
        if (ec) {
            close();
            return;
        }
        if (linger_after_reply_) {
            linger();
            return;
        }
        if (!keep_alive_) {
            close();
            return;
        }
        read_header();
    }

    void linger() {
        error_code ignored;
        stream_.socket().shutdown(net::ip::tcp::socket::shutdown_send, ignored);
        stream_.expires_after(kLingerTime);
        buffer_.clear();
        stream_.async_read_some(buffer_.prepare(16 * 1024),
                                [self = shared_from_this()](error_code ec, std::size_t bytes) {
                                    self->lingered_bytes_ += bytes;
                                    if (ec || self->lingered_bytes_ > kLingerBytes) {
                                        self->close();
                                        return;
                                    }
                                    self->linger();
                                });
    }

    void close() {
        error_code ignored;
        stream_.socket().shutdown(net::ip::tcp::socket::shutdown_both, ignored);
        stream_.close();
    }

    void release_in_flight() {
        if (counted_in_flight_) {
            counted_in_flight_ = false;
            core_.appends_in_flight.fetch_sub(1, std::memory_order_acq_rel);
        }
    }

    ServerCore& core_;
    ConnectionStream stream_;
    // Per connection, so the same for each of its requests (routes that must only serve
    // other nodes check security_.client_certificate_verified).
    const ConnectionSecurity security_;
    beast::flat_buffer buffer_;
    std::optional<http::request_parser<http::string_body>> parser_;
    std::optional<http::response<http::empty_body>> continue_response_;
    std::optional<http::response<http::string_body>> response_;
    http::request<http::string_body> request_;  // the one being answered
    std::string target_;
    std::string append_stream_;
    std::chrono::steady_clock::time_point received_at_;
    unsigned version_ = 11;
    bool keep_alive_ = true;
    bool linger_after_reply_ = false;
    bool counted_in_flight_ = false;
    std::size_t lingered_bytes_ = 0;
};

}  // namespace

void start_http_session(ServerCore& core, ConnectionSocket socket, std::string_view already_read,
                        ConnectionSecurity security) {
    std::make_shared<HttpSession>(core, std::move(socket), already_read, security)->run();
}

}  // namespace annal::api
