#include "tls/plaintext_relay.hpp"

#include <sys/socket.h>
#include <unistd.h>

#include <openssl/ssl.h>
#include <array>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <chrono>

namespace annal::tls {
namespace {

namespace net = boost::asio;
using error_code = boost::system::error_code;
using TlsStream = net::ssl::stream<net::ip::tcp::socket>;

// How long the relay waits, after the session has finished, for the client to answer
// close_notify or close. Meanwhile whatever the client still sends (the rest of a body
// the server refused with 413) is read and discarded, so the client reads the response
// instead of a reset. The HTTP session lingers just as long on a plain connection.
constexpr auto kCloseGrace = std::chrono::seconds(2);

class PlaintextRelay : public std::enable_shared_from_this<PlaintextRelay> {
  public:
    PlaintextRelay(std::unique_ptr<TlsStream> tls, net::local::stream_protocol::socket local)
        : tls_(std::move(tls)), local_(std::move(local)), timer_(tls_->get_executor()) {}

    void start() {
        // Both pumps start on the TLS stream's strand; every completion returns to it.
        net::dispatch(tls_->get_executor(), [self = shared_from_this()] {
            self->read_tls();
            self->read_local();
        });
    }

  private:
    // Client to session. One buffer, refilled only after the session's socket took all
    // of it: a session that stops reading stops the relay reading, and TCP flow control
    // then stops the client.
    void read_tls() {
        tls_read_pending_ = true;
        tls_->async_read_some(
            net::buffer(from_tls_), [self = shared_from_this()](error_code ec, std::size_t count) {
                self->tls_read_pending_ = false;
                if (self->closed_ || self->finishing_) {
                    self->send_close_notify_when_idle();
                    return;
                }
                if (ec) {
                    self->on_tls_input_end(ec);
                    return;
                }
                net::async_write(self->local_, net::buffer(self->from_tls_.data(), count),
                                 [self](error_code write_ec, std::size_t) {
                                     if (self->closed_ || self->finishing_) {
                                         self->send_close_notify_when_idle();
                                         return;
                                     }
                                     if (write_ec) {
                                         // The session is gone; its side's end (EOF on
                                         // read_local) finishes the connection.
                                         return;
                                     }
                                     self->read_tls();
                                 });
            });
    }

    // The client will send nothing more. A clean end (close_notify, or TCP FIN without
    // it) is passed on as a half-close, so the session still answers a request it has
    // whole; anything else (reset, bad record) ends the connection at once.
    void on_tls_input_end(error_code ec) {
        if (ec == net::error::eof || ec == net::ssl::error::stream_truncated) {
            error_code ignored;
            local_.shutdown(net::socket_base::shutdown_send, ignored);
            return;
        }
        close();
    }

    // Session to client. Same single buffer: a client that stops reading stops the
    // relay, and the session then blocks on its full socket pair (bounded by the kernel's
    // socket buffer), which its own write timeouts handle.
    void read_local() {
        local_.async_read_some(net::buffer(from_local_), [self = shared_from_this()](
                                                             error_code ec, std::size_t count) {
            if (self->closed_) {
                return;
            }
            if (ec) {
                // EOF: the session has written its last byte (or closed after an error).
                self->finish();
                return;
            }
            net::async_write(*self->tls_, net::buffer(self->from_local_.data(), count),
                             [self](error_code write_ec, std::size_t) {
                                 if (self->closed_) {
                                     return;
                                 }
                                 if (write_ec) {
                                     self->close();
                                     return;
                                 }
                                 self->read_local();
                             });
        });
    }

    // The session is done: no more bytes will go to the client. Stop forwarding, then
    // end the TLS session properly (close_notify) with a bounded wait for the client.
    void finish() {
        if (finishing_ || closed_) {
            return;
        }
        finishing_ = true;
        error_code ignored;
        local_.close(ignored);
        timer_.expires_after(kCloseGrace);
        timer_.async_wait([self = shared_from_this()](error_code ec) {
            if (!ec) {
                self->close();
            }
        });
        if (tls_read_pending_) {
            // No TLS write is in flight (the session-to-client pump just ended), so this
            // cancels only the client-to-session read; its handler continues below.
            tls_->next_layer().cancel(ignored);
            return;
        }
        send_close_notify_when_idle();
    }

    // close_notify, then FIN, then whatever the client still sends is read raw and dropped
    // until it closes (or the grace ends). Marking the TLS session as already closed by
    // the client makes async_shutdown only write our alert instead of also waiting for
    // theirs: OpenSSL fails a shutdown that meets application data (the rest of a refused
    // body), and undecrypted bytes are all the draining needs. It must not overlap the
    // relay's own TLS read, hence "idle".
    void send_close_notify_when_idle() {
        if (closed_ || !finishing_ || tls_read_pending_ || shutdown_started_) {
            return;
        }
        shutdown_started_ = true;
        SSL* ssl = tls_->native_handle();
        SSL_set_shutdown(ssl, SSL_get_shutdown(ssl) | SSL_RECEIVED_SHUTDOWN);
        tls_->async_shutdown([self = shared_from_this()](error_code ec) {
            if (ec || self->closed_) {
                self->close();
                return;
            }
            error_code ignored;
            self->tls_->next_layer().shutdown(net::socket_base::shutdown_send, ignored);
            self->drain();
        });
    }

    void drain() {
        tls_->next_layer().async_read_some(net::buffer(from_tls_),
                                           [self = shared_from_this()](error_code ec, std::size_t) {
                                               if (ec || self->closed_) {
                                                   self->close();
                                                   return;
                                               }
                                               self->drain();
                                           });
    }

    void close() {
        if (closed_) {
            return;
        }
        closed_ = true;
        error_code ignored;
        timer_.cancel();
        local_.close(ignored);
        tls_->next_layer().shutdown(net::socket_base::shutdown_both, ignored);
        tls_->next_layer().close(ignored);
    }

    std::unique_ptr<TlsStream> tls_;
    net::local::stream_protocol::socket local_;
    net::steady_timer timer_;
    bool tls_read_pending_ = false;
    bool finishing_ = false;
    bool shutdown_started_ = false;
    bool closed_ = false;
    std::array<char, 16 * 1024> from_tls_{};
    std::array<char, 16 * 1024> from_local_{};
};

}  // namespace

int start_plaintext_relay(std::unique_ptr<TlsStream> tls, error_code& error) {
    int ends[2] = {-1, -1};
    if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, ends) != 0) {
        error = error_code(errno, boost::system::system_category());
        error_code ignored;
        tls->next_layer().close(ignored);
        return -1;
    }
    net::local::stream_protocol::socket local(tls->get_executor());
    local.assign(net::local::stream_protocol(), ends[0], error);
    if (error) {
        ::close(ends[0]);
        ::close(ends[1]);
        error_code ignored;
        tls->next_layer().close(ignored);
        return -1;
    }
    std::make_shared<PlaintextRelay>(std::move(tls), std::move(local))->start();
    return ends[1];
}

}  // namespace annal::tls
