// Copying stored records between replicas byte for byte (snapshot transfer). The wire form
// of a run of records is, per record: position (u64 big-endian), length (u32 big-endian),
// the record exactly as stored (record_codec.hpp). The record's own checksum covers its
// position, so a record that arrives damaged or under the wrong position is caught when
// the receiver decodes it (PositionedWriter).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "storage/event_store.hpp"
#include "storage/lmdb_environment.hpp"

namespace annal::storage {

inline constexpr std::size_t kRawRecordPrefixBytes = 12;

struct RawRecordView {
    std::uint64_t position = 0;
    std::string_view record;
};

void append_raw_record(std::string& out, std::uint64_t position, std::string_view record);
// False when `body` is not a well-formed run of records (truncated, or a length past the
// end). `out` views `body`.
bool decode_raw_records(std::string_view body, std::vector<RawRecordView>& out);

// Reads from the events table in one read transaction (see EventStore::read_raw_records).
RawRecords read_raw_records(const LmdbEnvironment& environment, std::uint64_t after,
                            std::uint64_t upto, std::size_t max_bytes);

}  // namespace annal::storage
