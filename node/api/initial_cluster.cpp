#include "api/initial_cluster.hpp"

#include <algorithm>
#include <charconv>
#include <set>

namespace annal::api {
namespace {

std::string_view trim(std::string_view text) {
    const auto first = text.find_first_not_of(" \t");
    if (first == std::string_view::npos) {
        return {};
    }
    const auto last = text.find_last_not_of(" \t");
    return text.substr(first, last - first + 1);
}

template <typename Integer>
bool parse_decimal(std::string_view text, Integer& value) {
    if (text.empty()) {
        return false;
    }
    const auto [end, status] = std::from_chars(text.data(), text.data() + text.size(), value);
    return status == std::errc() && end == text.data() + text.size();
}

}  // namespace

bool parse_host_port(std::string_view text, HostPort& out, std::string& error) {
    std::string_view host;
    std::string_view port_text;
    if (!text.empty() && text.front() == '[') {
        const auto close = text.find(']');
        if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':') {
            error = "'" + std::string(text) + "' is not [ipv6]:port";
            return false;
        }
        host = text.substr(1, close - 1);
        port_text = text.substr(close + 2);
    } else {
        const auto colon = text.rfind(':');
        if (colon == std::string_view::npos) {
            error = "'" + std::string(text) + "' has no port (expected host:port)";
            return false;
        }
        host = text.substr(0, colon);
        port_text = text.substr(colon + 1);
        if (host.find(':') != std::string_view::npos) {
            error = "'" + std::string(text) + "': write IPv6 addresses as [address]:port";
            return false;
        }
    }
    if (host.empty() || host.find_first_of(" \t/,=") != std::string_view::npos) {
        error = "'" + std::string(text) + "' has no valid host";
        return false;
    }
    std::uint32_t port = 0;
    if (!parse_decimal(port_text, port) || port == 0 || port > 65535) {
        error = "'" + std::string(text) + "' has no valid port (1..65535)";
        return false;
    }
    out.host = std::string(host);
    out.port = static_cast<std::uint16_t>(port);
    return true;
}

bool parse_initial_cluster(std::string_view text, std::vector<ClusterMember>& out,
                           std::string& error) {
    std::vector<ClusterMember> members;
    std::set<std::uint64_t> ids;
    std::set<std::string> addresses;
    std::size_t start = 0;
    while (start <= text.size()) {
        const auto comma = std::min(text.find(',', start), text.size());
        const std::string_view item = trim(text.substr(start, comma - start));
        start = comma + 1;
        if (item.empty()) {
            error = "empty member (expected id=host:port, comma-separated)";
            return false;
        }
        const auto equals = item.find('=');
        if (equals == std::string_view::npos) {
            error = "'" + std::string(item) + "' is not id=host:port";
            return false;
        }
        ClusterMember member;
        if (!parse_decimal(trim(item.substr(0, equals)), member.id) || member.id == 0) {
            error = "'" + std::string(item) + "': the id must be an integer >= 1";
            return false;
        }
        member.address = std::string(trim(item.substr(equals + 1)));
        HostPort ignored;
        if (!parse_host_port(member.address, ignored, error)) {
            return false;
        }
        if (!ids.insert(member.id).second) {
            error = "node id " + std::to_string(member.id) + " appears twice";
            return false;
        }
        if (!addresses.insert(member.address).second) {
            error = "address " + member.address + " appears twice";
            return false;
        }
        members.push_back(std::move(member));
    }
    out = std::move(members);
    return true;
}

std::string format_initial_cluster(const std::vector<ClusterMember>& members) {
    std::string out;
    for (const auto& member : members) {
        if (!out.empty()) {
            out += ',';
        }
        out += std::to_string(member.id) + "=" + member.address;
    }
    return out;
}

}  // namespace annal::api
