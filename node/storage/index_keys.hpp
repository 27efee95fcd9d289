// Keys of the store's LMDB databases. All integers are big-endian so LMDB's default
// byte-wise order is numeric order and range scans are cursor walks.
//
//   events        position                        -> record (see record_codec.hpp)
//   stream_index  len(stream) u8, stream, version -> position, ONLY for versions that
//                 are multiples of kStreamIndexStride
//   stream_heads  stream                          -> last version u64, its position u64
//   time_index    timestamp (sign-flipped), position -> (empty)
//   event_ids     16 raw id bytes                 -> position (u64)
//
// The stream name is length-prefixed so one stream's entries are contiguous even when
// another stream's name extends it ("a" vs "a\x01..."): a prefix walk never interleaves.
//
// Why the stream index is sparse: every stream's entries are contiguous, so with many
// streams appending at once each stream's tail sits in its own B-tree leaf, and a group
// commit of N events from N streams dirtied N scattered leaves (copy-on-write), each a
// random 4 KiB write to flush — most of the pages of a commit. Records carry the position
// of their stream's previous event instead (record_codec.hpp), the index keeps every
// kStreamIndexStride-th version and the head is in stream_heads; a read finds the nearest
// known position at or above what it needs and walks the chain back (at most
// kStreamIndexStride - 1 extra record reads, all through the page cache).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace annal::storage {

inline constexpr std::size_t kPositionKeyBytes = 8;
inline constexpr std::size_t kTimeKeyBytes = 16;
inline constexpr std::uint64_t kStreamIndexStride = 32;
inline constexpr std::size_t kStreamHeadBytes = 16;

std::string position_key(std::uint64_t position);
std::uint64_t position_from_key(std::string_view key);  // also for u64 values

std::string stream_index_key(std::string_view stream, std::uint64_t version);
// True when `key` is a stream_index key of `stream`; then `version` is set.
bool parse_stream_index_key(std::string_view key, std::string_view stream, std::uint64_t& version);

struct StreamHead {
    std::uint64_t version = 0;
    std::uint64_t position = 0;
};
std::string stream_head_value(StreamHead head);
// False when `value` is not a stream head value.
bool parse_stream_head_value(std::string_view value, StreamHead& head);

std::string time_key(std::int64_t timestamp_us, std::uint64_t position);
struct TimeKey {
    std::int64_t timestamp_us = 0;
    std::uint64_t position = 0;
};
TimeKey parse_time_key(std::string_view key);  // key must be kTimeKeyBytes long

}  // namespace annal::storage
