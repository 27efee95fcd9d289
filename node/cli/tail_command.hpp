// `annal tail [STREAM] [--from P]`: follows the live subscription and prints each event
// as it arrives until Ctrl-C (exit 0) or the server ends the subscription.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "cli/global_options.hpp"

namespace annal::cli {

struct TailOptions {
    std::optional<std::string> stream;
    std::optional<std::uint64_t> from;   // position; absent: only new events
    std::optional<std::uint64_t> count;  // stop after this many events (scripts, tests)
};

int run_tail(const GlobalOptions& global, const TailOptions& options);

}  // namespace annal::cli
