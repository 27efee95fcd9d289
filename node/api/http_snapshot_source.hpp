// The node's SnapshotSource: GET /internal/snapshot/events on a peer's one port
// (internal_snapshot_route.hpp), one short-lived connection per chunk, from the snapshot
// fetcher's own thread. Every step is bounded by a timeout, and stop() aborts the step in
// flight, so stopping a node never waits for a peer that went silent.
//
// With a TLS client context (the node runs with TLS) the connection is HTTPS: the peer
// must chain to the cluster CA and name the host it was dialled by, as for the peer
// transport's outbound links, and this node presents its own certificate, which the route
// requires of anyone who reads it over TLS.
#pragma once

#include <boost/asio/ssl/context.hpp>
#include <chrono>
#include <memory>
#include <mutex>

#include "replication/snapshot_source.hpp"

namespace boost::asio {
class io_context;
}

namespace annal::api {

class HttpSnapshotSource final : public replication::SnapshotSource {
  public:
    // `tls_client`: nullptr for plain HTTP; otherwise the client context made from the
    // node's certificate, key and CA (tls::make_client_context).
    explicit HttpSnapshotSource(std::shared_ptr<boost::asio::ssl::context> tls_client = nullptr,
                                std::chrono::milliseconds timeout = std::chrono::seconds(10))
        : tls_client_(std::move(tls_client)), timeout_(timeout) {}

    // One fetch at a time (the fetcher calls from its one thread).
    replication::FetchResult fetch(const std::string& address, std::uint64_t after_position,
                                   std::uint64_t upto_position, std::size_t max_bytes) override;
    void stop() override;

  private:
    // Registers the fetch's io_context so stop() can end it; false once stopped.
    bool begin(boost::asio::io_context& io);
    void end();
    bool stopped() const;

    const std::shared_ptr<boost::asio::ssl::context> tls_client_;
    const std::chrono::milliseconds timeout_;

    mutable std::mutex mutex_;
    boost::asio::io_context* running_ = nullptr;
    bool stopped_ = false;
};

}  // namespace annal::api
