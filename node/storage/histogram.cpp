#include "storage/histogram.hpp"

#include <bit>

namespace annal::storage {

std::size_t AtomicHistogram::bucket_of(std::uint64_t value) {
    if (value <= 1) {
        return 0;
    }
    // Smallest i with value <= 2^i.
    const auto index = static_cast<std::size_t>(std::bit_width(value - 1));
    return index < Histogram::kBuckets ? index : Histogram::kBuckets - 1;
}

void AtomicHistogram::record(std::uint64_t value) {
    buckets_[bucket_of(value)].fetch_add(1, std::memory_order_relaxed);
    sum_.fetch_add(value, std::memory_order_relaxed);
    count_.fetch_add(1, std::memory_order_relaxed);
}

Histogram AtomicHistogram::snapshot() const {
    Histogram histogram;
    for (std::size_t i = 0; i < Histogram::kBuckets; ++i) {
        histogram.buckets[i] = buckets_[i].load(std::memory_order_relaxed);
    }
    histogram.sum = sum_.load(std::memory_order_relaxed);
    histogram.count = count_.load(std::memory_order_relaxed);
    return histogram;
}

}  // namespace annal::storage
