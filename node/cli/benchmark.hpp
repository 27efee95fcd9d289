// The load generator behind `annal bench`: N client threads, each with its own
// keep-alive connection and its own stream, appending events of a fixed size one at a
// time or B per request, for a duration or a number of appends. Latency is measured per
// append request (send to reply) on the client side.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "client/endpoint.hpp"

namespace annal::cli {

struct BenchmarkOptions {
    unsigned clients = 64;
    double duration_s = 10;                // used when `appends` is absent
    std::optional<std::uint64_t> appends;  // total append requests over all clients
    std::size_t event_size = 256;          // bytes of each event's data (a JSON string)
    std::size_t batch = 1;                 // events per append request
    std::string stream_prefix = "bench";
};

struct BenchmarkReport {
    unsigned clients = 0;
    std::size_t batch = 0;
    std::size_t event_size = 0;
    double seconds = 0;
    std::uint64_t appends = 0;  // successful append requests
    std::uint64_t events = 0;
    std::uint64_t errors = 0;
    std::string first_error;
    double appends_per_s = 0;
    double events_per_s = 0;
    double latency_mean_ms = 0;
    double latency_p50_ms = 0;
    double latency_p99_ms = 0;
    double latency_p999_ms = 0;
    double latency_max_ms = 0;
};

// Blocks until done; calls `progress(appends_so_far)` about ten times a second from the
// calling thread.
BenchmarkReport run_benchmark(const client::Endpoint& endpoint, const BenchmarkOptions& options,
                              const std::function<void(std::uint64_t)>& progress);

}  // namespace annal::cli
