// Splits a peer address "host:port" ("[v6]:port" for IPv6 literals) for the resolver.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace annal::transport {

struct HostPort {
    std::string host;
    std::string port;  // decimal, 1..65535
};

// nullopt when the host is empty or the port is not a number in 1..65535.
std::optional<HostPort> split_host_port(std::string_view address);

}  // namespace annal::transport
