// Request targets: splitting "/path?query", percent-decoding, and looking up parameters.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace annal::api {

// Decodes %XX escapes. '+' stays '+' (RFC 3986): timestamps like "...+01:00" in a query
// must not turn into spaces. nullopt on a truncated or non-hex escape.
std::optional<std::string> percent_decode(std::string_view text);

struct Target {
    std::string_view path;   // still percent-encoded
    std::string_view query;  // after '?', without it; empty if none
};
Target split_target(std::string_view target);

class QueryParams {
  public:
    // Parses "a=1&b=2"; a key without '=' has an empty value. Returns nullopt (and names
    // the offending parameter in `bad_name`) on an undecodable escape.
    static std::optional<QueryParams> parse(std::string_view query, std::string& bad_name);

    // The last value given for `name`, if any.
    std::optional<std::string_view> get(std::string_view name) const;

  private:
    std::vector<std::pair<std::string, std::string>> entries_;
};

}  // namespace annal::api
