// `annal read STREAM` (a stream by version), `annal read --all` (the global log by
// position) and `annal read --since TS --until TS` (a time range). Pages through the
// server's replies until --limit events were printed or the end is reached.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

#include "cli/global_options.hpp"

namespace annal::cli {

struct ReadOptions {
    std::optional<std::string> stream;
    bool all = false;
    std::optional<std::string> since;  // RFC 3339 or microseconds
    std::optional<std::string> until;
    std::optional<std::uint64_t> from;  // version (stream) or position (--all)
    bool backwards = false;
    std::optional<std::size_t> limit;  // total events to print; all when absent
    std::size_t page_size = 1000;
};

int run_read(const GlobalOptions& global, const ReadOptions& options);

}  // namespace annal::cli
