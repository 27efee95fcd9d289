// The textual forms of cluster membership in the node's settings: "host:port" addresses
// and the `initial_cluster` list "1=10.0.0.1:2113,2=10.0.0.2:2113,...".
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace annal::api {

struct HostPort {
    std::string host;  // a name, an IPv4 address, or an IPv6 address without brackets
    std::uint16_t port = 0;
};

// Accepts "name:port", "1.2.3.4:port" and "[::1]:port"; the port must be 1..65535.
bool parse_host_port(std::string_view text, HostPort& out, std::string& error);

struct ClusterMember {
    std::uint64_t id = 0;
    std::string address;  // "host:port" as written
};

// Parses "id=host:port,..." (spaces around items allowed). Ids must be >= 1 and unique,
// addresses valid and unique. An empty text is an error: there is no cluster to form.
bool parse_initial_cluster(std::string_view text, std::vector<ClusterMember>& out,
                           std::string& error);

std::string format_initial_cluster(const std::vector<ClusterMember>& members);

}  // namespace annal::api
