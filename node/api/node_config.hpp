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
};

// Parses a YAML config file into `config` (fields absent from the file keep their
// current values). Returns false and sets `error` ("file:line: what") on failure.
bool load_node_config(const std::string& path, NodeConfig& config, std::string& error);

}  // namespace annal::api
