#include "cli/bench_command.hpp"

#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>

#include "cli/exit_code.hpp"
#include "cli/progress_bar.hpp"
#include "cli/text_table.hpp"

namespace annal::cli {

namespace {

std::string fixed(double value, int decimals) {
    char text[64];
    std::snprintf(text, sizeof text, "%.*f", decimals, value);
    return text;
}

}  // namespace

int run_bench(const GlobalOptions& global, const BenchmarkOptions& options) {
    std::string error;
    const auto endpoint = client::Endpoint::parse(global.server, error);
    if (!endpoint) {
        return report_usage_error(error);
    }
    if (options.clients == 0 || options.batch == 0 ||
        (!options.appends && options.duration_s <= 0)) {
        return report_usage_error("bench: --clients, --batch and --duration must be positive");
    }
    BenchmarkReport report;
    {
        ProgressBar progress("bench appends", options.appends.value_or(0));
        report = run_benchmark(*endpoint, options,
                               [&progress](std::uint64_t done) { progress.update(done); });
    }
    if (global.json) {
        std::cout << nlohmann::json{{"server", endpoint->to_url()},
                                    {"clients", report.clients},
                                    {"batch", report.batch},
                                    {"event_size", report.event_size},
                                    {"seconds", report.seconds},
                                    {"appends", report.appends},
                                    {"events", report.events},
                                    {"errors", report.errors},
                                    {"first_error", report.first_error},
                                    {"appends_per_s", report.appends_per_s},
                                    {"events_per_s", report.events_per_s},
                                    {"latency_ms",
                                     {{"mean", report.latency_mean_ms},
                                      {"p50", report.latency_p50_ms},
                                      {"p99", report.latency_p99_ms},
                                      {"p999", report.latency_p999_ms},
                                      {"max", report.latency_max_ms}}}}
                         .dump()
                  << '\n';
    } else {
        TextTable table({"METRIC", "VALUE"});
        table.add_row({"server", endpoint->to_url()});
        table.add_row({"clients", std::to_string(report.clients)});
        table.add_row({"events per append", std::to_string(report.batch)});
        table.add_row({"event size (bytes)", std::to_string(report.event_size)});
        table.add_row({"duration (s)", fixed(report.seconds, 2)});
        table.add_row({"appends", std::to_string(report.appends)});
        table.add_row({"events", std::to_string(report.events)});
        table.add_row({"errors", std::to_string(report.errors)});
        table.add_row({"appends/s", fixed(report.appends_per_s, 0)});
        table.add_row({"events/s", fixed(report.events_per_s, 0)});
        table.add_row({"latency mean (ms)", fixed(report.latency_mean_ms, 3)});
        table.add_row({"latency p50 (ms)", fixed(report.latency_p50_ms, 3)});
        table.add_row({"latency p99 (ms)", fixed(report.latency_p99_ms, 3)});
        table.add_row({"latency p99.9 (ms)", fixed(report.latency_p999_ms, 3)});
        table.add_row({"latency max (ms)", fixed(report.latency_max_ms, 3)});
        table.print(std::cout);
    }
    if (report.errors > 0) {
        std::cerr << "annal: bench: " << report.errors
                  << " append requests failed; first: " << report.first_error << '\n';
        return kExitFailure;
    }
    return kExitOk;
}

}  // namespace annal::cli
