// Serves a TLS connection with code written for plain sockets: after the handshake, the
// relay copies decrypted bytes between the TLS stream and one end of a local socket pair,
// and the caller gets the other end as an ordinary stream socket. The node's HTTP
// sessions, NDJSON subscriptions and WebSockets thus have a single implementation for
// http and https; the price is one local copy per direction, paid only by TLS connections.
//
// The relay keeps itself alive until both directions have ended. Ends mirror TCP: the
// client's clean end (close_notify or FIN) reaches the session as a half-close; the
// session's end (EOF on its socket) is sent as close_notify and FIN, after which the
// client's remaining bytes are drained for a short grace so it reads the last response
// rather than a reset; errors close both at once. One 16 KiB buffer per direction, refilled
// only when the other side has taken it, so a slow reader on either side stops the relay
// instead of growing it. All its work runs on the TLS stream's executor, which must be a
// strand (or a single-threaded io_context): ssl::stream is not thread-safe.
#pragma once

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <memory>

namespace annal::tls {

// Starts relaying and returns the plain end as a connected native socket descriptor
// (AF_UNIX stream), or -1 with `error` set (then `tls` is closed).
int start_plaintext_relay(
    std::unique_ptr<boost::asio::ssl::stream<boost::asio::ip::tcp::socket>> tls,
    boost::system::error_code& error);

}  // namespace annal::tls
