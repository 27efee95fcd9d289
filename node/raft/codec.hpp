#pragma once
// Binary encoding of the values the node must put on the wire or on disk. Compact
// (LEB128 varints), versioned (first byte), and strict: decoding rejects truncated input,
// trailing bytes, unknown versions and unknown enum values instead of guessing.

#include <optional>
#include <string>
#include <string_view>

#include "raft/message.hpp"
#include "raft/types.hpp"

namespace annal::raft {

inline constexpr std::uint8_t kCodecVersion = 1;

std::string encode(const Message& message);
std::string encode(const Entry& entry);
std::string encode(const HardState& state);
std::string encode(const Membership& membership);
std::string encode(const SnapshotMeta& meta);

std::optional<Message> decode_message(std::string_view bytes);
std::optional<Entry> decode_entry(std::string_view bytes);
std::optional<HardState> decode_hard_state(std::string_view bytes);
std::optional<Membership> decode_membership(std::string_view bytes);
std::optional<SnapshotMeta> decode_snapshot_meta(std::string_view bytes);

}  // namespace annal::raft
