// `annal append STREAM`: appends one event (--type/--data) or every event of an NDJSON
// file (--file, one event object per line) to a stream.
#pragma once

#include <cstddef>
#include <optional>
#include <string>

#include "cli/global_options.hpp"

namespace annal::cli {

struct AppendOptions {
    std::string stream;
    std::string expected_version = "any";
    std::optional<std::string> type;
    std::optional<std::string> data;  // JSON text
    std::optional<std::string> metadata;
    std::optional<std::string> id;
    std::optional<std::string> file;  // NDJSON, "-" for stdin
    // A file is sent in requests of at most this many events / bytes; each request is
    // atomic, and later requests expect the version the previous one left, so the file
    // lands contiguously or the command stops at the first conflict.
    std::size_t batch_events = 500;
    std::size_t batch_bytes = 1u << 20;
};

int run_append(const GlobalOptions& global, const AppendOptions& options);

}  // namespace annal::cli
