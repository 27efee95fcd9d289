// A latency histogram with bounded memory and a bounded relative error, so a long
// benchmark run costs the same few kilobytes as a short one: values below 256 µs are
// counted exactly, larger ones in buckets 1/128 of their power of two wide (< 0.8 %).
// Not thread-safe: one owner records, or each thread records into its own and merges.
#pragma once

#include <cstdint>
#include <vector>

namespace annal::client {

class LatencyHistogram {
  public:
    LatencyHistogram();

    void record(std::uint64_t microseconds);
    void merge(const LatencyHistogram& other);

    std::uint64_t count() const { return count_; }
    std::uint64_t max_us() const { return max_; }
    double mean_us() const;
    // The smallest recorded-bucket upper bound with at least ceil(fraction x count)
    // values at or below it, never above the exact maximum; 0 when empty.
    std::uint64_t percentile_us(double fraction) const;

  private:
    std::vector<std::uint64_t> buckets_;
    std::uint64_t count_ = 0;
    std::uint64_t max_ = 0;
    long double sum_ = 0;
};

}  // namespace annal::client
