// Process exit codes of `annal`, distinct per kind of failure so scripts can branch on
// them (documented in node/cli/README.md).
#pragma once

#include <string>

#include "client/result.hpp"

namespace annal::cli {

enum ExitCode : int {
    kExitOk = 0,
    kExitFailure = 1,   // server error, unreachable server, I/O, anything else
    kExitUsage = 2,     // bad arguments, or input the server rejected as invalid (400/413)
    kExitConflict = 3,  // wrong expected version (409)
    kExitNotFound = 4,  // stream or route not found (404)
};

ExitCode exit_code_for(const client::Error& error);

// Prints "annal: <what>: <error>" as one line on stderr and returns its exit code.
int report_error(const std::string& what, const client::Error& error);
// Prints "annal: <message>" on stderr and returns kExitUsage.
int report_usage_error(const std::string& message);

}  // namespace annal::cli
