#include "api/late_bound_peer_sender.hpp"

namespace annal::api {

void LateBoundPeerSender::bind(replication::PeerSender& target) {
    std::lock_guard lock(mutex_);
    target_ = &target;
    for (const auto& [id, address] : addresses_) {
        target.set_peer_address(id, address);
    }
}

void LateBoundPeerSender::unbind() {
    std::lock_guard lock(mutex_);
    target_ = nullptr;
}

void LateBoundPeerSender::send(std::vector<raft::Message> messages) {
    std::lock_guard lock(mutex_);
    if (target_ != nullptr) {
        target_->send(std::move(messages));
    }
}

void LateBoundPeerSender::set_peer_address(raft::NodeId id, const std::string& address) {
    std::lock_guard lock(mutex_);
    addresses_[id] = address;
    if (target_ != nullptr) {
        target_->set_peer_address(id, address);
    }
}

void LateBoundPeerSender::remove_peer(raft::NodeId id) {
    std::lock_guard lock(mutex_);
    addresses_.erase(id);
    if (target_ != nullptr) {
        target_->remove_peer(id);
    }
}

}  // namespace annal::api
