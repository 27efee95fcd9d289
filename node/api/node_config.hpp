// Configuration of one `annal node` process. Every field can come from a YAML file
// (keys are the field names below, e.g. `listen_port: 2113`) and be overridden by a
// command-line flag of the same name with dashes (`--listen-port 2113`); the CLI owns
// the flags, this header owns the meaning and the defaults.
#pragma once

#include <cstdint>
#include <string>

namespace annal::api {

struct NodeConfig {
    std::string data_dir = "./annal-data";
    std::string listen_address = "127.0.0.1";
    std::uint16_t listen_port = 2113;
    unsigned io_threads = 2;                    // HTTP worker threads
    std::uint64_t max_body_bytes = 4ull << 20;  // larger request bodies get 413
    std::uint64_t max_map_bytes = 1ull << 40;   // storage stops growing here (507)
    std::uint64_t initial_map_bytes = 64ull << 20;
    bool fsync = true;                            // false only for throwaway runs
    std::size_t max_read_limit = 4096;            // events per read request
    std::size_t subscriber_buffer_events = 1024;  // per live subscriber, see docs/API.md
    unsigned shutdown_grace_ms = 10000;           // in-flight requests get this long

    // Cluster membership (docs/API.md "Cluster"). With an empty `initial_cluster` and
    // `join: false` the node runs standalone, exactly as a single-node store.
    std::uint64_t node_id = 0;         // >= 1 in a cluster; must appear in initial_cluster
    std::string cluster_id = "annal";  // peers of other clusters are rejected
    // "1=127.0.0.1:2113,2=127.0.0.1:2114,3=127.0.0.1:2115"
    std::string initial_cluster;
    // "host:port" other nodes and redirected clients use; empty: listen_address:listen_port.
    std::string advertise_address;
    bool join = false;  // start with no membership; wait to be added through the admin API
    std::uint32_t tick_ms = 100;
    std::uint32_t election_ticks = 10;
    std::uint32_t heartbeat_ticks = 1;
    std::uint64_t log_retain_entries = 50000;  // Raft log tail kept behind the applied index
    // Longest wait of applied entries for the LMDB commit that makes them visible to reads
    // and subscriptions (appends are answered before it; see ReplicatedStoreOptions).
    std::uint32_t apply_commit_ms = 10;
    // AppendEntries per follower in flight (see ReplicatedStoreOptions); >= 1.
    std::uint32_t max_inflight_appends = 2;
    // Benchmark only, and only in builds configured with ANNAL_CEILING_EXPERIMENTS=ON (no
    // YAML key): "skip-sync", "skip-apply" or "skip-sync,skip-apply" -- what a follower of
    // a benchmark cluster leaves out (ReplicatedStoreOptions::Testing; breaks durability).
    std::string ceiling_follower;

    // TLS on the one port: all three PEM files, or none for plain TCP. With them, clients
    // connect with https:// and peers must present a certificate from the CA in
    // tls_ca_file (mutual TLS); this node's certificate is also its client certificate.
    std::string tls_cert_file;  // certificate chain, leaf first
    std::string tls_key_file;
    std::string tls_ca_file;  // the cluster CA
};

// True when the TLS files are set (finalize_node_config checked they come together).
bool tls_enabled(const NodeConfig& config);

// True when the node runs as a member (or joiner) of a replicated cluster.
bool is_cluster_mode(const NodeConfig& config);

// Parses a YAML config file into `config` (fields absent from the file keep their
// current values). Returns false and sets `error` ("file:line: what") on failure.
bool load_node_config(const std::string& path, NodeConfig& config, std::string& error);

// Completes and checks the cluster settings after the file and the flags were applied:
// fills advertise_address when empty, and refuses what cannot work (node_id missing from
// initial_cluster, unparsable addresses, zero ticks, ...). `error` says which setting.
bool finalize_node_config(NodeConfig& config, std::string& error);

}  // namespace annal::api
