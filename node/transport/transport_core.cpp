#include "transport/transport_core.hpp"

#include <utility>

namespace annal::transport {

TransportCore::TransportCore(boost::asio::io_context& io, PeerTransportOptions options,
                             MessageHandler on_messages, UnreachableHandler on_unreachable)
    : io_(io),
      options_(std::move(options)),
      on_messages_(std::move(on_messages)),
      on_unreachable_(std::move(on_unreachable)) {}

void TransportCore::deliver(std::vector<raft::Message> messages) {
    if (!on_messages_) {
        return;
    }
    gate_.run([&] { on_messages_(std::move(messages)); });
}

void TransportCore::report_unreachable(raft::NodeId peer) {
    if (!on_unreachable_) {
        return;
    }
    gate_.run([&] { on_unreachable_(peer); });
}

std::shared_ptr<InboundPeerCounters> TransportCore::inbound_counters(raft::NodeId peer) {
    std::lock_guard lock(mutex_);
    auto& counters = inbound_counters_[peer];
    if (!counters) {
        counters = std::make_shared<InboundPeerCounters>();
    }
    return counters;
}

std::map<raft::NodeId, std::shared_ptr<InboundPeerCounters>> TransportCore::all_inbound_counters()
    const {
    std::lock_guard lock(mutex_);
    return inbound_counters_;
}

}  // namespace annal::transport
