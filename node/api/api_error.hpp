// The error answer every endpoint uses: an HTTP status and the body
// {"error": "<code>", "message": "<text>"} (plus `current_version` for 409).
#pragma once

#include <cstdint>
#include <optional>
#include <string>

namespace annal::api {

struct ApiError {
    unsigned status = 400;
    std::string code;
    std::string message;
    // Only for wrong_expected_version: the stream's version now (null if no stream).
    bool has_current_version = false;
    std::optional<std::uint64_t> current_version;
};

std::string error_body(const ApiError& error);

}  // namespace annal::api
