// The node's Raft peer network: one long-lived TCP connection per peer and direction.
//
// Outbound (send): per peer one connection, dialled lazily, re-dialled with exponential
// backoff; all queued messages for a peer (of every group) go out as one frame per write,
// and messages arriving while a write is in flight go together in the next write
// (outbound_link.hpp). Inbound (accept): the HTTP server hands over connections whose
// first 4 bytes are the frame magic; each must say Hello first, then its batches are
// checked and delivered whole to on_messages (inbound_connection.hpp).
//
// Everything runs on the given io_context (the HTTP server's io threads in production),
// one strand per connection; send() and the setters are thread-safe and never block on the
// network. After stop() returns no handler is called; the io_context must outlive this
// object. stop() must not be called from inside a handler of this transport.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "replication/peer_sender.hpp"
#include "tls/rejection_log.hpp"
#include "tls/socket_stream.hpp"
#include "transport/cluster_id.hpp"
#include "transport/transport_options.hpp"

namespace annal::transport {

class TransportCore;
class OutboundLink;
class InboundConnection;

class PeerTransport final : public replication::PeerSender {
  public:
    PeerTransport(boost::asio::io_context& io, PeerTransportOptions options,
                  MessageHandler on_messages, UnreachableHandler on_unreachable);
    ~PeerTransport() override;  // stop()s

    PeerTransport(const PeerTransport&) = delete;
    PeerTransport& operator=(const PeerTransport&) = delete;

    // Thread-safe; routes by `to`. Messages for a node without an address are dropped.
    void send(std::vector<raft::Message> messages) override;
    void set_peer_address(raft::NodeId id, const std::string& address) override;
    void remove_peer(raft::NodeId id) override;
    // Called by the HTTP server's acceptor (one port) with the bytes it already read.
    // With TLS configured (options.tls_client), a connection that is not TLS or whose
    // client certificate did not verify against the cluster CA is closed at once,
    // counted (inbound_rejected_certificate) and logged once per address per minute.
    void accept(tls::SocketStream stream, std::string already_read);
    void accept(boost::asio::ip::tcp::socket socket, std::string already_read);
    static bool is_peer_preamble(std::string_view first_bytes);  // the 4 magic bytes
    TransportStats stats() const;
    void stop();

  private:
    void reject_unverified(tls::SocketStream& stream);

    std::shared_ptr<TransportCore> core_;
    mutable std::mutex mutex_;
    bool stopped_ = false;
    std::map<raft::NodeId, std::shared_ptr<OutboundLink>> links_;
    std::vector<std::weak_ptr<InboundConnection>> inbound_;
    tls::RejectionLog rejection_log_;
};

}  // namespace annal::transport
