// Server-side counters and histograms, rendered in Prometheus text format 0.0.4 together
// with the store's own statistics. Everything is a relaxed atomic: metrics are updated on
// every request from every io thread and must never take a lock.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <string>

namespace annal::storage {
struct StoreStats;
struct Histogram;
}  // namespace annal::storage

namespace annal::api {

// Fixed buckets (upper bounds, inclusive); the last implicit bucket is +Inf.
template <std::size_t N>
class BucketHistogram {
  public:
    explicit constexpr BucketHistogram(const std::array<double, N>& bounds) : bounds_(bounds) {}

    void observe(double value) {
        std::size_t bucket = 0;
        while (bucket < N && value > bounds_[bucket]) {
            ++bucket;
        }
        counts_[bucket].fetch_add(1, std::memory_order_relaxed);
        // Sum kept in integer micro-units so it can be a lock-free atomic add.
        sum_micro_.fetch_add(static_cast<std::uint64_t>(value * 1e6), std::memory_order_relaxed);
    }

    void render(const char* name, const char* help, std::string& out) const;

  private:
    std::array<double, N> bounds_;
    std::array<std::atomic<std::uint64_t>, N + 1> counts_{};
    std::atomic<std::uint64_t> sum_micro_{0};
};

class Metrics {
  public:
    Metrics();

    void count_http_response(unsigned status);
    void observe_append_latency(double seconds) { append_latency_.observe(seconds); }
    void count_read() { reads_.fetch_add(1, std::memory_order_relaxed); }
    void subscriber_added() { subscribers_.fetch_add(1, std::memory_order_relaxed); }
    void subscriber_removed() { subscribers_.fetch_sub(1, std::memory_order_relaxed); }
    std::int64_t subscribers() const { return subscribers_.load(std::memory_order_relaxed); }
    // TLS on the port: the handshake-failure counter is rendered only when it is on, so a
    // plain node's scrape has no TLS series that could only ever read 0.
    void enable_tls() { tls_enabled_.store(true, std::memory_order_relaxed); }
    void count_tls_handshake_failure() {
        tls_handshake_failures_.fetch_add(1, std::memory_order_relaxed);
    }
    std::uint64_t tls_handshake_failures() const {
        return tls_handshake_failures_.load(std::memory_order_relaxed);
    }

    // The store's own counters (appends, events, bytes, fsyncs, batch sizes, head) come
    // from `stats` so they count what was made durable, not what was asked for.
    std::string render(const storage::StoreStats& stats) const;

  private:
    static constexpr std::size_t kStatusSlots = 600;
    std::array<std::atomic<std::uint64_t>, kStatusSlots> responses_by_status_{};
    std::atomic<std::uint64_t> reads_{0};
    std::atomic<std::int64_t> subscribers_{0};
    std::atomic<bool> tls_enabled_{false};
    std::atomic<std::uint64_t> tls_handshake_failures_{0};
    BucketHistogram<14> append_latency_;
};

// A store-side histogram of microseconds (power-of-two buckets) as a Prometheus histogram
// in seconds, with the buckets from 16 us to about 8 s.
void render_microseconds_histogram(const storage::Histogram& histogram, const char* name,
                                   const char* help, std::string& out);

}  // namespace annal::api
