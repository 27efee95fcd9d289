#include "api/subscriber_sessions.hpp"

#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/websocket.hpp>
#include <cstdio>

#include "api/json_writer.hpp"
#include "api/server_core.hpp"

namespace annal::api {
namespace {

namespace beast = boost::beast;
namespace net = boost::asio;
namespace websocket = beast::websocket;
using error_code = boost::system::error_code;

// A page that serialized to more than this halves the next page's event count, so one
// subscriber's buffer stays around this size even with large events.
constexpr std::size_t kTargetPageBytes = 1u << 20;

// Reads the log in pages at the subscriber's own pace and hands each page to the
// transport. Everything below runs on the connection's strand.
class PagedSubscriber : public Subscriber, public std::enable_shared_from_this<PagedSubscriber> {
  public:
    PagedSubscriber(ServerCore& core, net::any_io_executor executor, SubscribeJob job)
        : core_(core),
          executor_(std::move(executor)),
          next_position_(job.from_position),
          stream_filter_(std::move(job.stream)),
          max_page_events_(std::max<std::size_t>(1, core.options.subscriber_buffer_events)),
          page_events_(max_page_events_) {}

    ~PagedSubscriber() override { core_.hub.remove(this); }

    void wake() override {
        net::post(executor_, [self = shared_from_this()] { self->pump(); });
    }

    void shut_down() override {
        net::post(executor_, [self = shared_from_this()] { self->close(); });
    }

  protected:
    // Writes page_ (events separated per ends_); must call on_page_written when done.
    virtual void write_page() = 0;
    virtual void close_transport() = 0;
    // Separator after each event in page_ ("\n" for NDJSON, nothing for WebSocket).
    virtual std::string_view event_terminator() const = 0;

    void begin() {
        core_.hub.add(shared_from_this());
        pump();
    }

    void pump() {
        if (closed_ || writing_) {
            return;
        }
        const storage::ReadResult result =
            core_.store.read_all(next_position_, storage::Direction::Forwards, page_events_);
        if (result.status != storage::ReadStatus::Ok) {
            close();
            return;
        }
        page_.clear();
        ends_.clear();
        std::size_t raw_bytes = 0;
        for (const auto& event : result.events) {
            next_position_ = event.position + 1;
            raw_bytes += event.data.size() + event.metadata.size();
            if (stream_filter_ && event.stream != *stream_filter_) {
                continue;
            }
            append_event_json(event, page_);
            page_.append(event_terminator());
            ends_.push_back(page_.size());
        }
        if (raw_bytes > kTargetPageBytes && page_events_ > 1) {
            page_events_ /= 2;
        } else if (raw_bytes < kTargetPageBytes / 4 && page_events_ < max_page_events_) {
            page_events_ = std::min(max_page_events_, page_events_ * 2);
        }
        if (!ends_.empty()) {
            writing_ = true;
            write_page();
            return;
        }
        if (result.events.size() >= page_events_) {
            // A full page of other streams' events: keep scanning, but let other work
            // on this io thread run in between.
            net::post(executor_, [self = shared_from_this()] { self->pump(); });
            return;
        }
        // Caught up. Register for the next commit, then look again: a commit that
        // landed between the read above and the registration must not be missed.
        core_.hub.wait_for_commit(shared_from_this());
        if (core_.store.head_position() >= next_position_) {
            net::post(executor_, [self = shared_from_this()] { self->pump(); });
        }
    }

    void on_page_written(error_code ec) {
        writing_ = false;
        last_activity_ = std::chrono::steady_clock::now();
        if (ec) {
            close();
            return;
        }
        pump();
    }

    void close() {
        if (closed_) {
            return;
        }
        closed_ = true;
        core_.hub.remove(this);
        close_transport();
    }

    ServerCore& core_;
    net::any_io_executor executor_;
    std::uint64_t next_position_;
    std::optional<std::string> stream_filter_;
    const std::size_t max_page_events_;
    std::size_t page_events_;
    std::string page_;
    std::vector<std::size_t> ends_;  // end offset of each event in page_
    bool writing_ = false;
    bool closed_ = false;
    std::chrono::steady_clock::time_point last_activity_ = std::chrono::steady_clock::now();
};

class NdjsonSubscriber final : public PagedSubscriber {
  public:
    NdjsonSubscriber(ServerCore& core, ConnectionStream stream, unsigned http_version,
                     SubscribeJob job)
        : PagedSubscriber(core, stream.get_executor(), std::move(job)),
          stream_(std::move(stream)),
          chunked_(http_version >= 11),
          heartbeat_(stream_.get_executor()) {}

    void run() {
        stream_.expires_never();
        std::string header =
            "HTTP/1.1 200 OK\r\nServer: annal\r\nContent-Type: application/x-ndjson\r\n"
            "Cache-Control: no-store\r\n";
        header += chunked_ ? "Transfer-Encoding: chunked\r\n\r\n" : "Connection: close\r\n\r\n";
        page_ = std::move(header);
        writing_ = true;
        core_.metrics.count_http_response(200);
        net::async_write(stream_, net::buffer(page_),
                         [self = shared_self()](error_code ec, std::size_t) {
                             self->writing_ = false;
                             if (ec) {
                                 self->close();
                                 return;
                             }
                             self->watch_for_disconnect();
                             self->arm_heartbeat();
                             self->begin();
                         });
    }

  private:
    std::shared_ptr<NdjsonSubscriber> shared_self() {
        return std::static_pointer_cast<NdjsonSubscriber>(shared_from_this());
    }

    std::string_view event_terminator() const override { return "\n"; }

    void write_page() override {
        chunk_header_.clear();
        if (chunked_) {
            char size[24];
            const int length = std::snprintf(size, sizeof(size), "%zx\r\n", page_.size());
            chunk_header_.assign(size, static_cast<std::size_t>(length));
        }
        const std::array<net::const_buffer, 3> buffers = {
            net::buffer(chunk_header_), net::buffer(page_),
            net::buffer(chunked_ ? std::string_view("\r\n") : std::string_view())};
        net::async_write(stream_, buffers, [self = shared_self()](error_code ec, std::size_t) {
            self->on_page_written(ec);
        });
    }

    // The client never sends anything after its request; a read completing means it
    // hung up (or misbehaves), either way the subscription ends.
    void watch_for_disconnect() {
        stream_.socket().async_read_some(net::buffer(discard_),
                                         [self = shared_self()](error_code ec, std::size_t) {
                                             if (ec) {
                                                 self->close();
                                                 return;
                                             }
                                             self->watch_for_disconnect();
                                         });
    }

    void arm_heartbeat() {
        if (closed_) {
            return;
        }
        const auto interval = core_.options.heartbeat_interval;
        auto due = last_activity_ + interval;
        if (due <= std::chrono::steady_clock::now()) {
            due = std::chrono::steady_clock::now() + interval;
        }
        heartbeat_.expires_at(due);
        heartbeat_.async_wait([self = shared_self()](error_code ec) {
            if (ec || self->closed_) {
                return;
            }
            const auto now = std::chrono::steady_clock::now();
            if (!self->writing_ &&
                now - self->last_activity_ >= self->core_.options.heartbeat_interval) {
                self->page_.assign("{\"heartbeat\":");
                append_json_uint(self->core_.store.head_position(), self->page_);
                self->page_.append("}\n");
                self->writing_ = true;
                self->write_page();
            }
            self->arm_heartbeat();
        });
    }

    void close_transport() override {
        heartbeat_.cancel();
        error_code ignored;
        stream_.socket().shutdown(net::ip::tcp::socket::shutdown_both, ignored);
        stream_.socket().close(ignored);
    }

    ConnectionStream stream_;
    const bool chunked_;
    net::steady_timer heartbeat_;
    std::string chunk_header_;
    std::array<char, 512> discard_{};
};

class WebSocketSubscriber final : public PagedSubscriber {
  public:
    WebSocketSubscriber(ServerCore& core, ConnectionStream stream, SubscribeJob job)
        : PagedSubscriber(core, stream.get_executor(), std::move(job)), ws_(std::move(stream)) {}

    void run(beast::http::request<beast::http::string_body> request) {
        beast::get_lowest_layer(ws_).expires_never();
        ws_.set_option(websocket::stream_base::timeout::suggested(beast::role_type::server));
        ws_.set_option(websocket::stream_base::decorator(
            [](websocket::response_type& response) { response.set("Server", "annal"); }));
        ws_.text(true);
        core_.metrics.count_http_response(101);
        ws_.async_accept(request, [self = shared_self()](error_code ec) {
            if (ec) {
                self->closed_ = true;
                return;
            }
            self->read_control();
            self->begin();
        });
    }

  private:
    std::shared_ptr<WebSocketSubscriber> shared_self() {
        return std::static_pointer_cast<WebSocketSubscriber>(shared_from_this());
    }

    std::string_view event_terminator() const override { return {}; }

    void write_page() override {
        message_index_ = 0;
        write_next_message();
    }

    void write_next_message() {
        const std::size_t begin = message_index_ == 0 ? 0 : ends_[message_index_ - 1];
        const std::size_t end = ends_[message_index_];
        ws_.async_write(net::buffer(page_.data() + begin, end - begin),
                        [self = shared_self()](error_code ec, std::size_t) {
                            if (ec || ++self->message_index_ == self->ends_.size()) {
                                self->on_page_written(ec);
                                return;
                            }
                            self->write_next_message();
                        });
    }

    // Reading keeps control frames (ping, close) flowing; data messages are ignored.
    void read_control() {
        ws_.async_read(read_buffer_, [self = shared_self()](error_code ec, std::size_t) {
            if (ec) {
                self->close();
                return;
            }
            self->read_buffer_.clear();
            self->read_control();
        });
    }

    void close_transport() override {
        if (ws_.is_open() && !writing_) {
            ws_.async_close(websocket::close_code::going_away,
                            [self = shared_self()](error_code) {});
            return;
        }
        error_code ignored;
        beast::get_lowest_layer(ws_).socket().close(ignored);
    }

    websocket::stream<ConnectionStream> ws_;
    beast::flat_buffer read_buffer_;
    std::size_t message_index_ = 0;
};

}  // namespace

void start_ndjson_subscription(ServerCore& core, ConnectionStream stream, unsigned http_version,
                               SubscribeJob job) {
    std::make_shared<NdjsonSubscriber>(core, std::move(stream), http_version, std::move(job))
        ->run();
}

void start_websocket_subscription(ServerCore& core, ConnectionStream stream,
                                  beast::http::request<beast::http::string_body> request,
                                  SubscribeJob job) {
    std::make_shared<WebSocketSubscriber>(core, std::move(stream), std::move(job))
        ->run(std::move(request));
}

}  // namespace annal::api
