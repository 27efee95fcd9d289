#include "cli/exit_code.hpp"

#include <iostream>

namespace annal::cli {

ExitCode exit_code_for(const client::Error& error) {
    if (error.kind != client::Error::Kind::Http) {
        return kExitFailure;
    }
    switch (error.http_status) {
        case 400:
        case 413:
            return kExitUsage;
        case 404:
            return kExitNotFound;
        case 409:
            return kExitConflict;
        default:
            return kExitFailure;
    }
}

int report_error(const std::string& what, const client::Error& error) {
    std::cerr << "annal: " << what << ": " << error.describe() << '\n';
    return exit_code_for(error);
}

int report_usage_error(const std::string& message) {
    std::cerr << "annal: " << message << '\n';
    return kExitUsage;
}

}  // namespace annal::cli
