// State shared by the transport and its connections. Connections hold it by shared_ptr so
// that handlers still queued in the io_context after the transport is gone stay valid;
// the callback gate makes sure none of them reaches the user's handlers after stop().
#pragma once

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <map>
#include <memory>
#include <mutex>
#include <vector>

#include "transport/callback_gate.hpp"
#include "transport/transport_options.hpp"

namespace annal::transport {

// What arrives from one peer, summed over its inbound connections.
struct InboundPeerCounters {
    std::atomic<std::uint64_t> frames_received{0};
    std::atomic<std::uint64_t> bytes_received{0};
    std::atomic<std::uint64_t> messages_received{0};
};

class TransportCore {
  public:
    TransportCore(boost::asio::io_context& io, PeerTransportOptions options,
                  MessageHandler on_messages, UnreachableHandler on_unreachable);

    boost::asio::io_context& io() { return io_; }
    const PeerTransportOptions& options() const { return options_; }
    CallbackGate& gate() { return gate_; }

    // Call on an io thread; no-ops once the gate is closed.
    void deliver(std::vector<raft::Message> messages);
    void report_unreachable(raft::NodeId peer);

    std::shared_ptr<InboundPeerCounters> inbound_counters(raft::NodeId peer);
    std::map<raft::NodeId, std::shared_ptr<InboundPeerCounters>> all_inbound_counters() const;

    std::atomic<std::uint64_t> inbound_rejected{0};
    std::atomic<std::uint64_t> inbound_rejected_certificate{0};
    std::atomic<std::uint64_t> inbound_connections{0};
    std::atomic<std::uint64_t> messages_unroutable{0};

  private:
    boost::asio::io_context& io_;
    const PeerTransportOptions options_;
    const MessageHandler on_messages_;
    const UnreachableHandler on_unreachable_;
    CallbackGate gate_;
    mutable std::mutex mutex_;
    std::map<raft::NodeId, std::shared_ptr<InboundPeerCounters>> inbound_counters_;
};

}  // namespace annal::transport
