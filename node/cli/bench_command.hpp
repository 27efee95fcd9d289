// `annal bench`: runs the append load generator against a node (following a follower's
// redirect to the leader once) and prints events/s, appends/s, errors by status and
// latency percentiles (a table, or one JSON object with --json). Exits 1 if any append
// failed.
#pragma once

#include "cli/benchmark.hpp"
#include "cli/global_options.hpp"

namespace annal::cli {

int run_bench(const GlobalOptions& global, const BenchmarkOptions& options);

}  // namespace annal::cli
