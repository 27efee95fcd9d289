#include "api/http_server.hpp"

#include <array>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <thread>
#include <vector>

#include "api/http_session.hpp"
#include "api/server_core.hpp"
#include "storage/event_store.hpp"

namespace annal::api {

namespace net = boost::asio;
using tcp = net::ip::tcp;
using error_code = boost::system::error_code;

namespace {

// The first bytes of a peer connection (replication/peer_frame.hpp kFrameMagic, big-endian).
constexpr std::string_view kPeerMagic = "ANPR";

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
        socket_.async_read_some(
            net::buffer(bytes_.data() + received_, kPeerMagic.size() - received_),
            [self = shared_from_this()](error_code ec, std::size_t count) {
                self->on_read(ec, count);
            });
    }

    void on_read(error_code ec, std::size_t count) {
        received_ += count;
        const std::string_view seen(bytes_.data(), received_);
        if (seen != kPeerMagic.substr(0, received_)) {
            timer_.cancel();
            start_http_session(core_, std::move(socket_), seen);
            return;
        }
        if (received_ == kPeerMagic.size()) {
            timer_.cancel();
            peer_acceptor_(net::ip::tcp::socket(std::move(socket_)), std::string(seen));
            return;
        }
        if (ec) {
            // EOF, reset, or the idle timeout before the connection said what it is.
            timer_.cancel();
            error_code ignored;
            socket_.close(ignored);
            return;
        }
        read_more();
    }

    ServerCore& core_;
    const PeerAcceptor& peer_acceptor_;
    ConnectionSocket socket_;
    net::steady_timer timer_;
    std::array<char, 4> bytes_{};
    std::size_t received_ = 0;
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
    PeerAcceptor peer_acceptor;  // set before start(), then only read

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
            if (peer_acceptor) {
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
        impl_->threads.emplace_back([impl = impl_.get()] { impl->io.run(); });
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
