#include "op/logger.hpp"

#include <chrono>
#include <cstdio>
#include <mutex>

#include "kube/time_format.hpp"

namespace annal::op::log {
namespace {

std::mutex& log_mutex() {
    static std::mutex m;
    return m;
}

nlohmann::json& global_fields() {
    static nlohmann::json fields = nlohmann::json::object();
    return fields;
}

Sink& sink() {
    static Sink s;
    return s;
}

}  // namespace

void set_sink(Sink new_sink) {
    std::lock_guard lock(log_mutex());
    sink() = std::move(new_sink);
}

void set_global_field(const std::string& key, const nlohmann::json& value) {
    std::lock_guard lock(log_mutex());
    global_fields()[key] = value;
}

void write(const char* level, const std::string& message, const nlohmann::json& fields) {
    nlohmann::json line = {{"ts", kube::format_micro_time(std::chrono::system_clock::now())},
                           {"level", level},
                           {"msg", message}};
    std::lock_guard lock(log_mutex());
    for (const auto& [k, v] : global_fields().items())
        line[k] = v;
    if (fields.is_object()) {
        for (const auto& [k, v] : fields.items())
            line[k] = v;
    }
    // Replace invalid UTF-8 (e.g. from a server error body) instead of throwing.
    const std::string text = line.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    if (sink()) {
        sink()(text);
        return;
    }
    std::fprintf(stderr, "%s\n", text.c_str());
    std::fflush(stderr);
}

}  // namespace annal::op::log
