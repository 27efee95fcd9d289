#include "transport/peer_transport.hpp"

#include <algorithm>
#include <boost/asio/post.hpp>
#include <iostream>
#include <utility>

#include "replication/peer_frame.hpp"
#include "tls/tls_context.hpp"
#include "transport/inbound_connection.hpp"
#include "transport/outbound_link.hpp"
#include "transport/transport_core.hpp"

namespace annal::transport {

PeerTransport::PeerTransport(boost::asio::io_context& io, PeerTransportOptions options,
                             MessageHandler on_messages, UnreachableHandler on_unreachable)
    : core_(std::make_shared<TransportCore>(io, std::move(options), std::move(on_messages),
                                            std::move(on_unreachable))) {}

PeerTransport::~PeerTransport() {
    stop();
}

void PeerTransport::send(std::vector<raft::Message> messages) {
    // Group by peer; stable, because each peer's messages must keep their order.
    std::stable_sort(messages.begin(), messages.end(),
                     [](const raft::Message& a, const raft::Message& b) { return a.to < b.to; });
    std::vector<std::pair<std::shared_ptr<OutboundLink>, std::vector<raft::Message>>> routed;
    std::vector<raft::NodeId> unroutable;
    {
        std::lock_guard lock(mutex_);
        if (stopped_) {
            return;
        }
        for (auto begin = messages.begin(); begin != messages.end();) {
            const raft::NodeId to = begin->to;
            auto end = std::find_if(begin, messages.end(),
                                    [to](const raft::Message& m) { return m.to != to; });
            const auto link = links_.find(to);
            if (link == links_.end()) {
                core_->messages_unroutable += static_cast<std::uint64_t>(end - begin);
                unroutable.push_back(to);
            } else {
                routed.emplace_back(link->second,
                                    std::vector<raft::Message>(std::make_move_iterator(begin),
                                                               std::make_move_iterator(end)));
            }
            begin = end;
        }
    }
    for (auto& [link, batch] : routed) {
        link->enqueue(std::move(batch));
    }
    for (const raft::NodeId peer : unroutable) {
        boost::asio::post(core_->io(), [core = core_, peer] { core->report_unreachable(peer); });
    }
}

void PeerTransport::set_peer_address(raft::NodeId id, const std::string& address) {
    std::lock_guard lock(mutex_);
    if (stopped_ || id == raft::kNoNode || id == core_->options().self) {
        return;
    }
    auto& link = links_[id];
    if (link) {
        link->set_address(address);
    } else {
        link = std::make_shared<OutboundLink>(core_, id, address);
    }
}

void PeerTransport::remove_peer(raft::NodeId id) {
    std::shared_ptr<OutboundLink> link;
    {
        std::lock_guard lock(mutex_);
        const auto found = links_.find(id);
        if (found == links_.end()) {
            return;
        }
        link = std::move(found->second);
        links_.erase(found);
    }
    link->close();
}

void PeerTransport::accept(boost::asio::ip::tcp::socket socket, std::string already_read) {
    accept(tls::SocketStream(std::move(socket)), std::move(already_read));
}

void PeerTransport::accept(tls::SocketStream stream, std::string already_read) {
    if (core_->options().tls_client &&
        (stream.ssl() == nullptr || !tls::peer_certificate_verified(stream.ssl()))) {
        reject_unverified(stream);
        return;
    }
    std::shared_ptr<InboundConnection> connection;
    {
        std::lock_guard lock(mutex_);
        if (stopped_) {
            stream.close();
            return;
        }
        ++core_->inbound_connections;
        std::erase_if(inbound_,
                      [](const std::weak_ptr<InboundConnection>& weak) { return weak.expired(); });
        connection =
            std::make_shared<InboundConnection>(core_, std::move(stream), std::move(already_read));
        inbound_.push_back(connection);
    }
    connection->start();
}

void PeerTransport::reject_unverified(tls::SocketStream& stream) {
    ++core_->inbound_rejected;
    ++core_->inbound_rejected_certificate;
    boost::system::error_code ec;
    const auto remote = stream.socket().remote_endpoint(ec);
    const std::string address = ec ? std::string("unknown address") : remote.address().to_string();
    std::uint64_t suppressed = 0;
    if (rejection_log_.should_log(address, suppressed)) {
        const std::string presented = stream.ssl() == nullptr
                                          ? std::string("no TLS")
                                          : tls::describe_peer_certificate(stream.ssl());
        std::cerr << "annal: refused a peer connection from " << address
                  << ": no client certificate from the cluster CA (" << presented << ")"
                  << (suppressed > 0 ? "; " + std::to_string(suppressed) +
                                           " more refused from this address since the last report"
                                     : std::string())
                  << std::endl;
    }
    stream.close();
}

bool PeerTransport::is_peer_preamble(std::string_view first_bytes) {
    if (first_bytes.size() < 4) {
        return false;
    }
    std::uint32_t magic = 0;
    for (std::size_t i = 0; i < 4; ++i) {
        magic = (magic << 8) | static_cast<unsigned char>(first_bytes[i]);
    }
    return magic == replication::kFrameMagic;
}

TransportStats PeerTransport::stats() const {
    TransportStats stats;
    std::map<raft::NodeId, PeerLinkStats> peers;
    {
        std::lock_guard lock(mutex_);
        for (const auto& [id, link] : links_) {
            peers[id] = link->stats();
        }
    }
    for (const auto& [id, counters] : core_->all_inbound_counters()) {
        PeerLinkStats& peer = peers[id];
        peer.id = id;
        peer.frames_received = counters->frames_received.load();
        peer.bytes_received = counters->bytes_received.load();
        peer.messages_received = counters->messages_received.load();
    }
    for (auto& [id, peer] : peers) {
        stats.peers.push_back(std::move(peer));
    }
    stats.inbound_rejected = core_->inbound_rejected.load();
    stats.inbound_rejected_certificate = core_->inbound_rejected_certificate.load();
    stats.inbound_connections = core_->inbound_connections.load();
    stats.messages_unroutable = core_->messages_unroutable.load();
    return stats;
}

void PeerTransport::stop() {
    // First: from here on no handler runs (waits for those running).
    core_->gate().close();
    std::map<raft::NodeId, std::shared_ptr<OutboundLink>> links;
    std::vector<std::weak_ptr<InboundConnection>> inbound;
    {
        std::lock_guard lock(mutex_);
        if (stopped_) {
            return;
        }
        stopped_ = true;
        links.swap(links_);
        inbound.swap(inbound_);
    }
    for (auto& [id, link] : links) {
        link->close();
    }
    for (const auto& weak : inbound) {
        if (const auto connection = weak.lock()) {
            connection->close();
        }
    }
}

}  // namespace annal::transport
