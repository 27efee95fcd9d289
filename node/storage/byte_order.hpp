// Fixed-width big-endian integers in byte buffers. Keys are big-endian so that LMDB's
// default memcmp order is numeric order; record fields use the same helpers for one
// on-disk convention.
#pragma once

#include <cstdint>
#include <string>

namespace annal::storage {

inline void put_be(std::string& out, std::uint64_t value, int bytes) {
    for (int shift = (bytes - 1) * 8; shift >= 0; shift -= 8) {
        out.push_back(static_cast<char>((value >> shift) & 0xFFu));
    }
}
inline void put_u64_be(std::string& out, std::uint64_t value) {
    put_be(out, value, 8);
}
inline void put_u32_be(std::string& out, std::uint32_t value) {
    put_be(out, value, 4);
}
inline void put_u16_be(std::string& out, std::uint16_t value) {
    put_be(out, value, 2);
}

inline std::uint64_t get_be(const unsigned char* in, int bytes) {
    std::uint64_t value = 0;
    for (int i = 0; i < bytes; ++i) {
        value = (value << 8) | in[i];
    }
    return value;
}
inline std::uint64_t get_u64_be(const unsigned char* in) {
    return get_be(in, 8);
}
inline std::uint32_t get_u32_be(const unsigned char* in) {
    return static_cast<std::uint32_t>(get_be(in, 4));
}
inline std::uint16_t get_u16_be(const unsigned char* in) {
    return static_cast<std::uint16_t>(get_be(in, 2));
}

// Signed timestamps sort correctly as unsigned big-endian once the sign bit is flipped:
// INT64_MIN -> 0, -1 -> 0x7FFF..., 0 -> 0x8000..., INT64_MAX -> 0xFFFF....
inline std::uint64_t order_preserving(std::int64_t value) {
    return static_cast<std::uint64_t>(value) ^ (1ull << 63);
}
inline std::int64_t from_order_preserving(std::uint64_t key) {
    return static_cast<std::int64_t>(key ^ (1ull << 63));
}

}  // namespace annal::storage
