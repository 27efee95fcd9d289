// Where a node listens, parsed from a URL such as "http://127.0.0.1:2113".
#pragma once

#include <optional>
#include <string>

namespace annal::client {

struct Endpoint {
    std::string host = "127.0.0.1";
    std::string port = "2113";

    // Accepts "http://host[:port][/]" and "host[:port]"; https is not supported yet.
    static std::optional<Endpoint> parse(const std::string& url, std::string& error);
    std::string to_url() const { return "http://" + host + ":" + port; }
};

}  // namespace annal::client
