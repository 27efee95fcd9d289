// The connection this node dials to one peer; it only carries messages TO that peer.
//
// Lazily dialled on the first message. Messages queue per peer (thread-safe enqueue from
// the replication loop) and are written as one frame per write (at most about
// max_write_bytes, so a backlog becomes a pipeline of moderate frames); while a write
// is in flight new messages accumulate and go out together in the next one. The queue is
// bounded in (estimated) bytes: beyond the bound the OLDEST messages are dropped, because a
// Raft peer that is behind needs the newest term/commit/heartbeat state, and whatever is
// dropped the leader resends after probing. While the peer is down (between a failure and
// the end of the reconnect backoff) messages are dropped at once and reported unreachable.
//
// Socket, resolver and timer are touched only on the link's strand; a generation number
// makes completions of an abandoned connection no-ops.
#pragma once

#include <array>
#include <atomic>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <chrono>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "tls/socket_stream.hpp"
#include "transport/transport_core.hpp"

namespace annal::transport {

class OutboundLink : public std::enable_shared_from_this<OutboundLink> {
  public:
    OutboundLink(std::shared_ptr<TransportCore> core, raft::NodeId peer, std::string address);

    // Any thread. Never blocks on the network.
    void enqueue(std::vector<raft::Message> messages);
    // Any thread. A different address drops the current connection (no backoff).
    void set_address(const std::string& address);
    // Any thread. Final: closes the connection and drops the queue.
    void close();
    PeerLinkStats stats() const;

  private:
    enum class State : std::uint8_t { Idle, Connecting, Connected, Backoff, Closed };
    using Strand = boost::asio::strand<boost::asio::io_context::executor_type>;

    // Strand only.
    void kick();
    void connect();
    void handshake(const std::string& host);
    void on_connected();
    void start_write();
    void start_read();
    void fail();
    void drop_connection();
    void after_backoff();

    const std::shared_ptr<TransportCore> core_;
    const raft::NodeId peer_;
    Strand strand_;

    // Strand only.
    boost::asio::ip::tcp::resolver resolver_;
    boost::asio::ip::tcp::socket socket_;  // while connecting; then moved into stream_
    // The established connection (plain or TLS). Shared with its pending handlers: a TLS
    // stream must outlive its operations, even after the link has moved on.
    std::shared_ptr<tls::SocketStream> stream_;
    boost::asio::steady_timer timer_;  // connect deadline, then backoff wait
    State state_ = State::Idle;
    std::uint64_t generation_ = 0;
    bool writing_ = false;
    bool hello_pending_ = false;
    std::chrono::milliseconds backoff_;
    std::chrono::steady_clock::time_point connected_at_;
    std::array<char, 256> read_buffer_{};

    // Guarded by mutex_ (shared with enqueue callers).
    mutable std::mutex mutex_;
    std::string address_;
    std::deque<raft::Message> queue_;
    std::size_t queued_bytes_ = 0;
    bool kick_posted_ = false;
    bool down_ = false;
    bool closed_ = false;
    bool unreachable_report_posted_ = false;

    std::atomic<bool> connected_{false};
    std::atomic<std::uint64_t> frames_sent_{0}, bytes_sent_{0}, messages_sent_{0},
        messages_dropped_{0}, connects_{0};
};

}  // namespace annal::transport
