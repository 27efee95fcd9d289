// Keys of the store's LMDB databases. All integers are big-endian so LMDB's default
// byte-wise order is numeric order and range scans are cursor walks.
//
//   events        position                        -> record (see record_codec.hpp)
//   stream_index  len(stream) u8, stream, version -> position
//   stream_heads  stream                          -> last version (u64)
//   time_index    timestamp (sign-flipped), position -> (empty)
//   event_ids     16 raw id bytes                 -> position (u64)
//
// The stream name is length-prefixed so one stream's entries are contiguous even when
// another stream's name extends it ("a" vs "a\x01..."): a prefix walk never interleaves.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace annal::storage {

inline constexpr std::size_t kPositionKeyBytes = 8;
inline constexpr std::size_t kTimeKeyBytes = 16;

std::string position_key(std::uint64_t position);
std::uint64_t position_from_key(std::string_view key);  // also for u64 values

std::string stream_index_key(std::string_view stream, std::uint64_t version);
// True when `key` is a stream_index key of `stream`; then `version` is set.
bool parse_stream_index_key(std::string_view key, std::string_view stream, std::uint64_t& version);

std::string time_key(std::int64_t timestamp_us, std::uint64_t position);
struct TimeKey {
    std::int64_t timestamp_us = 0;
    std::uint64_t position = 0;
};
TimeKey parse_time_key(std::string_view key);  // key must be kTimeKeyBytes long

}  // namespace annal::storage
