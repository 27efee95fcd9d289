// `annal status`: the node's version, head position, uptime and store statistics.
#pragma once

#include "cli/global_options.hpp"

namespace annal::cli {

int run_status(const GlobalOptions& global);

}  // namespace annal::cli
