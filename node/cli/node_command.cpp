#include "cli/node_command.hpp"

#include <CLI/CLI.hpp>
#include <iostream>

#include "api/kubernetes_cluster_file.hpp"
#include "api/node_runner.hpp"
#include "cli/exit_code.hpp"

namespace annal::cli {

namespace {

template <typename T>
void add_config_flag(CLI::App& command, api::NodeConfig& flag_values,
                     std::vector<std::function<void(api::NodeConfig&)>>& overrides,
                     const std::string& name, T api::NodeConfig::*field, const std::string& help,
                     bool is_size = false) {
    auto* option = command.add_option(name, flag_values.*field, help)->capture_default_str();
    if (is_size) {
        // Accepts 4MiB, 1GiB, 512KiB, or plain bytes.
        option->transform(CLI::AsSizeValue(false));
    }
    overrides.push_back([option, field, &flag_values](api::NodeConfig& config) {
        if (option->count() > 0) {
            config.*field = flag_values.*field;
        }
    });
}

}  // namespace

NodeCommand::NodeCommand(CLI::App& parent) {
    command_ = parent.add_subcommand("node", "Run an Annal node (until SIGTERM/SIGINT)");
    auto& c = *command_;
    c.add_option("--config", config_file_, "YAML file with node settings (flags override it)")
        ->check(CLI::ExistingFile);
    auto& v = flag_values_;
    auto& o = overrides_;
    add_config_flag(c, v, o, "--data-dir", &api::NodeConfig::data_dir, "Data directory");
    add_config_flag(c, v, o, "--listen-address", &api::NodeConfig::listen_address,
                    "Address to listen on");
    add_config_flag(c, v, o, "--listen-port", &api::NodeConfig::listen_port, "Port to listen on");
    add_config_flag(c, v, o, "--io-threads", &api::NodeConfig::io_threads, "HTTP worker threads");
    add_config_flag(c, v, o, "--max-body-bytes", &api::NodeConfig::max_body_bytes,
                    "Larger request bodies get 413", true);
    add_config_flag(c, v, o, "--max-map-bytes", &api::NodeConfig::max_map_bytes,
                    "Storage stops growing here (then appends get 507)", true);
    add_config_flag(c, v, o, "--initial-map-bytes", &api::NodeConfig::initial_map_bytes,
                    "Initial LMDB map size", true);
    add_config_flag(c, v, o, "--fsync", &api::NodeConfig::fsync,
                    "Make every acknowledged append durable (false only for throwaway runs)");
    add_config_flag(c, v, o, "--max-read-limit", &api::NodeConfig::max_read_limit,
                    "Most events one read returns");
    add_config_flag(c, v, o, "--subscriber-buffer-events",
                    &api::NodeConfig::subscriber_buffer_events,
                    "Events buffered per live subscriber before it falls back to catch-up");
    add_config_flag(c, v, o, "--shutdown-grace-ms", &api::NodeConfig::shutdown_grace_ms,
                    "How long in-flight requests may take on shutdown");
    add_config_flag(c, v, o, "--node-id", &api::NodeConfig::node_id,
                    "This node's id in the cluster (>= 1; must be in --initial-cluster)");
    add_config_flag(c, v, o, "--cluster-id", &api::NodeConfig::cluster_id,
                    "Cluster name; peers of other clusters are refused");
    add_config_flag(c, v, o, "--initial-cluster", &api::NodeConfig::initial_cluster,
                    "Members at first start: 1=host:port,2=host:port,... (empty: standalone)");
    add_config_flag(c, v, o, "--advertise-address", &api::NodeConfig::advertise_address,
                    "host:port peers and redirected clients use (default: listen address)");
    add_config_flag(c, v, o, "--join", &api::NodeConfig::join,
                    "Start without membership; wait to be added as a learner by the leader");
    add_config_flag(c, v, o, "--tick-ms", &api::NodeConfig::tick_ms, "Raft tick interval");
    add_config_flag(c, v, o, "--election-ticks", &api::NodeConfig::election_ticks,
                    "Ticks without a leader before an election (randomized up to 2x)");
    add_config_flag(c, v, o, "--heartbeat-ticks", &api::NodeConfig::heartbeat_ticks,
                    "Ticks between leader heartbeats");
    add_config_flag(c, v, o, "--log-retain-entries", &api::NodeConfig::log_retain_entries,
                    "Raft log entries kept behind the applied index for lagging followers");
    add_config_flag(c, v, o, "--apply-commit-ms", &api::NodeConfig::apply_commit_ms,
                    "Longest wait of applied entries for the commit that shows them to reads "
                    "and subscriptions (appends are answered before it)");
    add_config_flag(c, v, o, "--max-inflight-appends", &api::NodeConfig::max_inflight_appends,
                    "Unacknowledged AppendEntries per follower; more wait and go out together");
#ifdef ANNAL_CEILING_EXPERIMENTS
    add_config_flag(c, v, o, "--ceiling-follower", &api::NodeConfig::ceiling_follower,
                    "BENCHMARK ONLY, breaks durability: what followers leave out "
                    "(skip-sync,skip-apply)");
#endif
    add_config_flag(c, v, o, "--tls-cert-file", &api::NodeConfig::tls_cert_file,
                    "PEM certificate chain: TLS for clients, client certificate for peers");
    add_config_flag(c, v, o, "--tls-key-file", &api::NodeConfig::tls_key_file,
                    "PEM private key of --tls-cert-file");
    add_config_flag(c, v, o, "--tls-ca-file", &api::NodeConfig::tls_ca_file,
                    "PEM cluster CA: peers must present a certificate it signed");
}

int NodeCommand::run() const {
    api::NodeConfig config;
    if (!config_file_.empty()) {
        std::string error;
        if (!api::load_node_config(config_file_, config, error)) {
            return report_usage_error("node: " + error);
        }
    }
    for (const auto& apply : overrides_) {
        apply(config);
    }
    std::string error;
    if (!api::apply_kubernetes_environment(config, error) ||
        !api::finalize_node_config(config, error)) {
        return report_usage_error("node: " + error);
    }
    return api::run_node(config);
}

}  // namespace annal::cli
