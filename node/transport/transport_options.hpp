// Configuration, statistics and callback types of PeerTransport (peer_transport.hpp).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "raft/message.hpp"
#include "raft/types.hpp"
#include "replication/peer_frame.hpp"

namespace boost::asio::ssl {
class context;
}

namespace annal::transport {

struct PeerTransportOptions {
    std::uint64_t cluster_id = 0;  // cluster_id_from_name()
    raft::NodeId self = 0;
    std::uint32_t max_frame_payload_bytes = replication::kDefaultMaxFramePayloadBytes;
    std::size_t max_queued_bytes_per_peer = 64u << 20;  // beyond: drop oldest (Raft retransmits)
    std::chrono::milliseconds reconnect_min{50}, reconnect_max{1000};
    // Additions to the shared contract:
    std::chrono::milliseconds hello_timeout{5000};    // inbound: Hello must arrive by then
    std::chrono::milliseconds connect_timeout{3000};  // outbound: resolve + connect
    std::size_t max_write_bytes = 4u << 20;  // per write (estimated); the rest waits its turn
    // Mutual TLS (tls/tls_context.hpp make_client_context with this node's certificate):
    // outbound links handshake with it and check the peer's certificate names the host
    // they dial; inbound connections must then be TLS with a client certificate that
    // verified against the cluster CA. nullptr: plain TCP both ways.
    std::shared_ptr<boost::asio::ssl::context> tls_client;
};

struct PeerLinkStats {
    raft::NodeId id = 0;
    std::string address;     // "" for a peer only known from its inbound connection
    bool connected = false;  // the outbound connection is up
    std::uint64_t frames_sent = 0, frames_received = 0, bytes_sent = 0, bytes_received = 0,
                  messages_dropped = 0, connects = 0;
    // Additions to the shared contract:
    std::uint64_t messages_sent = 0, messages_received = 0;
    std::uint64_t queued_bytes = 0;  // estimated bytes waiting for the next write
};

struct TransportStats {
    std::vector<PeerLinkStats> peers;    // sorted by id
    std::uint64_t inbound_rejected = 0;  // bad frames, wrong cluster, no hello, foreign messages
    // Of those: refused before any frame for lacking a verified client certificate (TLS on).
    std::uint64_t inbound_rejected_certificate = 0;
    std::uint64_t inbound_connections = 0;
    // Addition: messages for a node without a known address (dropped).
    std::uint64_t messages_unroutable = 0;
};

using MessageHandler = std::function<void(std::vector<raft::Message>)>;  // io thread; no blocking
using UnreachableHandler = std::function<void(raft::NodeId)>;

}  // namespace annal::transport
