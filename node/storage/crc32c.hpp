// CRC32C (Castagnoli, reflected polynomial 0x82F63B78), the checksum of stored records.
// Chosen over CRC32 because it detects more error patterns at the same cost and is the
// usual choice of storage engines (iSCSI, ext4, RocksDB), so tools can verify our files.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace annal::storage {

// Continues a running CRC: crc32c_extend(crc32c_extend(0, a), b) == crc32c(a + b).
// Uses the CPU's CRC32 instruction where there is one (x86-64 with SSE4.2, checked at run
// time): every stored record and peer frame is checksummed, and the table-driven code
// was a visible share of a follower's CPU.
std::uint32_t crc32c_extend(std::uint32_t crc, const void* data, std::size_t size);

// The table-driven implementation (slicing-by-8), whatever the CPU offers; the two agree
// on every input (tested).
std::uint32_t crc32c_extend_portable(std::uint32_t crc, const void* data, std::size_t size);

inline std::uint32_t crc32c(std::string_view bytes) {
    return crc32c_extend(0, bytes.data(), bytes.size());
}

}  // namespace annal::storage
