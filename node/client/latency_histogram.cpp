#include "client/latency_histogram.hpp"

#include <algorithm>
#include <bit>
#include <cmath>

namespace annal::client {

namespace {

constexpr unsigned kSubBucketBits = 7;                         // 128 buckets per octave
constexpr std::uint64_t kExactLimit = 2ull << kSubBucketBits;  // 256: below, one per µs
constexpr unsigned kOctaves = 64 - (kSubBucketBits + 1);
constexpr std::size_t kBucketCount = kExactLimit + kOctaves * (1ull << kSubBucketBits);

std::size_t bucket_of(std::uint64_t value) {
    if (value < kExactLimit) {
        return static_cast<std::size_t>(value);
    }
    const unsigned top_bit = 63 - static_cast<unsigned>(std::countl_zero(value));
    const unsigned shift = top_bit - kSubBucketBits;
    const std::uint64_t sub_bucket = (value >> shift) & ((1ull << kSubBucketBits) - 1);
    const std::uint64_t octave = top_bit - (kSubBucketBits + 1);
    return static_cast<std::size_t>(kExactLimit + (octave << kSubBucketBits) + sub_bucket);
}

// The largest value that falls into `bucket`.
std::uint64_t upper_bound_of(std::size_t bucket) {
    if (bucket < kExactLimit) {
        return bucket;
    }
    const std::uint64_t index = bucket - kExactLimit;
    const unsigned octave = static_cast<unsigned>(index >> kSubBucketBits);
    const std::uint64_t sub_bucket = index & ((1ull << kSubBucketBits) - 1);
    const unsigned shift = octave + 1;
    const std::uint64_t lowest = ((1ull << kSubBucketBits) | sub_bucket) << shift;
    return lowest + ((1ull << shift) - 1);
}

}  // namespace

LatencyHistogram::LatencyHistogram() : buckets_(kBucketCount, 0) {}

void LatencyHistogram::record(std::uint64_t microseconds) {
    ++buckets_[bucket_of(microseconds)];
    ++count_;
    max_ = std::max(max_, microseconds);
    sum_ += static_cast<long double>(microseconds);
}

void LatencyHistogram::merge(const LatencyHistogram& other) {
    for (std::size_t i = 0; i < buckets_.size(); ++i) {
        buckets_[i] += other.buckets_[i];
    }
    count_ += other.count_;
    max_ = std::max(max_, other.max_);
    sum_ += other.sum_;
}

double LatencyHistogram::mean_us() const {
    return count_ == 0 ? 0.0 : static_cast<double>(sum_ / static_cast<long double>(count_));
}

std::uint64_t LatencyHistogram::percentile_us(double fraction) const {
    if (count_ == 0) {
        return 0;
    }
    const double clamped = std::clamp(fraction, 0.0, 1.0);
    const auto rank = std::max<std::uint64_t>(
        1, static_cast<std::uint64_t>(std::ceil(clamped * static_cast<double>(count_))));
    std::uint64_t seen = 0;
    for (std::size_t i = 0; i < buckets_.size(); ++i) {
        seen += buckets_[i];
        if (seen >= rank) {
            return std::min(upper_bound_of(i), max_);
        }
    }
    return max_;
}

}  // namespace annal::client
