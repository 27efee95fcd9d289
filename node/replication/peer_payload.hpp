// Payloads of peer frames (peer_frame.hpp).
//
// RaftMessages: u32 count, then per message u32 length + raft::encode(message). One frame
// carries every message due to one peer, of any number of groups (one connection, one
// write, one checksum for all of them). Decoding is strict: a count or length that does
// not fit the payload, an undecodable message or trailing bytes reject the whole batch.
//
// Hello: u64 node id of the sender (the cluster id is in the frame header).
#pragma once

#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "raft/message.hpp"

namespace annal::replication {

std::string encode_raft_batch(std::span<const raft::Message> messages);
std::optional<std::vector<raft::Message>> decode_raft_batch(std::string_view payload);

std::string encode_hello(raft::NodeId node);
std::optional<raft::NodeId> decode_hello(std::string_view payload);

}  // namespace annal::replication
