// The HTTP server: one listening port, N io threads, every endpoint of docs/API.md.
// Usable in-process (tests start it on port 0 and ask for the bound port).
//
// Lifetime rules (the store's append completions post back into the server's io
// context, so the order matters):
//   server.begin_shutdown();          // readyz -> 503, stop accepting, refuse new appends
//   server.wait_for_appends(grace);   // in-flight appends get their replies
//   server.stop();                    // close subscribers and connections, join threads
//   store->close();                   // no completion can arrive after this
//   (destroy server, then store)
// stop() and the destructor do the first three steps themselves if they were skipped.
#pragma once

#include <boost/asio/ip/tcp.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

namespace annal::storage {
class EventStore;
}

namespace annal::tls {
class SocketStream;
}

namespace boost::asio::ssl {
class context;
}

namespace annal::api {

struct ServerOptions {
    std::string address = "127.0.0.1";
    std::uint16_t port = 0;  // 0: pick a free port (see HttpServer::port())
    unsigned io_threads = 2;
    std::uint64_t max_body_bytes = 4ull << 20;
    std::size_t max_read_limit = 4096;
    std::size_t subscriber_buffer_events = 1024;
    std::chrono::seconds idle_timeout{120};      // keep-alive connection with no request
    std::chrono::seconds heartbeat_interval{5};  // NDJSON subscriptions
    // With TLS on (set_tls_context): a connection that has not finished its handshake by
    // then is closed.
    std::chrono::seconds tls_handshake_timeout{10};
};

class ClusterAdmin;

// Receives a connection whose first bytes were the peer protocol's magic ("ANPR"),
// together with the bytes already read from it. With TLS on, the stream is the TLS
// stream after its handshake (the bytes are decrypted ones) and the acceptor must check
// the client certificate (tls::peer_certificate_verified) before trusting it.
using PeerAcceptor = std::function<void(tls::SocketStream, std::string)>;

class HttpServer {
  public:
    // `cluster`: nullptr on a standalone node; otherwise it must outlive the server.
    HttpServer(storage::EventStore& store, ServerOptions options, ClusterAdmin* cluster = nullptr);
    ~HttpServer();
    HttpServer(const HttpServer&) = delete;
    HttpServer& operator=(const HttpServer&) = delete;

    // Binds, listens and starts the io threads; the server is ready (/readyz 200) when
    // this returns true. On failure returns false and sets `error`.
    bool start(std::string& error);
    std::uint16_t port() const;

    // One port for clients and peers: with an acceptor set (before start()), the first
    // bytes of every new connection decide; the peer magic goes to `acceptor`, anything
    // else is HTTP. Without one, every connection is HTTP at once.
    void set_peer_acceptor(PeerAcceptor acceptor);
    // TLS on the one port (before start()): every connection handshakes first, then the
    // peer/HTTP decision is made on the decrypted bytes. nullptr (the default): plain TCP.
    void set_tls_context(std::shared_ptr<boost::asio::ssl::context> context);
    // TLS connections closed before the first byte: failed or timed-out handshakes (a
    // plain-HTTP client on a TLS port is one).
    std::uint64_t tls_handshake_failures() const;
    // The io_context the server's threads run. The peer transport shares it; anything
    // using it must be stopped before the server is destroyed.
    boost::asio::io_context& io_context();

    void begin_shutdown();
    // Waits until no append is between "submitted to the store" and "reply written", or
    // until `grace` has passed. Returns true if none is left.
    bool wait_for_appends(std::chrono::milliseconds grace);
    void stop();

  private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace annal::api
