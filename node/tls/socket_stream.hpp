// One TCP connection that is either plain or TLS over TCP (its handshake already done), so
// the peer transport and the server's acceptor serve both with one code path. The TLS
// stream is held by pointer because Asio's ssl::stream must not move while an operation is
// pending; a SocketStream itself must likewise stay put while one of its operations is in
// flight (owners keep it in a shared_ptr or a member of a shared object).
#pragma once

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/write.hpp>
#include <memory>
#include <optional>
#include <utility>

namespace annal::tls {

class SocketStream {
  public:
    using Socket = boost::asio::ip::tcp::socket;
    using TlsStream = boost::asio::ssl::stream<Socket>;

    explicit SocketStream(Socket plain) : plain_(std::move(plain)) {}
    explicit SocketStream(std::unique_ptr<TlsStream> tls) : tls_(std::move(tls)) {}

    bool is_tls() const { return tls_ != nullptr; }
    // nullptr on a plain connection.
    const SSL* ssl() const { return tls_ ? tls_->native_handle() : nullptr; }
    Socket& socket() { return tls_ ? tls_->next_layer() : *plain_; }
    Socket::executor_type get_executor() { return socket().get_executor(); }

    template <typename Buffers, typename Handler>
    void async_read_some(const Buffers& buffers, Handler&& handler) {
        if (tls_) {
            tls_->async_read_some(buffers, std::forward<Handler>(handler));
        } else {
            plain_->async_read_some(buffers, std::forward<Handler>(handler));
        }
    }

    // Writes all of `buffers` (asio::async_write semantics).
    template <typename Buffers, typename Handler>
    void async_write_all(const Buffers& buffers, Handler&& handler) {
        if (tls_) {
            boost::asio::async_write(*tls_, buffers, std::forward<Handler>(handler));
        } else {
            boost::asio::async_write(*plain_, buffers, std::forward<Handler>(handler));
        }
    }

    // Closes the TCP connection at once (pending operations complete with
    // operation_aborted). No TLS close_notify: the peer protocol and the relay treat any
    // close as the end, and waiting for the other side's close_notify could hang.
    void close() {
        boost::system::error_code ignored;
        socket().shutdown(Socket::shutdown_both, ignored);
        socket().close(ignored);
    }

  private:
    std::optional<Socket> plain_;
    std::unique_ptr<TlsStream> tls_;
};

}  // namespace annal::tls
