// The on-disk form of one event in the event log (key: position, big-endian u64).
//
//   offset size
//   0      1    format version (kRecordFormatVersion)
//   1      4    CRC32C (big-endian) of: position as 8 big-endian bytes, then bytes 5..end
//   5      1    flags (bit 0: data is JSON)
//   6      8    stream version
//   14     8    timestamp, microseconds since the epoch (two's complement)
//   22     16   event id (raw UUID bytes)
//   38     2    stream length      40  2  type length
//   42     4    data length        46  4  metadata length
//   50     8    position of the stream's previous event (0 for version 0)
//   58     ...  stream, type, data, metadata
//
// The position is part of the checksum so a record found under the wrong key (a
// misdirected write, a stale index) is caught like a flipped bit.
//
// The previous-position field chains a stream's events backwards, so the stream index
// only needs every kStreamIndexStride-th version (index_keys.hpp says why).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "storage/event_store.hpp"

namespace annal::storage {

inline constexpr std::uint8_t kRecordFormatVersion = 2;
inline constexpr std::size_t kRecordHeaderBytes = 58;
inline constexpr std::size_t kMaxNameBytes = 255;  // stream and type
inline constexpr std::size_t kMaxFieldBytes = 0xFFFFFFFFu;

// Appends the encoded record to `out`. `id_bytes` is the 16-byte id. Sizes must already
// be validated (names <= kMaxNameBytes, data/metadata <= kMaxFieldBytes).
// `previous_position` is the position of the stream's event version - 1 (0 for version 0).
void encode_record(std::string& out, std::uint64_t position, std::uint64_t version,
                   std::uint64_t previous_position, std::string_view stream,
                   std::string_view id_bytes, const ProposedEvent& event);

std::size_t encoded_record_size(std::size_t stream_bytes, const ProposedEvent& event);

enum class DecodeStatus : std::uint8_t { Ok, Corrupt };

struct DecodeResult {
    DecodeStatus status = DecodeStatus::Ok;
    std::string problem;  // why it is corrupt
};

// Verifies the checksum and layout of the record stored under `position` and fills
// `event` (including position). Never fills `event` from a record that fails the check.
// `previous_position`, when given, receives the stream's previous event's position.
DecodeResult decode_record(std::uint64_t position, std::string_view bytes, StoredEvent& event,
                           std::uint64_t* previous_position = nullptr);

}  // namespace annal::storage
