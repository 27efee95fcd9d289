// Turns a peer's queued messages into the bytes of one socket write: as few RaftMessages
// frames as the payload limit allows (normally exactly one), appended to one buffer.
#pragma once

#include <cstdint>
#include <span>
#include <string>

#include "raft/message.hpp"

namespace annal::transport {

// An upper-bound-ish estimate of a message's encoded size (varints counted at their widest),
// cheap enough to run on the sender's thread for the queue's byte bound.
std::size_t estimated_wire_bytes(const raft::Message& message);

struct FrameBatchResult {
    std::size_t frames = 0;
    std::size_t messages = 0;   // messages written
    std::size_t oversized = 0;  // messages skipped: alone they exceed the payload limit
};

// Appends RaftMessages frames carrying `messages` in order to `out`, each payload at most
// `max_payload_bytes`. A message that cannot fit even alone is skipped (the receiver's
// decoder would reject the frame and close the connection; Raft retransmits).
FrameBatchResult append_message_frames(std::string& out, std::uint64_t cluster_id,
                                       std::span<const raft::Message> messages,
                                       std::uint32_t max_payload_bytes);

}  // namespace annal::transport
