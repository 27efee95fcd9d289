#include "cli/bench_command.hpp"

#include <iostream>

#include "cli/exit_code.hpp"
#include "cli/progress_bar.hpp"

namespace annal::cli {

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
    const std::string server = endpoint->to_url();
    auto outcome = [&] {
        ProgressBar progress("bench appends", options.appends.value_or(0));
        return client::run_append_load(*endpoint, to_load_options(options),
                                       [&progress](std::uint64_t done) { progress.update(done); });
    }();
    if (!outcome) {
        return report_error("bench " + server, outcome.error());
    }
    const client::AppendLoadReport& report = outcome.value();
    if (global.json) {
        std::cout << benchmark_json(server, report) << '\n';
    } else {
        print_benchmark_table(std::cout, server, report);
    }
    if (report.errors > 0) {
        std::cerr << "annal: bench: " << report.errors
                  << " append requests failed; first: " << report.first_error << '\n';
        return kExitFailure;
    }
    return kExitOk;
}

}  // namespace annal::cli
