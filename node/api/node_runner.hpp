// Runs one single-node Annal server until SIGTERM/SIGINT: opens the store, serves the
// HTTP API on one port, and on a signal shuts down gracefully (stop accepting, finish
// or fail in-flight requests, make everything acknowledged durable, close LMDB).
#pragma once

#include "api/node_config.hpp"

namespace annal::api {

// Blocks until shut down. Returns the process exit code (0 on a clean shutdown).
// Prints one line to stdout when ready: "annal: listening on http://ADDR:PORT".
int run_node(const NodeConfig& config);

}  // namespace annal::api
