#include "transport/frame_batch.hpp"

#include "replication/peer_frame.hpp"
#include "replication/peer_payload.hpp"

namespace annal::transport {
namespace {

constexpr std::size_t kVarintBytes = 10;
constexpr std::size_t kMessageFixedBytes = 24 * kVarintBytes;  // header fields, lengths
constexpr std::size_t kEntryFixedBytes = 4 * kVarintBytes;
constexpr std::size_t kBatchLengthPrefixBytes = 4;

void append_chunk(std::string& out, std::uint64_t cluster_id, std::span<const raft::Message> chunk,
                  std::uint32_t max_payload_bytes, FrameBatchResult& result) {
    if (chunk.empty()) {
        return;
    }
    const std::string payload = replication::encode_raft_batch(chunk);
    if (payload.size() <= max_payload_bytes) {
        replication::append_frame(out, cluster_id, replication::FrameType::RaftMessages, payload);
        ++result.frames;
        result.messages += chunk.size();
        return;
    }
    if (chunk.size() == 1) {
        ++result.oversized;
        return;
    }
    // The estimate was low: split until every frame fits (rare, so re-encoding is fine).
    const std::size_t half = chunk.size() / 2;
    append_chunk(out, cluster_id, chunk.first(half), max_payload_bytes, result);
    append_chunk(out, cluster_id, chunk.subspan(half), max_payload_bytes, result);
}

}  // namespace

std::size_t estimated_wire_bytes(const raft::Message& message) {
    std::size_t bytes = kBatchLengthPrefixBytes + kMessageFixedBytes + message.context.size() +
                        message.snapshot_chunk.size() +
                        kVarintBytes * (message.snapshot.membership.voters.size() +
                                        message.snapshot.membership.learners.size());
    for (const raft::Entry& entry : message.entries) {
        bytes += kEntryFixedBytes + entry.data.size();
    }
    return bytes;
}

FrameBatchResult append_message_frames(std::string& out, std::uint64_t cluster_id,
                                       std::span<const raft::Message> messages,
                                       std::uint32_t max_payload_bytes) {
    FrameBatchResult result;
    // Greedy chunks by estimate; the count prefix of the payload is 4 bytes.
    std::size_t chunk_begin = 0;
    std::size_t chunk_bytes = 4;
    for (std::size_t i = 0; i < messages.size(); ++i) {
        const std::size_t bytes = estimated_wire_bytes(messages[i]);
        if (i > chunk_begin && chunk_bytes + bytes > max_payload_bytes) {
            append_chunk(out, cluster_id, messages.subspan(chunk_begin, i - chunk_begin),
                         max_payload_bytes, result);
            chunk_begin = i;
            chunk_bytes = 4;
        }
        chunk_bytes += bytes;
    }
    append_chunk(out, cluster_id, messages.subspan(chunk_begin), max_payload_bytes, result);
    return result;
}

}  // namespace annal::transport
