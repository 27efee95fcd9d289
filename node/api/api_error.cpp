#include "api/api_error.hpp"

#include "api/json_writer.hpp"

namespace annal::api {

std::string error_body(const ApiError& error) {
    std::string body;
    body.reserve(48 + error.code.size() + error.message.size());
    body.append("{\"error\":");
    append_json_string(error.code, body);
    body.append(",\"message\":");
    append_json_string(error.message, body);
    if (error.has_current_version) {
        body.append(",\"current_version\":");
        append_json_optional_uint(error.current_version, body);
    }
    body.push_back('}');
    return body;
}

}  // namespace annal::api
