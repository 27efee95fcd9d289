#include "api/query_params.hpp"

namespace annal::api {
namespace {

int hex_value(char c) {
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }
    return -1;
}

}  // namespace

std::optional<std::string> percent_decode(std::string_view text) {
    std::string out;
    out.reserve(text.size());
    for (std::size_t i = 0; i < text.size(); ++i) {
        if (text[i] != '%') {
            out.push_back(text[i]);
            continue;
        }
        if (i + 2 >= text.size()) {
            return std::nullopt;
        }
        const int high = hex_value(text[i + 1]);
        const int low = hex_value(text[i + 2]);
        if (high < 0 || low < 0) {
            return std::nullopt;
        }
        out.push_back(static_cast<char>(high * 16 + low));
        i += 2;
    }
    return out;
}

Target split_target(std::string_view target) {
    const auto question = target.find('?');
    if (question == std::string_view::npos) {
        return {target, {}};
    }
    return {target.substr(0, question), target.substr(question + 1)};
}

std::optional<QueryParams> QueryParams::parse(std::string_view query, std::string& bad_name) {
    QueryParams params;
    while (!query.empty()) {
        const auto amp = query.find('&');
        const std::string_view pair = query.substr(0, amp);
        query = amp == std::string_view::npos ? std::string_view{} : query.substr(amp + 1);
        if (pair.empty()) {
            continue;
        }
        const auto equals = pair.find('=');
        const std::string_view raw_name = pair.substr(0, equals);
        const std::string_view raw_value =
            equals == std::string_view::npos ? std::string_view{} : pair.substr(equals + 1);
        auto name = percent_decode(raw_name);
        if (!name) {
            bad_name = std::string(raw_name);
            return std::nullopt;
        }
        auto value = percent_decode(raw_value);
        if (!value) {
            bad_name = *name;
            return std::nullopt;
        }
        params.entries_.emplace_back(std::move(*name), std::move(*value));
    }
    return params;
}

std::optional<std::string_view> QueryParams::get(std::string_view name) const {
    for (auto it = entries_.rbegin(); it != entries_.rend(); ++it) {
        if (it->first == name) {
            return std::string_view(it->second);
        }
    }
    return std::nullopt;
}

}  // namespace annal::api
