#include "transport/peer_address.hpp"

#include <charconv>
#include <cstdint>

namespace annal::transport {

std::optional<HostPort> split_host_port(std::string_view address) {
    std::string_view host;
    std::string_view port;
    if (address.starts_with('[')) {
        const std::size_t close = address.find(']');
        if (close == std::string_view::npos || close + 1 >= address.size() ||
            address[close + 1] != ':') {
            return std::nullopt;
        }
        host = address.substr(1, close - 1);
        port = address.substr(close + 2);
    } else {
        const std::size_t colon = address.rfind(':');
        if (colon == std::string_view::npos) {
            return std::nullopt;
        }
        host = address.substr(0, colon);
        port = address.substr(colon + 1);
        // An unbracketed IPv6 literal is ambiguous ("::1:2113"): refuse it.
        if (host.find(':') != std::string_view::npos) {
            return std::nullopt;
        }
    }
    if (host.empty() || port.empty() || port.size() > 5) {
        return std::nullopt;
    }
    std::uint32_t number = 0;
    const auto [end, error] = std::from_chars(port.data(), port.data() + port.size(), number);
    if (error != std::errc{} || end != port.data() + port.size() || number == 0 || number > 65535) {
        return std::nullopt;
    }
    return HostPort{std::string(host), std::string(port)};
}

}  // namespace annal::transport
