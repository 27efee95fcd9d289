// Lock-free recorder behind the power-of-two Histogram snapshots in StoreStats: the
// committer records, /metrics reads, neither waits for the other.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>

#include "storage/event_store.hpp"

namespace annal::storage {

class AtomicHistogram {
  public:
    void record(std::uint64_t value);
    Histogram snapshot() const;

    // Index of the bucket a value falls into (see Histogram).
    static std::size_t bucket_of(std::uint64_t value);

  private:
    std::array<std::atomic<std::uint64_t>, Histogram::kBuckets> buckets_{};
    std::atomic<std::uint64_t> count_{0};
    std::atomic<std::uint64_t> sum_{0};
};

}  // namespace annal::storage
