// Structured logs: one JSON object per line on stderr ({"ts","level","msg",...fields}).
#pragma once

#include <nlohmann/json.hpp>

#include <string>

namespace annal::op::log {

void write(const char* level, const std::string& message, const nlohmann::json& fields);
inline void info(const std::string& message, const nlohmann::json& fields = {}) {
    write("info", message, fields);
}
inline void warn(const std::string& message, const nlohmann::json& fields = {}) {
    write("warn", message, fields);
}
inline void error(const std::string& message, const nlohmann::json& fields = {}) {
    write("error", message, fields);
}
// Fields added to every line (e.g. the operator's identity).
void set_global_field(const std::string& key, const nlohmann::json& value);

}  // namespace annal::op::log
