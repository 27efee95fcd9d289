// The append load generator behind `annal bench` and annal_api_loadgen: N keep-alive
// HTTP/1.1 connections to one node, each appending to its own stream with exactly one
// append request in flight, all driven by one Asio event loop on the calling thread (so
// the generator costs one thread, not N, on a machine it shares with the node).
//
// Each request carries `batch` events whose data is a JSON string of exactly
// `event_bytes` bytes and no id (the node assigns time-ordered ids). Latency is per append
// request, from writing it to reading the whole reply. Connections are opened before the
// clock starts. Against a cluster follower, the 307 to the leader is followed once before
// the run; during the run every non-200 reply or transport failure is an error, counted by
// its status and code, after which that connection pauses 10 ms and carries on (a broken
// connection reconnects); 100 errors in a row end that connection's part of the run.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "client/endpoint.hpp"
#include "client/result.hpp"

namespace annal::client {

struct AppendLoadOptions {
    unsigned connections = 64;
    std::chrono::duration<double> duration{10};  // used when `appends` is absent
    std::optional<std::uint64_t> appends;        // total append requests over all connections
    std::size_t event_bytes = 256;               // of each event's data (a JSON string)
    std::size_t batch = 1;                       // events per append request
    std::string stream_prefix = "bench";         // streams are PREFIX-RUN-CONNECTION
    std::chrono::milliseconds connect_timeout{5000};
    std::chrono::milliseconds request_timeout{30000};
};

struct AppendLoadStream {
    std::string name;
    std::uint64_t acknowledged_events = 0;
};

struct AppendLoadReport {
    std::string target;  // the URL appended to (the leader, after a redirect)
    unsigned connections = 0;
    std::size_t batch = 0;
    std::size_t event_bytes = 0;
    double seconds = 0;         // from the start of the clock to the last reply
    std::uint64_t appends = 0;  // acknowledged (200) append requests
    std::uint64_t events = 0;   // events in them
    std::uint64_t errors = 0;
    // "503 not_committed", "307 not_leader", "transport", ... -> how many.
    std::map<std::string, std::uint64_t> errors_by_status;
    std::string first_error;
    double appends_per_s = 0;
    double events_per_s = 0;
    double latency_mean_ms = 0;
    double latency_p50_ms = 0;
    double latency_p90_ms = 0;
    double latency_p99_ms = 0;
    double latency_p999_ms = 0;
    double latency_max_ms = 0;
    std::vector<AppendLoadStream> streams;  // one per connection
};

// Blocks until done. `progress(acknowledged_appends)` is called about ten times a second
// on the calling thread and must not throw. Fails, without running the load, when the node
// cannot be reached or resolved, or still redirects after one hop; appends the node
// refuses during the run are errors in the report.
Result<AppendLoadReport> run_append_load(const Endpoint& endpoint, const AppendLoadOptions& options,
                                         const std::function<void(std::uint64_t)>& progress);

}  // namespace annal::client
