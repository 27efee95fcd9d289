#include "client/endpoint.hpp"

#include <charconv>

namespace annal::client {

std::optional<Endpoint> Endpoint::parse(const std::string& url, std::string& error) {
    std::string rest = url;
    bool tls = false;
    if (rest.rfind("http://", 0) == 0) {
        rest = rest.substr(7);
    } else if (rest.rfind("https://", 0) == 0) {
        rest = rest.substr(8);
        tls = true;
    } else if (rest.find("://") != std::string::npos) {
        error = "unsupported URL scheme in '" + url + "' (use http:// or https://)";
        return std::nullopt;
    }
    while (!rest.empty() && rest.back() == '/') {
        rest.pop_back();
    }
    if (rest.find('/') != std::string::npos) {
        error = "URL '" + url + "' must not have a path";
        return std::nullopt;
    }
    Endpoint endpoint;
    endpoint.tls = tls;
    // "[::1]:2113" keeps its brackets out of the host; a bare host keeps the default port.
    std::string::size_type colon = std::string::npos;
    if (!rest.empty() && rest.front() == '[') {
        const auto close = rest.find(']');
        if (close == std::string::npos) {
            error = "unterminated '[' in URL '" + url + "'";
            return std::nullopt;
        }
        endpoint.host = rest.substr(1, close - 1);
        if (close + 1 < rest.size()) {
            colon = close + 1;
        }
    } else {
        colon = rest.rfind(':');
        endpoint.host = rest.substr(0, colon);
    }
    if (colon != std::string::npos) {
        if (rest[colon] != ':') {
            error = "bad URL '" + url + "'";
            return std::nullopt;
        }
        endpoint.port = rest.substr(colon + 1);
        unsigned port = 0;
        const auto* first = endpoint.port.data();
        const auto* last = first + endpoint.port.size();
        const auto [end, ec] = std::from_chars(first, last, port);
        if (ec != std::errc{} || end != last || port == 0 || port > 65535) {
            error = "bad port in URL '" + url + "'";
            return std::nullopt;
        }
    }
    if (endpoint.host.empty()) {
        error = "missing host in URL '" + url + "'";
        return std::nullopt;
    }
    return endpoint;
}

}  // namespace annal::client
