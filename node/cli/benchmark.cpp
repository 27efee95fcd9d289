#include "cli/benchmark.hpp"

#include <cstdio>
#include <nlohmann/json.hpp>

#include "cli/text_table.hpp"

namespace annal::cli {

namespace {

std::string fixed(double value, int decimals) {
    char text[64];
    std::snprintf(text, sizeof text, "%.*f", decimals, value);
    return text;
}

}  // namespace

client::AppendLoadOptions to_load_options(const BenchmarkOptions& options) {
    client::AppendLoadOptions load;
    load.connections = options.clients;
    load.duration = std::chrono::duration<double>(options.duration_s);
    load.appends = options.appends;
    load.event_bytes = options.event_size;
    load.batch = options.batch;
    load.stream_prefix = options.stream_prefix;
    return load;
}

std::string benchmark_json(const std::string& server, const client::AppendLoadReport& report) {
    nlohmann::json errors_by_status = nlohmann::json::object();
    for (const auto& [status, count] : report.errors_by_status) {
        errors_by_status[status] = count;
    }
    return nlohmann::json{{"server", server},
                          {"target", report.target},
                          {"clients", report.connections},
                          {"batch", report.batch},
                          {"event_size", report.event_bytes},
                          {"seconds", report.seconds},
                          {"appends", report.appends},
                          {"events", report.events},
                          {"errors", report.errors},
                          {"errors_by_status", errors_by_status},
                          {"first_error", report.first_error},
                          {"appends_per_s", report.appends_per_s},
                          {"events_per_s", report.events_per_s},
                          {"latency_ms",
                           {{"mean", report.latency_mean_ms},
                            {"p50", report.latency_p50_ms},
                            {"p90", report.latency_p90_ms},
                            {"p99", report.latency_p99_ms},
                            {"p999", report.latency_p999_ms},
                            {"max", report.latency_max_ms}}}}
        .dump();
}

void print_benchmark_table(std::ostream& out, const std::string& server,
                           const client::AppendLoadReport& report) {
    TextTable table({"METRIC", "VALUE"});
    table.add_row({"server", server});
    if (report.target != server) {
        table.add_row({"appended to (leader)", report.target});
    }
    table.add_row({"clients", std::to_string(report.connections)});
    table.add_row({"events per append", std::to_string(report.batch)});
    table.add_row({"event size (bytes)", std::to_string(report.event_bytes)});
    table.add_row({"duration (s)", fixed(report.seconds, 2)});
    table.add_row({"appends", std::to_string(report.appends)});
    table.add_row({"events", std::to_string(report.events)});
    table.add_row({"errors", std::to_string(report.errors)});
    for (const auto& [status, count] : report.errors_by_status) {
        table.add_row({"  " + status, std::to_string(count)});
    }
    table.add_row({"appends/s", fixed(report.appends_per_s, 0)});
    table.add_row({"events/s", fixed(report.events_per_s, 0)});
    table.add_row({"latency mean (ms)", fixed(report.latency_mean_ms, 3)});
    table.add_row({"latency p50 (ms)", fixed(report.latency_p50_ms, 3)});
    table.add_row({"latency p90 (ms)", fixed(report.latency_p90_ms, 3)});
    table.add_row({"latency p99 (ms)", fixed(report.latency_p99_ms, 3)});
    table.add_row({"latency p99.9 (ms)", fixed(report.latency_p999_ms, 3)});
    table.add_row({"latency max (ms)", fixed(report.latency_max_ms, 3)});
    table.print(out);
}

}  // namespace annal::cli
