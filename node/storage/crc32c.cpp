#include "storage/crc32c.hpp"

#include <array>
#include <bit>
#include <cstring>

namespace annal::storage {
namespace {

constexpr std::uint32_t kPolynomial = 0x82F63B78u;

// Slicing-by-8: table[k][b] is the CRC of byte b followed by k zero bytes, so eight input
// bytes are folded per step with eight independent lookups.
using Tables = std::array<std::array<std::uint32_t, 256>, 8>;

constexpr Tables make_tables() {
    Tables tables{};
    for (std::uint32_t b = 0; b < 256; ++b) {
        std::uint32_t crc = b;
        for (int bit = 0; bit < 8; ++bit) {
            crc = (crc & 1u) != 0 ? (crc >> 1) ^ kPolynomial : crc >> 1;
        }
        tables[0][b] = crc;
    }
    for (std::size_t k = 1; k < 8; ++k) {
        for (std::uint32_t b = 0; b < 256; ++b) {
            const std::uint32_t previous = tables[k - 1][b];
            tables[k][b] = (previous >> 8) ^ tables[0][previous & 0xFFu];
        }
    }
    return tables;
}

constexpr Tables kTables = make_tables();

#if defined(__x86_64__)
// The SSE4.2 crc32 instruction computes exactly CRC32C (same reflected polynomial), eight
// bytes per instruction.
__attribute__((target("sse4.2"))) std::uint32_t crc32c_instruction(std::uint32_t crc,
                                                                   const unsigned char* bytes,
                                                                   std::size_t size) {
    std::uint64_t wide = ~crc;
    while (size >= 8) {
        std::uint64_t word = 0;
        std::memcpy(&word, bytes, 8);
        wide = __builtin_ia32_crc32di(wide, word);
        bytes += 8;
        size -= 8;
    }
    auto narrow = static_cast<std::uint32_t>(wide);
    while (size-- > 0) {
        narrow = __builtin_ia32_crc32qi(narrow, *bytes++);
    }
    return ~narrow;
}

// Zero (the table path) until dynamic initialization, so a checksum taken by another
// translation unit's static initializer is still right, only slower.
const bool kHasCrc32Instruction = [] {
    __builtin_cpu_init();
    return __builtin_cpu_supports("sse4.2") != 0;
}();
#endif

}  // namespace

std::uint32_t crc32c_extend(std::uint32_t crc, const void* data, std::size_t size) {
#if defined(__x86_64__)
    if (kHasCrc32Instruction) {
        return crc32c_instruction(crc, static_cast<const unsigned char*>(data), size);
    }
#endif
    return crc32c_extend_portable(crc, data, size);
}

std::uint32_t crc32c_extend_portable(std::uint32_t crc, const void* data, std::size_t size) {
    const auto* bytes = static_cast<const unsigned char*>(data);
    crc = ~crc;
    while (size >= 8) {
        std::uint32_t low = 0;
        std::uint32_t high = 0;
        std::memcpy(&low, bytes, 4);
        std::memcpy(&high, bytes + 4, 4);
        if constexpr (std::endian::native == std::endian::big) {
            low = __builtin_bswap32(low);
            high = __builtin_bswap32(high);
        }
        low ^= crc;
        crc = kTables[7][low & 0xFFu] ^ kTables[6][(low >> 8) & 0xFFu] ^
              kTables[5][(low >> 16) & 0xFFu] ^ kTables[4][low >> 24] ^ kTables[3][high & 0xFFu] ^
              kTables[2][(high >> 8) & 0xFFu] ^ kTables[1][(high >> 16) & 0xFFu] ^
              kTables[0][high >> 24];
        bytes += 8;
        size -= 8;
    }
    while (size-- > 0) {
        crc = (crc >> 8) ^ kTables[0][(crc ^ *bytes++) & 0xFFu];
    }
    return ~crc;
}

}  // namespace annal::storage
