#include "api/metrics.hpp"

#include <cstdio>

#include "storage/event_store.hpp"

namespace annal::api {
namespace {

constexpr std::array<double, 14> kLatencyBounds = {
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5};
// Batch buckets shown: le = 1, 2, 4, ... 2^kBatchBucketsShown-1, then +Inf.
constexpr std::size_t kBatchBucketsShown = 15;

void append_number(double value, std::string& out) {
    char text[32];
    std::snprintf(text, sizeof(text), "%.9g", value);
    out.append(text);
}

void append_counter(const char* name, const char* help, const char* type, std::uint64_t value,
                    std::string& out) {
    out.append("# HELP ").append(name).append(" ").append(help).append("\n");
    out.append("# TYPE ").append(name).append(" ").append(type).append("\n");
    out.append(name).append(" ").append(std::to_string(value)).append("\n");
}

// The store keeps power-of-two buckets (non-cumulative); Prometheus wants cumulative
// `le` buckets, and a fixed set of them (first..last) so every scrape has the same series.
// `unit` scales bucket bounds and the sum (1e-6: microseconds shown as seconds); 0 shows
// them as exact integers (counts).
void render_power_of_two_histogram(const storage::Histogram& histogram, const char* name,
                                   const char* help, std::size_t first, std::size_t last,
                                   double unit, std::string& out) {
    const auto append_value = [&out, unit](std::uint64_t value) {
        if (unit == 0) {
            out.append(std::to_string(value));
        } else {
            append_number(static_cast<double>(value) * unit, out);
        }
    };
    out.append("# HELP ").append(name).append(" ").append(help).append("\n");
    out.append("# TYPE ").append(name).append(" histogram\n");
    std::uint64_t cumulative = 0;
    std::uint64_t total = 0;
    for (std::size_t i = 0; i < storage::Histogram::kBuckets; ++i) {
        total += histogram.buckets[i];
    }
    for (std::size_t i = 0; i <= last; ++i) {
        cumulative += histogram.buckets[i];
        if (i < first) {
            continue;
        }
        out.append(name).append("_bucket{le=\"");
        append_value(storage::Histogram::upper_bound(i));
        out.append("\"} ").append(std::to_string(cumulative)).append("\n");
    }
    out.append(name).append("_bucket{le=\"+Inf\"} ").append(std::to_string(total)).append("\n");
    out.append(name).append("_sum ");
    append_value(histogram.sum);
    out.append("\n");
    out.append(name).append("_count ").append(std::to_string(total)).append("\n");
}

void render_store_histogram(const storage::Histogram& histogram, const char* name, const char* help,
                            std::string& out) {
    render_power_of_two_histogram(histogram, name, help, 0, kBatchBucketsShown - 1, 0, out);
}

}  // namespace

void render_microseconds_histogram(const storage::Histogram& histogram, const char* name,
                                   const char* help, std::string& out) {
    constexpr std::size_t kFirstShown = 4;  // 16 us: finer buckets add series, not insight
    constexpr std::size_t kLastShown = 23;  // 2^23 us, about 8.4 s
    render_power_of_two_histogram(histogram, name, help, kFirstShown, kLastShown, 1e-6, out);
}

template <std::size_t N>
void BucketHistogram<N>::render(const char* name, const char* help, std::string& out) const {
    out.append("# HELP ").append(name).append(" ").append(help).append("\n");
    out.append("# TYPE ").append(name).append(" histogram\n");
    std::uint64_t cumulative = 0;
    for (std::size_t i = 0; i <= N; ++i) {
        cumulative += counts_[i].load(std::memory_order_relaxed);
        out.append(name).append("_bucket{le=\"");
        if (i < N) {
            append_number(bounds_[i], out);
        } else {
            out.append("+Inf");
        }
        out.append("\"} ").append(std::to_string(cumulative)).append("\n");
    }
    out.append(name).append("_sum ");
    append_number(static_cast<double>(sum_micro_.load(std::memory_order_relaxed)) / 1e6, out);
    out.append("\n");
    out.append(name).append("_count ").append(std::to_string(cumulative)).append("\n");
}

Metrics::Metrics() : append_latency_(kLatencyBounds) {}

void Metrics::count_http_response(unsigned status) {
    responses_by_status_[status < kStatusSlots ? status : 0].fetch_add(1,
                                                                       std::memory_order_relaxed);
}

std::string Metrics::render(const storage::StoreStats& stats) const {
    std::string out;
    out.reserve(4096);
    append_counter("annal_appends_total", "Append requests made durable.", "counter", stats.appends,
                   out);
    append_counter("annal_append_events_total", "Events made durable.", "counter", stats.events,
                   out);
    append_counter("annal_append_bytes_total", "Payload bytes made durable.", "counter",
                   stats.bytes, out);
    append_counter("annal_fsyncs_total", "Durable commits (one per group-commit batch).", "counter",
                   stats.commits, out);
    render_store_histogram(stats.batch_events, "annal_batch_events",
                           "Events written per group-commit batch.", out);
    append_latency_.render("annal_append_latency_seconds",
                           "Append latency in the server, from request parsed to reply queued.",
                           out);
    append_counter("annal_read_requests_total", "Read requests served.", "counter",
                   reads_.load(std::memory_order_relaxed), out);
    out.append("# HELP annal_http_requests_total HTTP responses sent, by status code.\n");
    out.append("# TYPE annal_http_requests_total counter\n");
    for (std::size_t status = 0; status < kStatusSlots; ++status) {
        const auto count = responses_by_status_[status].load(std::memory_order_relaxed);
        if (count > 0) {
            out.append("annal_http_requests_total{code=\"")
                .append(status == 0 ? std::string("other") : std::to_string(status))
                .append("\"} ")
                .append(std::to_string(count))
                .append("\n");
        }
    }
    const auto subscribers = subscribers_.load(std::memory_order_relaxed);
    append_counter("annal_subscribers", "Live subscriptions open now.", "gauge",
                   static_cast<std::uint64_t>(subscribers < 0 ? 0 : subscribers), out);
    append_counter("annal_head_position", "Last durable global position.", "gauge",
                   stats.head_position, out);
    append_counter("annal_map_bytes", "Current LMDB map size in bytes.", "gauge", stats.map_bytes,
                   out);
    if (tls_enabled_.load(std::memory_order_relaxed)) {
        append_counter("annal_tls_handshake_failures_total",
                       "TLS connections closed before their handshake completed (failed, timed "
                       "out, or plain HTTP on the TLS port).",
                       "counter", tls_handshake_failures(), out);
    }
    return out;
}

}  // namespace annal::api
