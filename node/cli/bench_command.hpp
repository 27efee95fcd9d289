// `annal bench`: runs the append benchmark against a node and prints events/s,
// appends/s and latency percentiles (a table, or one JSON object with --json).
#pragma once

#include "cli/benchmark.hpp"
#include "cli/global_options.hpp"

namespace annal::cli {

int run_bench(const GlobalOptions& global, const BenchmarkOptions& options);

}  // namespace annal::cli
