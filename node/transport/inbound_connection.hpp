// A connection another node dialled to us; it only carries messages TO this node.
//
// Hello (the sender's node id) must come first, within the hello timeout; then every
// frame is a RaftMessages batch delivered whole, in order. Anything else — a frame error
// (garbage, damage, truncation, another cluster), a second Hello, an undecodable batch, a
// message not from the Hello's node or not to this node — closes the connection and counts
// inbound_rejected, without delivering any part of the offending batch. Frames are final
// on error (a byte stream cannot be resynchronized), so there is no partial recovery.
#pragma once

#include <array>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <memory>
#include <string>

#include "replication/peer_frame.hpp"
#include "tls/socket_stream.hpp"
#include "transport/transport_core.hpp"

namespace annal::transport {

class InboundConnection : public std::enable_shared_from_this<InboundConnection> {
  public:
    InboundConnection(std::shared_ptr<TransportCore> core, tls::SocketStream stream,
                      std::string already_read);

    void start();  // any thread
    void close();  // any thread; final, silent

  private:
    using Strand = boost::asio::strand<boost::asio::io_context::executor_type>;

    // Strand only.
    void consume(std::string_view bytes);
    bool handle_frame(replication::Frame frame);
    void read_more();
    void reject();
    void shut();

    const std::shared_ptr<TransportCore> core_;
    Strand strand_;
    tls::SocketStream stream_;
    boost::asio::steady_timer hello_timer_;
    replication::FrameDecoder decoder_;
    std::string already_read_;
    raft::NodeId peer_ = raft::kNoNode;  // from the Hello
    std::shared_ptr<InboundPeerCounters> counters_;
    bool closed_ = false;
    std::array<char, 64 * 1024> read_buffer_{};
};

}  // namespace annal::transport
