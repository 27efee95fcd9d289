#include "api/node_config.hpp"

#include <yaml-cpp/yaml.h>

#include <functional>
#include <limits>
#include <map>

namespace annal::api {
namespace {

std::string where(const std::string& path, const YAML::Mark& mark) {
    if (mark.is_null()) {
        return path;
    }
    return path + ":" + std::to_string(mark.line + 1);
}

template <typename Integer>
bool read_integer(const YAML::Node& node, Integer& out, std::string& what) {
    // Read through a wider type so "-1" or "70000" for a port is a range error rather
    // than a silent wrap-around.
    long long value = 0;
    if (!YAML::convert<long long>::decode(node, value)) {
        what = "expected an integer";
        return false;
    }
    if (value < 0 || static_cast<unsigned long long>(value) >
                         static_cast<unsigned long long>(std::numeric_limits<Integer>::max())) {
        what = "integer out of range";
        return false;
    }
    out = static_cast<Integer>(value);
    return true;
}

}  // namespace

bool load_node_config(const std::string& path, NodeConfig& config, std::string& error) {
    YAML::Node root;
    try {
        root = YAML::LoadFile(path);
    } catch (const YAML::BadFile&) {
        error = path + ": cannot open file";
        return false;
    } catch (const YAML::Exception& exception) {
        error = where(path, exception.mark) + ": " + exception.msg;
        return false;
    }
    if (root.IsNull()) {
        return true;  // an empty file changes nothing
    }
    if (!root.IsMap()) {
        error = where(path, root.Mark()) + ": expected a mapping of option: value";
        return false;
    }

    NodeConfig result = config;
    using Setter = std::function<bool(const YAML::Node&, std::string&)>;
    const auto text = [](std::string& field) {
        return Setter([&field](const YAML::Node& node, std::string& what) {
            if (!node.IsScalar()) {
                what = "expected a string";
                return false;
            }
            field = node.Scalar();
            return true;
        });
    };
    const auto integer = [](auto& field) {
        return Setter([&field](const YAML::Node& node, std::string& what) {
            return node.IsScalar() && read_integer(node, field, what);
        });
    };
    const std::map<std::string, Setter> setters = {
        {"data_dir", text(result.data_dir)},
        {"listen_address", text(result.listen_address)},
        {"listen_port", integer(result.listen_port)},
        {"io_threads", integer(result.io_threads)},
        {"max_body_bytes", integer(result.max_body_bytes)},
        {"max_map_bytes", integer(result.max_map_bytes)},
        {"initial_map_bytes", integer(result.initial_map_bytes)},
        {"fsync", Setter([&result](const YAML::Node& node, std::string& what) {
             if (!node.IsScalar() || !YAML::convert<bool>::decode(node, result.fsync)) {
                 what = "expected true or false";
                 return false;
             }
             return true;
         })},
        {"max_read_limit", integer(result.max_read_limit)},
        {"subscriber_buffer_events", integer(result.subscriber_buffer_events)},
        {"shutdown_grace_ms", integer(result.shutdown_grace_ms)},
    };

    for (const auto& entry : root) {
        const std::string key = entry.first.IsScalar() ? entry.first.Scalar() : std::string();
        const auto setter = setters.find(key);
        if (setter == setters.end()) {
            error = where(path, entry.first.Mark()) + ": unknown option '" + key + "'";
            return false;
        }
        std::string what = "expected a scalar value";
        if (!setter->second(entry.second, what)) {
            error = where(path, entry.second.Mark()) + ": " + key + ": " + what;
            return false;
        }
    }
    if (result.io_threads == 0) {
        error = path + ": io_threads must be at least 1";
        return false;
    }
    if (result.max_read_limit == 0) {
        error = path + ": max_read_limit must be at least 1";
        return false;
    }
    config = std::move(result);
    return true;
}

}  // namespace annal::api
