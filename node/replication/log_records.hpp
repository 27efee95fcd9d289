// How durable Raft state is laid out in LMDB: keys and checksummed records.
//
// Two databases hold every Raft group of a node, so one environment (one fsync per commit)
// serves them all:
// - `raft_entries`: key = group (u64 BE) | index (u64 BE) -> entry record. Big-endian keys
//   keep a group's entries contiguous and in index order under LMDB's default comparator.
// - `raft_state`: key = group (u64 BE) | kind (u8) -> state record (hard state, snapshot
//   metadata, snapshot data, log base).
// Every record is [format version u8][CRC32C u32 BE][payload]; the CRC covers the key, the
// version and the payload, so a record that is damaged or sits under the wrong key (a
// misdirected write) is detected, not served.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "raft/types.hpp"

namespace annal::replication {

inline constexpr std::uint8_t kRecordVersion = 1;
inline constexpr std::size_t kRecordHeaderBytes = 5;
inline constexpr std::size_t kEntryKeyBytes = 16;
inline constexpr std::size_t kStateKeyBytes = 9;

enum class StateKind : std::uint8_t {
    HardState = 1,
    SnapshotMeta = 2,
    SnapshotData = 3,
    LogBase = 4,  // (index, term) of the entry just before the first live entry
};

std::string entry_key(raft::GroupId group, raft::Index index);
std::string state_key(raft::GroupId group, StateKind kind);
// Splits a key of raft_entries; nullopt if it is not one.
struct EntryKey {
    raft::GroupId group = 0;
    raft::Index index = 0;
};
std::optional<EntryKey> parse_entry_key(std::string_view key);
// Group of a raft_state key of the given kind; nullopt for other keys.
std::optional<raft::GroupId> parse_state_key(std::string_view key, StateKind kind);

// Wraps `payload` for storage under `key`.
std::string seal_record(std::string_view key, std::string_view payload);
// The payload of a record stored under `key`, or nullopt if its version is unknown or its
// checksum does not match.
std::optional<std::string_view> open_record(std::string_view key, std::string_view record);

std::string encode_entry_record(raft::GroupId group, const raft::Entry& entry);
// The entry stored under (group, index); nullopt if the record is damaged, misplaced or
// not an entry with that index.
std::optional<raft::Entry> decode_entry_record(raft::GroupId group, raft::Index index,
                                               std::string_view record);

struct LogBase {
    raft::Index index = 0;
    raft::Term term = 0;
    bool operator==(const LogBase&) const = default;
};
std::string encode_log_base(const LogBase& base);
std::optional<LogBase> decode_log_base(std::string_view payload);

}  // namespace annal::replication
