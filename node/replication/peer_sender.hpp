// What the replicated store needs from the network. PeerTransport (node/transport)
// implements it over the node's one port; tests use an in-process fake. Kept in its own
// header so the store and the transport depend on this seam, not on each other.
#pragma once

#include <string>
#include <vector>

#include "raft/message.hpp"
#include "raft/types.hpp"

namespace annal::replication {

class PeerSender {
  public:
    virtual ~PeerSender() = default;
    // Routes each message by its `to`. Must not block; may drop messages (a peer that is
    // down, a queue over its limit): Raft retransmits.
    virtual void send(std::vector<raft::Message> messages) = 0;
    // Adds or updates where a peer is reached ("host:port").
    virtual void set_peer_address(raft::NodeId id, const std::string& address) = 0;
    virtual void remove_peer(raft::NodeId id) = 0;
};

}  // namespace annal::replication
