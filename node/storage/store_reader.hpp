// The read side of the store: index walks in short read transactions. Every record is
// checksum-verified and cross-checked against the index entry that led to it.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "storage/event_store.hpp"
#include "storage/lmdb_environment.hpp"

namespace annal::storage {

class StoreReader {
  public:
    explicit StoreReader(const LmdbEnvironment& environment) : environment_(environment) {}

    ReadResult read_stream(const std::string& stream, std::uint64_t from_version,
                           Direction direction, std::size_t limit) const;
    ReadResult read_all(std::uint64_t from_position, Direction direction, std::size_t limit) const;
    // Events with (timestamp, position) >= start (or > start when `exclusive`) and
    // timestamp < to_us.
    ReadResult read_time(std::int64_t start_us, std::uint64_t start_position, bool exclusive,
                         std::int64_t to_us, std::size_t limit) const;
    // nullopt also when the store cannot be read (logged in `error` if given).
    std::optional<std::uint64_t> stream_version(const std::string& stream,
                                                std::string* error = nullptr) const;

  private:
    const LmdbEnvironment& environment_;
};

}  // namespace annal::storage
