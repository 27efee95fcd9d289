// Structured logs: one JSON object per line on stderr ({"ts","level","msg",...fields}).
#pragma once

#include <nlohmann/json.hpp>

#include <functional>
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
// Where lines go instead of stderr (an empty sink restores stderr). Called under the
// logger's lock, one complete line (without newline) at a time; it must not log itself.
// Tests use it to keep quiet and show the lines only of a test that fails.
using Sink = std::function<void(const std::string& line)>;
void set_sink(Sink sink);
// Fields added to every line (e.g. the operator's identity).
void set_global_field(const std::string& key, const nlohmann::json& value);

}  // namespace annal::op::log
