// A PeerSender that forwards to one bound later. The replicated store needs a sender when
// it opens, the peer transport needs the HTTP server's io_context, and the server needs
// the open store: this breaks the cycle. Before bind() (and after unbind()), messages are
// dropped (Raft retransmits) and address changes are remembered for the bound sender.
#pragma once

#include <map>
#include <mutex>
#include <string>

#include "replication/peer_sender.hpp"

namespace annal::api {

class LateBoundPeerSender final : public replication::PeerSender {
  public:
    // Replays the remembered addresses into `target`, then forwards everything to it.
    void bind(replication::PeerSender& target);
    void unbind();

    void send(std::vector<raft::Message> messages) override;
    void set_peer_address(raft::NodeId id, const std::string& address) override;
    void remove_peer(raft::NodeId id) override;

  private:
    std::mutex mutex_;
    replication::PeerSender* target_ = nullptr;
    std::map<raft::NodeId, std::string> addresses_;
};

}  // namespace annal::api
