#include "api/node_config.hpp"

#include "api/initial_cluster.hpp"

#include <yaml-cpp/yaml.h>

#include <fstream>
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
    const auto boolean = [](bool& field) {
        return Setter([&field](const YAML::Node& node, std::string& what) {
            if (!node.IsScalar() || !YAML::convert<bool>::decode(node, field)) {
                what = "expected true or false";
                return false;
            }
            return true;
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
        {"fsync", boolean(result.fsync)},
        {"max_read_limit", integer(result.max_read_limit)},
        {"subscriber_buffer_events", integer(result.subscriber_buffer_events)},
        {"shutdown_grace_ms", integer(result.shutdown_grace_ms)},
        {"node_id", integer(result.node_id)},
        {"cluster_id", text(result.cluster_id)},
        {"initial_cluster", text(result.initial_cluster)},
        {"advertise_address", text(result.advertise_address)},
        {"join", boolean(result.join)},
        {"tick_ms", integer(result.tick_ms)},
        {"election_ticks", integer(result.election_ticks)},
        {"heartbeat_ticks", integer(result.heartbeat_ticks)},
        {"log_retain_entries", integer(result.log_retain_entries)},
        {"apply_commit_ms", integer(result.apply_commit_ms)},
        {"max_inflight_appends", integer(result.max_inflight_appends)},
        {"tls_cert_file", text(result.tls_cert_file)},
        {"tls_key_file", text(result.tls_key_file)},
        {"tls_ca_file", text(result.tls_ca_file)},
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

bool is_cluster_mode(const NodeConfig& config) {
    return !config.initial_cluster.empty() || config.join;
}

bool tls_enabled(const NodeConfig& config) {
    return !config.tls_cert_file.empty();
}

namespace {

// All three TLS files or none, each readable: a typo should stop the node at start with
// the file's name, not show up later as every peer refusing it.
bool check_tls_files(const NodeConfig& config, std::string& error) {
    const std::pair<const char*, const std::string*> files[] = {
        {"tls_cert_file", &config.tls_cert_file},
        {"tls_key_file", &config.tls_key_file},
        {"tls_ca_file", &config.tls_ca_file}};
    std::size_t set = 0;
    for (const auto& [name, path] : files) {
        set += path->empty() ? 0 : 1;
    }
    if (set == 0) {
        return true;
    }
    if (set != 3) {
        std::string missing;
        for (const auto& [name, path] : files) {
            if (path->empty()) {
                missing += (missing.empty() ? "" : ", ") + std::string(name);
            }
        }
        error =
            "TLS needs tls_cert_file, tls_key_file and tls_ca_file together (missing: " + missing +
            ")";
        return false;
    }
    for (const auto& [name, path] : files) {
        if (!std::ifstream(*path).good()) {
            error = std::string(name) + ": cannot read '" + *path + "'";
            return false;
        }
    }
    return true;
}

}  // namespace

bool finalize_node_config(NodeConfig& config, std::string& error) {
    if (!check_tls_files(config, error)) {
        return false;
    }
    if (config.io_threads == 0) {
        error = "io_threads must be at least 1";
        return false;
    }
    if (config.max_read_limit == 0) {
        error = "max_read_limit must be at least 1";
        return false;
    }
    if (!is_cluster_mode(config)) {
        return true;
    }
    if (config.node_id == 0) {
        error = "node_id must be at least 1 in a cluster (initial_cluster or join is set)";
        return false;
    }
    if (config.cluster_id.empty()) {
        error = "cluster_id must not be empty";
        return false;
    }
    if (config.tick_ms == 0 || config.election_ticks == 0 || config.heartbeat_ticks == 0) {
        error = "tick_ms, election_ticks and heartbeat_ticks must be at least 1";
        return false;
    }
    if (config.max_inflight_appends == 0) {
        error = "max_inflight_appends must be at least 1";
        return false;
    }
    if (config.heartbeat_ticks >= config.election_ticks) {
        error = "heartbeat_ticks (" + std::to_string(config.heartbeat_ticks) +
                ") must be smaller than election_ticks (" + std::to_string(config.election_ticks) +
                ")";
        return false;
    }
    if (config.join && config.initial_cluster.empty()) {
        error =
            "join needs initial_cluster to list the existing members (id=host:port,...): the "
            "joining node gets its membership from the leader, but must know where to answer";
        return false;
    }
    if (config.advertise_address.empty()) {
        if (config.listen_address == "0.0.0.0" || config.listen_address == "::") {
            error = "advertise_address is required when listening on " + config.listen_address +
                    " (other nodes cannot dial a wildcard address)";
            return false;
        }
        const bool ipv6 = config.listen_address.find(':') != std::string::npos;
        config.advertise_address =
            (ipv6 ? "[" + config.listen_address + "]" : config.listen_address) + ":" +
            std::to_string(config.listen_port);
    }
    HostPort advertised;
    if (!parse_host_port(config.advertise_address, advertised, error)) {
        error = "advertise_address: " + error;
        return false;
    }
    std::vector<ClusterMember> members;
    if (!parse_initial_cluster(config.initial_cluster, members, error)) {
        error = "initial_cluster: " + error;
        return false;
    }
    if (config.join) {
        return true;  // the list is an address book of the members to join
    }
    for (const auto& member : members) {
        if (member.id == config.node_id) {
            return true;
        }
    }
    error = "node_id " + std::to_string(config.node_id) + " is not in initial_cluster '" +
            config.initial_cluster + "'";
    return false;
}

}  // namespace annal::api
