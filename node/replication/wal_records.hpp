// The record format of the Raft write-ahead log (raft_wal.hpp has the file layout).
//
// A record is [body length u32 BE][CRC32C u32 BE][body], the body being
// [type u8][group u64 BE][payload]. The CRC covers the length field and the body, so a
// damaged length is caught as surely as a damaged payload. A zero length never starts a
// record: segments are preallocated with zeros, and a zero length marks unwritten space.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "raft/types.hpp"

namespace annal::replication {

enum class WalRecordType : std::uint8_t {
    Entry = 1,            // payload: raft::encode(Entry)
    HardState = 2,        // payload: raft::encode(HardState)
    SnapshotInstall = 3,  // a leader's snapshot: replaces the group's log
    Snapshot = 4,         // an application snapshot (or a checkpoint's copy): log unchanged
    LogBase = 5,          // the compaction point (index, term): entries up to it are gone
    Commit = 6,           // ends a batch; payload: the batch's record count (u32 BE)
};

inline constexpr std::size_t kWalRecordHeaderBytes = 8;  // length + CRC
inline constexpr std::size_t kWalBodyPrefixBytes = 9;    // type + group
// Larger lengths are treated as damage, not as a record (a snapshot bigger than this
// cannot be stored in one record; Annal's snapshots are transferred and staged in files).
inline constexpr std::uint32_t kWalMaxBodyBytes = 1u << 30;

// Appends one sealed record to `out`.
void append_wal_record(std::string& out, WalRecordType type, raft::GroupId group,
                       std::string_view payload);

struct WalRecord {
    WalRecordType type = WalRecordType::Commit;
    raft::GroupId group = 0;
    std::string_view payload;
    std::size_t size = 0;  // header + body: where the next record starts
};

enum class WalParse : std::uint8_t {
    Ok,
    Unwritten,  // a zero length: preallocated space, nothing was written here
    Truncated,  // the record runs past the bytes given
    Damaged,    // bad checksum, unknown type or impossible length
};

// Parses the record at the start of `bytes` (which run to the end of the readable data).
WalParse parse_wal_record(std::string_view bytes, WalRecord& record);

std::string encode_wal_snapshot(const raft::Snapshot& snapshot);
std::optional<raft::Snapshot> decode_wal_snapshot(std::string_view payload);
std::string encode_wal_commit(std::uint32_t records);
std::optional<std::uint32_t> decode_wal_commit(std::string_view payload);

}  // namespace annal::replication
