#include "api/http_server.hpp"

#include <openssl/err.h>
#include <pthread.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <iostream>
#include <thread>
#include <vector>

#include "api/http_session.hpp"
#include "api/server_core.hpp"
#include "storage/event_store.hpp"
#include "tls/plaintext_relay.hpp"
#include "tls/rejection_log.hpp"
#include "tls/socket_stream.hpp"
#include "tls/tls_context.hpp"

namespace annal::api {

namespace net = boost::asio;
using tcp = net::ip::tcp;
using error_code = boost::system::error_code;

namespace {

// The first bytes of a peer connection (replication/peer_frame.hpp kFrameMagic, big-endian).
constexpr std::string_view kPeerMagic = "ANPR";

// What a connection's first bytes (all read so far) say it is. Decided as soon as they
// differ from the peer magic or match all of it; a read error before that closes it.
enum class Opening : std::uint8_t { Http, Peer, Closed, NeedMore };

Opening classify_opening(std::string_view seen, error_code ec) {
    if (seen != kPeerMagic.substr(0, seen.size())) {
        return Opening::Http;
    }
    if (seen.size() == kPeerMagic.size()) {
        return Opening::Peer;
    }
    return ec ? Opening::Closed : Opening::NeedMore;
}

struct OpeningBytes {
    std::array<char, 4> bytes{};
    std::size_t received = 0;
    std::string_view seen() const { return {bytes.data(), received}; }
};

// Reads `stream`'s first bytes into `opening` until classify_opening decides, then calls
// on_decided(decision). `owner` keeps the stream and `opening` alive across the reads.
template <typename Stream, typename Owner, typename OnDecided>
void read_opening(Stream& stream, OpeningBytes& opening, std::shared_ptr<Owner> owner,
                  OnDecided on_decided) {
    stream.async_read_some(
        net::buffer(opening.bytes.data() + opening.received, kPeerMagic.size() - opening.received),
        [&stream, &opening, owner = std::move(owner), on_decided = std::move(on_decided)](
            error_code ec, std::size_t count) mutable {
            opening.received += count;
            const Opening decided = classify_opening(opening.seen(), ec);
            if (decided == Opening::NeedMore) {
                read_opening(stream, opening, std::move(owner), std::move(on_decided));
                return;
            }
            on_decided(decided);
        });
}

// Reads a connection's first bytes and decides, as soon as they differ from the peer
// magic (or match all four), whether it is a peer or an HTTP client. A client that sends
// "GET " slowly is decided on its first byte; a connection that sends nothing is closed
// after the idle timeout, like an idle HTTP connection.
class ConnectionSniffer : public std::enable_shared_from_this<ConnectionSniffer> {
  public:
    ConnectionSniffer(ServerCore& core, const PeerAcceptor& peer_acceptor, ConnectionSocket socket)
        : core_(core),
          peer_acceptor_(peer_acceptor),
          socket_(std::move(socket)),
          timer_(socket_.get_executor()) {}

    void run() {
        timer_.expires_after(core_.options.idle_timeout);
        timer_.async_wait([weak = weak_from_this()](error_code ec) {
            if (ec) {
                return;
            }
            if (auto self = weak.lock()) {
                error_code ignored;
                self->socket_.cancel(ignored);
            }
        });
        read_more();
    }

  private:
    void read_more() {
        // The lambda's owner pointer keeps this object alive until it runs.
        read_opening(socket_, opening_, shared_from_this(),
                     [this](Opening decided) { on_opening(decided); });
    }

    void on_opening(Opening opening) {
        const std::string_view seen = opening_.seen();
        timer_.cancel();
        if (opening == Opening::Http) {
            start_http_session(core_, std::move(socket_), seen);
        } else if (opening == Opening::Peer) {
            peer_acceptor_(tls::SocketStream(tcp::socket(std::move(socket_))), std::string(seen));
        } else {
            // EOF, reset, or the idle timeout before the connection said what it is.
            error_code ignored;
            socket_.close(ignored);
        }
    }

    ServerCore& core_;
    const PeerAcceptor& peer_acceptor_;
    ConnectionSocket socket_;
    net::steady_timer timer_;
    OpeningBytes opening_;
};

// The start of a connection on a TLS port: the handshake (bounded by the handshake
// timeout), then the same peek as ConnectionSniffer on the decrypted bytes. Peers get the
// TLS stream itself; HTTP clients are served through a plaintext relay by the ordinary
// HTTP session, told whether the client's certificate verified.
class TlsConnectionStart : public std::enable_shared_from_this<TlsConnectionStart> {
  public:
    using TlsStream = tls::SocketStream::TlsStream;

    TlsConnectionStart(ServerCore& core, const PeerAcceptor& peer_acceptor,
                       net::ssl::context& context, tls::RejectionLog& log, ConnectionSocket socket)
        : core_(core),
          peer_acceptor_(peer_acceptor),
          log_(log),
          timer_(socket.get_executor()),
          io_executor_(socket.get_executor().get_inner_executor()),
          tls_(std::make_unique<TlsStream>(tcp::socket(std::move(socket)), context)) {}

    void run() {
        error_code ignored;
        remote_ = tls_->next_layer().remote_endpoint(ignored);
        arm_timer(core_.options.tls_handshake_timeout);
        tls_->async_handshake(
            net::ssl::stream_base::server,
            [self = shared_from_this()](error_code ec) { self->on_handshake(ec); });
    }

  private:
    void arm_timer(std::chrono::seconds timeout) {
        timer_.expires_after(timeout);
        timer_.async_wait([weak = weak_from_this()](error_code ec) {
            if (ec) {
                return;
            }
            if (auto self = weak.lock()) {
                error_code ignored;
                self->tls_->next_layer().cancel(ignored);
            }
        });
    }

    void on_handshake(error_code ec) {
        timer_.cancel();
        if (ec) {
            core_.metrics.count_tls_handshake_failure();
            report_failure(ec);
            answer_plain_http_or_close(ec);
            return;
        }
        verified_ = tls::peer_certificate_verified(tls_->native_handle());
        if (!peer_acceptor_) {
            start_http({});
            return;
        }
        arm_timer(core_.options.idle_timeout);
        read_more();
    }

    void report_failure(error_code ec) {
        std::uint64_t suppressed = 0;
        const std::string address = remote_.address().to_string();
        if (log_.should_log(address, suppressed)) {
            std::cerr << "annal: TLS handshake from " << address << " failed: " << ec.message()
                      << (suppressed > 0 ? " (" + std::to_string(suppressed) +
                                               " more from this address since the last report)"
                                         : std::string())
                      << std::endl;
        }
    }

    // A plain-HTTP request on the TLS port (OpenSSL recognises it): tell the client in
    // words it can read rather than leave it with a bare reset.
    void answer_plain_http_or_close(error_code ec) {
        const bool plain_http =
            ec.category() == net::error::get_ssl_category() &&
            ERR_GET_REASON(static_cast<unsigned long>(ec.value())) == SSL_R_HTTP_REQUEST;
        if (!plain_http) {
            close();
            return;
        }
        static constexpr std::string_view kAnswer =
            "HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain\r\nConnection: close\r\n"
            "Content-Length: 42\r\n\r\nthis port speaks TLS: use an https:// URL\n";
        arm_timer(std::chrono::seconds(5));
        net::async_write(tls_->next_layer(), net::buffer(kAnswer),
                         [self = shared_from_this()](error_code, std::size_t) { self->close(); });
    }

    void read_more() {
        // The lambda's owner pointer keeps this object (and *tls_) alive until it runs.
        read_opening(*tls_, opening_, shared_from_this(),
                     [this](Opening decided) { on_opening(decided); });
    }

    void on_opening(Opening opening) {
        const std::string_view seen = opening_.seen();
        timer_.cancel();
        if (opening == Opening::Http) {
            start_http(seen);
        } else if (opening == Opening::Peer) {
            peer_acceptor_(tls::SocketStream(std::move(tls_)), std::string(seen));
        } else {
            close();
        }
    }

    void start_http(std::string_view already_read) {
        // The session's socket gets its own strand; the relay stays on this one.
        auto executor = net::make_strand(io_executor_);
        error_code ec;
        const int plain_end = tls::start_plaintext_relay(std::move(tls_), ec);
        if (plain_end < 0) {
            return;  // out of descriptors: the relay closed the connection
        }
        ConnectionSocket socket(executor);
        // The plain end is a local stream socket; the session only reads, writes and
        // shuts it down, which work alike on any stream socket.
        socket.assign(tcp::v4(), plain_end, ec);
        if (ec) {
            ::close(plain_end);
            return;
        }
        start_http_session(core_, std::move(socket), already_read,
                           ConnectionSecurity{true, verified_});
    }

    void close() {
        error_code ignored;
        if (tls_) {
            tls_->next_layer().shutdown(tcp::socket::shutdown_both, ignored);
            tls_->next_layer().close(ignored);
        }
    }

    ServerCore& core_;
    const PeerAcceptor& peer_acceptor_;
    tls::RejectionLog& log_;
    net::steady_timer timer_;
    net::io_context::executor_type io_executor_;
    std::unique_ptr<TlsStream> tls_;
    tcp::endpoint remote_;
    bool verified_ = false;
    OpeningBytes opening_;
};

}  // namespace

struct HttpServer::Impl {
    Impl(storage::EventStore& store, ServerOptions options, ClusterAdmin* cluster)
        : core(store, options, cluster),
          io(static_cast<int>(std::max(1u, options.io_threads))),
          acceptor(net::make_strand(io)),
          retry_timer(acceptor.get_executor()),
          work(io.get_executor()) {}

    // Declared before `io` so it outlives it: handlers still queued in `io` when it is
    // destroyed (sessions, subscribers) refer to `core`.
    ServerCore core;
    net::io_context io;
    tcp::acceptor acceptor;
    net::steady_timer retry_timer;
    net::executor_work_guard<net::io_context::executor_type> work;
    std::vector<std::thread> threads;
    std::uint16_t bound_port = 0;
    bool stopped = false;
    PeerAcceptor peer_acceptor;                      // set before start(), then only read
    std::shared_ptr<net::ssl::context> tls_context;  // likewise
    tls::RejectionLog handshake_log;

    void accept() {
        acceptor.async_accept(net::make_strand(io), [this](error_code ec, ConnectionSocket socket) {
            if (ec == net::error::operation_aborted || !acceptor.is_open()) {
                return;
            }
            if (ec) {
                // Out of file descriptors or similar: back off instead of spinning.
                retry_timer.expires_after(std::chrono::milliseconds(100));
                retry_timer.async_wait([this](error_code timer_ec) {
                    if (!timer_ec) {
                        accept();
                    }
                });
                return;
            }
            error_code ignored;
            socket.set_option(tcp::no_delay(true), ignored);
            if (tls_context) {
                std::make_shared<TlsConnectionStart>(core, peer_acceptor, *tls_context,
                                                     handshake_log, std::move(socket))
                    ->run();
            } else if (peer_acceptor) {
                std::make_shared<ConnectionSniffer>(core, peer_acceptor, std::move(socket))->run();
            } else {
                start_http_session(core, std::move(socket));
            }
            accept();
        });
    }
};

HttpServer::HttpServer(storage::EventStore& store, ServerOptions options, ClusterAdmin* cluster)
    : impl_(std::make_unique<Impl>(store, std::move(options), cluster)) {}

void HttpServer::set_peer_acceptor(PeerAcceptor acceptor) {
    impl_->peer_acceptor = std::move(acceptor);
}

void HttpServer::set_tls_context(std::shared_ptr<net::ssl::context> context) {
    impl_->tls_context = std::move(context);
    if (impl_->tls_context) {
        impl_->core.metrics.enable_tls();
    }
}

std::uint64_t HttpServer::tls_handshake_failures() const {
    return impl_->core.metrics.tls_handshake_failures();
}

net::io_context& HttpServer::io_context() {
    return impl_->io;
}

HttpServer::~HttpServer() {
    stop();
}

bool HttpServer::start(std::string& error) {
    error_code ec;
    const auto address = net::ip::make_address(impl_->core.options.address, ec);
    if (ec) {
        error = "invalid listen address '" + impl_->core.options.address + "': " + ec.message();
        return false;
    }
    const tcp::endpoint endpoint(address, impl_->core.options.port);
    auto& acceptor = impl_->acceptor;
    acceptor.open(endpoint.protocol(), ec);
    if (!ec) {
        acceptor.set_option(net::socket_base::reuse_address(true), ec);
    }
    if (!ec) {
        acceptor.bind(endpoint, ec);
    }
    if (!ec) {
        acceptor.listen(net::socket_base::max_listen_connections, ec);
    }
    if (ec) {
        error = "cannot listen on " + impl_->core.options.address + ":" +
                std::to_string(impl_->core.options.port) + ": " + ec.message();
        error_code ignored;
        acceptor.close(ignored);
        return false;
    }
    impl_->bound_port = acceptor.local_endpoint(ec).port();
    impl_->core.hub.start(impl_->io.get_executor());
    net::post(acceptor.get_executor(), [impl = impl_.get()] { impl->accept(); });
    const unsigned thread_count = std::max(1u, impl_->core.options.io_threads);
    for (unsigned i = 0; i < thread_count; ++i) {
        impl_->threads.emplace_back([impl = impl_.get()] {
            pthread_setname_np(pthread_self(), "annal-io");
            impl->io.run();
        });
    }
    impl_->core.flags.ready.store(true, std::memory_order_release);
    return true;
}

std::uint16_t HttpServer::port() const {
    return impl_->bound_port;
}

void HttpServer::begin_shutdown() {
    impl_->core.flags.ready.store(false, std::memory_order_release);
    if (impl_->core.flags.shutting_down.exchange(true, std::memory_order_acq_rel)) {
        return;
    }
    net::post(impl_->acceptor.get_executor(), [impl = impl_.get()] {
        error_code ignored;
        impl->acceptor.close(ignored);
        impl->retry_timer.cancel();
    });
}

bool HttpServer::wait_for_appends(std::chrono::milliseconds grace) {
    const auto deadline = std::chrono::steady_clock::now() + grace;
    while (impl_->core.appends_in_flight.load(std::memory_order_acquire) > 0) {
        if (std::chrono::steady_clock::now() >= deadline) {
            return false;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    return true;
}

void HttpServer::stop() {
    if (impl_->stopped) {
        return;
    }
    impl_->stopped = true;
    begin_shutdown();
    if (!impl_->threads.empty()) {
        wait_for_appends(std::chrono::milliseconds(0));
        impl_->core.hub.stop();
        // Give subscribers a moment to send their close frames.
        const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(500);
        while (impl_->core.hub.size() > 0 && std::chrono::steady_clock::now() < deadline) {
            std::this_thread::sleep_for(std::chrono::milliseconds(5));
        }
    } else {
        impl_->core.hub.stop();
    }
    impl_->work.reset();
    impl_->io.stop();
    for (auto& thread : impl_->threads) {
        thread.join();
    }
    impl_->threads.clear();
}

}  // namespace annal::api
