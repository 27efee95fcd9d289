#include "op/http_endpoint.hpp"

#include <utility>  // Boost 1.74 asio/awaitable.hpp uses std::exchange without it

// GCC 12 flags Asio's scheduler internals after inlining; the code is Boost's, not ours.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wnull-dereference"
#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#pragma GCC diagnostic pop

#include <thread>

namespace annal::op {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

struct Session : std::enable_shared_from_this<Session> {
    beast::tcp_stream stream;
    beast::flat_buffer buffer;
    http::request<http::string_body> request;
    http::response<http::string_body> response;
    const HttpEndpoint::Handler& handler;

    Session(tcp::socket socket, const HttpEndpoint::Handler& h)
        : stream(std::move(socket)), handler(h) {}

    void start() {
        stream.expires_after(std::chrono::seconds(10));
        http::async_read(stream, buffer, request,
                         [self = shared_from_this()](beast::error_code ec, std::size_t) {
                             if (!ec)
                                 self->respond();
                         });
    }

    void respond() {
        EndpointResponse out = handler(std::string(request.target()));
        response.version(request.version());
        response.result(static_cast<http::status>(out.status));
        response.set(http::field::content_type, out.content_type);
        response.keep_alive(false);
        response.body() = std::move(out.body);
        response.prepare_payload();
        http::async_write(stream, response,
                          [self = shared_from_this()](beast::error_code, std::size_t) {
                              beast::error_code ignored;
                              self->stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
                          });
    }
};

}  // namespace

struct HttpEndpoint::Impl {
    std::string address;
    std::uint16_t port;
    Handler handler;
    asio::io_context io{1};
    tcp::acceptor acceptor{io};
    std::thread thread;

    void accept() {
        acceptor.async_accept([this](beast::error_code ec, tcp::socket socket) {
            if (ec)
                return;  // closed by stop()
            std::make_shared<Session>(std::move(socket), handler)->start();
            accept();
        });
    }
};

HttpEndpoint::HttpEndpoint(std::string address, std::uint16_t port, Handler handler)
    : impl_(std::make_unique<Impl>()) {
    impl_->address = std::move(address);
    impl_->port = port;
    impl_->handler = std::move(handler);
}

HttpEndpoint::~HttpEndpoint() {
    stop();
}

bool HttpEndpoint::start(std::string& error) {
    beast::error_code ec;
    const tcp::endpoint endpoint(asio::ip::make_address(impl_->address, ec), impl_->port);
    if (ec) {
        error = "bad address " + impl_->address;
        return false;
    }
    impl_->acceptor.open(endpoint.protocol(), ec);
    if (!ec)
        impl_->acceptor.set_option(asio::socket_base::reuse_address(true), ec);
    if (!ec)
        impl_->acceptor.bind(endpoint, ec);
    if (!ec)
        impl_->acceptor.listen(asio::socket_base::max_listen_connections, ec);
    if (ec) {
        error = "cannot listen on " + impl_->address + ":" + std::to_string(impl_->port) + ": " +
                ec.message();
        return false;
    }
    impl_->port = impl_->acceptor.local_endpoint().port();
    impl_->accept();
    impl_->thread = std::thread([this] { impl_->io.run(); });
    return true;
}

std::uint16_t HttpEndpoint::port() const {
    return impl_->port;
}

void HttpEndpoint::stop() {
    if (!impl_->thread.joinable())
        return;
    impl_->io.stop();
    impl_->thread.join();
}

}  // namespace annal::op
