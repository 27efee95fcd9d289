// Options every `annal` subcommand shares.
#pragma once

#include <string>

namespace annal::cli {

struct GlobalOptions {
    std::string server = "http://127.0.0.1:2113";
    bool json = false;  // machine-readable output instead of tables
};

}  // namespace annal::cli
