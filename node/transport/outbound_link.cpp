#include "transport/outbound_link.hpp"

#include <algorithm>
#include <boost/asio/bind_executor.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/write.hpp>
#include <utility>

#include "replication/peer_payload.hpp"
#include "tls/tls_context.hpp"
#include "transport/frame_batch.hpp"
#include "transport/peer_address.hpp"

namespace annal::transport {

namespace net = boost::asio;
using tcp = net::ip::tcp;
using error_code = boost::system::error_code;

OutboundLink::OutboundLink(std::shared_ptr<TransportCore> core, raft::NodeId peer,
                           std::string address)
    : core_(std::move(core)),
      peer_(peer),
      strand_(net::make_strand(core_->io())),
      resolver_(strand_),
      socket_(strand_),
      timer_(strand_),
      backoff_(core_->options().reconnect_min),
      address_(std::move(address)) {}

void OutboundLink::enqueue(std::vector<raft::Message> messages) {
    if (messages.empty()) {
        return;
    }
    const std::size_t limit = core_->options().max_queued_bytes_per_peer;
    bool post_kick = false;
    bool post_report = false;
    {
        std::lock_guard lock(mutex_);
        if (closed_) {
            messages_dropped_ += messages.size();
            return;
        }
        if (down_) {
            messages_dropped_ += messages.size();
            post_report = !unreachable_report_posted_;
            unreachable_report_posted_ = true;
        } else {
            for (raft::Message& message : messages) {
                queued_bytes_ += estimated_wire_bytes(message);
                queue_.push_back(std::move(message));
            }
            std::uint64_t dropped = 0;
            while (queued_bytes_ > limit && !queue_.empty()) {
                queued_bytes_ -= estimated_wire_bytes(queue_.front());
                queue_.pop_front();
                ++dropped;
            }
            messages_dropped_ += dropped;
            if (!kick_posted_ && !queue_.empty()) {
                kick_posted_ = true;
                post_kick = true;
            }
        }
    }
    if (post_kick) {
        net::post(strand_, [self = shared_from_this()] { self->kick(); });
    }
    if (post_report) {
        net::post(strand_, [self = shared_from_this()] {
            {
                std::lock_guard lock(self->mutex_);
                self->unreachable_report_posted_ = false;
            }
            self->core_->report_unreachable(self->peer_);
        });
    }
}

void OutboundLink::set_address(const std::string& address) {
    {
        std::lock_guard lock(mutex_);
        if (closed_ || address_ == address) {
            return;
        }
        address_ = address;
    }
    net::post(strand_, [self = shared_from_this()] {
        if (self->state_ == State::Closed || self->state_ == State::Idle) {
            return;
        }
        // The old address's failures say nothing about the new one: no backoff.
        self->drop_connection();
        self->state_ = State::Idle;
        self->backoff_ = self->core_->options().reconnect_min;
        bool pending = false;
        {
            std::lock_guard lock(self->mutex_);
            self->down_ = false;
            pending = !self->queue_.empty();
        }
        if (pending) {
            self->connect();
        }
    });
}

void OutboundLink::close() {
    {
        std::lock_guard lock(mutex_);
        if (closed_) {
            return;
        }
        closed_ = true;
        messages_dropped_ += queue_.size();
        queue_.clear();
        queued_bytes_ = 0;
    }
    net::post(strand_, [self = shared_from_this()] {
        self->drop_connection();
        self->state_ = State::Closed;
    });
}

PeerLinkStats OutboundLink::stats() const {
    PeerLinkStats stats;
    stats.id = peer_;
    {
        std::lock_guard lock(mutex_);
        stats.address = address_;
        stats.queued_bytes = queued_bytes_;
    }
    stats.connected = connected_.load();
    stats.frames_sent = frames_sent_.load();
    stats.bytes_sent = bytes_sent_.load();
    stats.messages_sent = messages_sent_.load();
    stats.messages_dropped = messages_dropped_.load();
    stats.connects = connects_.load();
    return stats;
}

void OutboundLink::kick() {
    {
        std::lock_guard lock(mutex_);
        kick_posted_ = false;
    }
    if (state_ == State::Idle) {
        connect();
    } else if (state_ == State::Connected && !writing_) {
        start_write();
    }
    // Connecting: the queue goes out once connected. Backoff/Closed: nothing to do.
}

void OutboundLink::connect() {
    std::string address;
    {
        std::lock_guard lock(mutex_);
        address = address_;
    }
    state_ = State::Connecting;
    const std::uint64_t generation = ++generation_;
    const std::optional<HostPort> target = split_host_port(address);
    if (!target) {
        fail();
        return;
    }
    auto self = shared_from_this();
    // The deadline covers resolve, connect and the TLS handshake.
    timer_.expires_after(core_->options().connect_timeout);
    timer_.async_wait([self, generation](error_code ec) {
        if (ec || generation != self->generation_ || self->state_ != State::Connecting) {
            return;
        }
        self->fail();
    });
    resolver_.async_resolve(target->host, target->port,
                            [self, generation, host = target->host](
                                error_code ec, const tcp::resolver::results_type& endpoints) {
                                if (generation != self->generation_) {
                                    return;
                                }
                                if (ec) {
                                    self->fail();
                                    return;
                                }
                                net::async_connect(self->socket_, endpoints,
                                                   [self, generation, host](error_code connect_ec,
                                                                            const tcp::endpoint&) {
                                                       if (generation != self->generation_) {
                                                           return;
                                                       }
                                                       if (connect_ec) {
                                                           self->fail();
                                                           return;
                                                       }
                                                       self->handshake(host);
                                                   });
                            });
}

void OutboundLink::handshake(const std::string& host) {
    error_code ignored;
    socket_.set_option(tcp::no_delay(true), ignored);
    const auto& context = core_->options().tls_client;
    if (!context) {
        stream_ = std::make_shared<tls::SocketStream>(std::move(socket_));
        on_connected();
        return;
    }
    auto tls_stream = std::make_unique<tls::SocketStream::TlsStream>(std::move(socket_), *context);
    std::string error;
    if (!tls::expect_server_name(tls_stream->native_handle(), host, error)) {
        stream_ = std::make_shared<tls::SocketStream>(std::move(tls_stream));
        fail();
        return;
    }
    auto* handshaking = tls_stream.get();
    stream_ = std::make_shared<tls::SocketStream>(std::move(tls_stream));
    handshaking->async_handshake(
        net::ssl::stream_base::client,
        [self = shared_from_this(), stream = stream_, generation = generation_](error_code ec) {
            if (generation != self->generation_) {
                return;
            }
            if (ec) {
                // The peer's certificate does not chain to our CA or does not name the
                // host we dialled, or the peer refused ours: Raft sees it unreachable.
                self->fail();
                return;
            }
            self->on_connected();
        });
}

void OutboundLink::on_connected() {
    timer_.cancel();
    state_ = State::Connected;
    connected_at_ = std::chrono::steady_clock::now();
    connected_ = true;
    ++connects_;
    hello_pending_ = true;
    writing_ = false;
    start_read();
    start_write();
}

void OutboundLink::start_write() {
    const PeerTransportOptions& options = core_->options();
    std::vector<raft::Message> messages;
    {
        // Take at most about max_write_bytes: a backlog then goes out as a pipeline of
        // moderate frames the receiver can decode and deliver while the next is in flight,
        // instead of one huge frame that delays every message in it.
        std::lock_guard lock(mutex_);
        std::size_t taken_bytes = 0;
        while (!queue_.empty() && (messages.empty() || taken_bytes < options.max_write_bytes)) {
            const std::size_t bytes = estimated_wire_bytes(queue_.front());
            taken_bytes += bytes;
            queued_bytes_ -= bytes;
            messages.push_back(std::move(queue_.front()));
            queue_.pop_front();
        }
    }
    if (messages.empty() && !hello_pending_) {
        writing_ = false;
        return;
    }
    auto buffer = std::make_shared<std::string>();
    std::size_t frames = 0;
    if (hello_pending_) {
        replication::append_frame(*buffer, options.cluster_id, replication::FrameType::Hello,
                                  replication::encode_hello(options.self));
        ++frames;
        hello_pending_ = false;
    }
    const FrameBatchResult batch = append_message_frames(*buffer, options.cluster_id, messages,
                                                         options.max_frame_payload_bytes);
    frames += batch.frames;
    messages_dropped_ += batch.oversized;
    if (buffer->empty()) {
        writing_ = false;
        return;
    }
    writing_ = true;
    const std::uint64_t generation = generation_;
    stream_->async_write_all(
        net::buffer(*buffer),
        net::bind_executor(strand_,
                           [self = shared_from_this(), stream = stream_, buffer, generation, frames,
                            messages_written = batch.messages](error_code ec, std::size_t bytes) {
                               if (ec) {
                                   self->messages_dropped_ += messages_written;
                               } else {
                                   self->frames_sent_ += frames;
                                   self->bytes_sent_ += bytes;
                                   self->messages_sent_ += messages_written;
                               }
                               if (generation != self->generation_) {
                                   return;
                               }
                               if (ec) {
                                   self->fail();
                                   return;
                               }
                               self->start_write();
                           }));
}

void OutboundLink::start_read() {
    // The peer never speaks on this connection; the read exists to notice its close at once
    // (a restarted peer) rather than at the next failed write.
    stream_->async_read_some(
        net::buffer(read_buffer_),
        net::bind_executor(strand_, [self = shared_from_this(), stream = stream_,
                                     generation = generation_](error_code ec, std::size_t) {
            if (generation != self->generation_) {
                return;
            }
            if (ec) {
                self->fail();
                return;
            }
            self->start_read();
        }));
}

void OutboundLink::fail() {
    if (state_ == State::Closed) {
        return;
    }
    const PeerTransportOptions& options = core_->options();
    if (state_ == State::Connected &&
        std::chrono::steady_clock::now() - connected_at_ >= options.reconnect_max) {
        backoff_ = options.reconnect_min;  // it worked for a while: start over
    }
    drop_connection();
    std::uint64_t dropped = 0;
    {
        std::lock_guard lock(mutex_);
        down_ = true;
        dropped = queue_.size();
        queue_.clear();
        queued_bytes_ = 0;
    }
    messages_dropped_ += dropped;
    state_ = State::Backoff;
    core_->report_unreachable(peer_);
    const std::chrono::milliseconds delay = backoff_;
    backoff_ = std::min(backoff_ * 2, options.reconnect_max);
    timer_.expires_after(delay);
    timer_.async_wait([self = shared_from_this(), generation = generation_](error_code ec) {
        if (ec || generation != self->generation_) {
            return;
        }
        self->after_backoff();
    });
}

void OutboundLink::drop_connection() {
    ++generation_;
    error_code ignored;
    socket_.close(ignored);
    if (stream_) {
        stream_->close();
        stream_.reset();
    }
    resolver_.cancel();
    timer_.cancel();
    connected_ = false;
    writing_ = false;
    hello_pending_ = false;
}

void OutboundLink::after_backoff() {
    // Dial again lazily: the next message (a Raft heartbeat at the latest) triggers it.
    state_ = State::Idle;
    bool pending = false;
    {
        std::lock_guard lock(mutex_);
        down_ = false;
        pending = !queue_.empty();
    }
    if (pending) {
        connect();
    }
}

}  // namespace annal::transport
