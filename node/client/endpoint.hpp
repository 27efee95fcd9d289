// Where a node listens, parsed from a URL such as "http://127.0.0.1:2113" or
// "https://annal-0.annal:2113".
#pragma once

#include <optional>
#include <string>

namespace annal::client {

struct Endpoint {
    std::string host = "127.0.0.1";
    std::string port = "2113";
    bool tls = false;  // https

    // Accepts "http://host[:port][/]", "https://host[:port][/]" and "host[:port]" (http).
    static std::optional<Endpoint> parse(const std::string& url, std::string& error);
    std::string to_url() const {
        const bool ipv6 = host.find(':') != std::string::npos;
        return (tls ? "https://" : "http://") + (ipv6 ? "[" + host + "]" : host) + ":" + port;
    }
};

}  // namespace annal::client
