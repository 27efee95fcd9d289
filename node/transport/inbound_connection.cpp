#include "transport/inbound_connection.hpp"

#include <algorithm>
#include <boost/asio/bind_executor.hpp>
#include <boost/asio/post.hpp>
#include <optional>
#include <utility>
#include <vector>

#include "replication/peer_payload.hpp"

namespace annal::transport {

namespace net = boost::asio;
using error_code = boost::system::error_code;

InboundConnection::InboundConnection(std::shared_ptr<TransportCore> core, tls::SocketStream stream,
                                     std::string already_read)
    : core_(std::move(core)),
      strand_(net::make_strand(core_->io())),
      stream_(std::move(stream)),
      hello_timer_(strand_),
      decoder_(core_->options().cluster_id, core_->options().max_frame_payload_bytes),
      already_read_(std::move(already_read)) {}

void InboundConnection::start() {
    net::post(strand_, [self = shared_from_this()] {
        if (self->closed_) {
            return;
        }
        error_code ignored;
        self->stream_.socket().set_option(net::ip::tcp::no_delay(true), ignored);
        self->hello_timer_.expires_after(self->core_->options().hello_timeout);
        self->hello_timer_.async_wait([self](error_code ec) {
            if (ec || self->closed_ || self->peer_ != raft::kNoNode) {
                return;
            }
            self->reject();  // no Hello in time
        });
        const std::string first = std::move(self->already_read_);
        self->consume(first);
        if (!self->closed_) {
            self->read_more();
        }
    });
}

void InboundConnection::close() {
    net::post(strand_, [self = shared_from_this()] { self->shut(); });
}

void InboundConnection::read_more() {
    stream_.async_read_some(
        net::buffer(read_buffer_),
        net::bind_executor(strand_, [self = shared_from_this()](error_code ec, std::size_t n) {
            if (self->closed_) {
                return;
            }
            if (ec) {
                // The peer went away. Mid-frame, that is a truncated frame: count it.
                if (self->decoder_.finish() != replication::FrameError::None) {
                    self->reject();
                } else {
                    self->shut();
                }
                return;
            }
            self->consume(std::string_view(self->read_buffer_.data(), n));
            if (!self->closed_) {
                self->read_more();
            }
        }));
}

void InboundConnection::consume(std::string_view bytes) {
    if (bytes.empty()) {
        return;
    }
    decoder_.feed(bytes);
    while (std::optional<replication::Frame> frame = decoder_.next()) {
        if (!handle_frame(std::move(*frame))) {
            reject();
            return;
        }
    }
    if (decoder_.error() != replication::FrameError::None) {
        reject();
    }
}

bool InboundConnection::handle_frame(replication::Frame frame) {
    const raft::NodeId self_id = core_->options().self;
    if (peer_ == raft::kNoNode) {
        if (frame.type != replication::FrameType::Hello) {
            return false;
        }
        const std::optional<raft::NodeId> node = replication::decode_hello(frame.payload);
        if (!node || *node == raft::kNoNode || *node == self_id) {
            return false;
        }
        peer_ = *node;
        hello_timer_.cancel();
        counters_ = core_->inbound_counters(peer_);
        ++counters_->frames_received;
        counters_->bytes_received += replication::kFrameHeaderBytes + frame.payload.size();
        return true;
    }
    if (frame.type != replication::FrameType::RaftMessages) {
        return false;
    }
    std::optional<std::vector<raft::Message>> batch = replication::decode_raft_batch(frame.payload);
    if (!batch) {
        return false;
    }
    const bool all_ours = std::all_of(batch->begin(), batch->end(), [&](const raft::Message& m) {
        return m.from == peer_ && m.to == self_id;
    });
    if (!all_ours) {
        return false;
    }
    ++counters_->frames_received;
    counters_->bytes_received += replication::kFrameHeaderBytes + frame.payload.size();
    counters_->messages_received += batch->size();
    if (!batch->empty()) {
        core_->deliver(std::move(*batch));
    }
    return true;
}

void InboundConnection::reject() {
    if (closed_) {
        return;
    }
    ++core_->inbound_rejected;
    shut();
}

void InboundConnection::shut() {
    if (closed_) {
        return;
    }
    closed_ = true;
    hello_timer_.cancel();
    stream_.close();
}

}  // namespace annal::transport
