#include "api/json_writer.hpp"

#include <charconv>

#include "api/base64.hpp"
#include "api/timestamp.hpp"
#include "storage/event_store.hpp"

namespace annal::api {

void append_json_string(std::string_view text, std::string& out) {
    static constexpr char kHex[] = "0123456789abcdef";
    out.push_back('"');
    std::size_t run_start = 0;
    for (std::size_t i = 0; i < text.size(); ++i) {
        const auto c = static_cast<unsigned char>(text[i]);
        if (c >= 0x20 && c != '"' && c != '\\') {
            continue;
        }
        out.append(text.substr(run_start, i - run_start));
        run_start = i + 1;
        switch (c) {
            case '"':
                out.append("\\\"");
                break;
            case '\\':
                out.append("\\\\");
                break;
            case '\n':
                out.append("\\n");
                break;
            case '\r':
                out.append("\\r");
                break;
            case '\t':
                out.append("\\t");
                break;
            default:
                out.append("\\u00");
                out.push_back(kHex[c >> 4]);
                out.push_back(kHex[c & 0x0f]);
                break;
        }
    }
    out.append(text.substr(run_start));
    out.push_back('"');
}

void append_json_uint(std::uint64_t value, std::string& out) {
    char digits[24];
    const auto result = std::to_chars(digits, digits + sizeof(digits), value);
    out.append(digits, result.ptr);
}

void append_json_int(std::int64_t value, std::string& out) {
    char digits[24];
    const auto result = std::to_chars(digits, digits + sizeof(digits), value);
    out.append(digits, result.ptr);
}

void append_json_optional_uint(const std::optional<std::uint64_t>& value, std::string& out) {
    if (value) {
        append_json_uint(*value, out);
    } else {
        out.append("null");
    }
}

void append_event_json(const storage::StoredEvent& event, std::string& out) {
    out.append("{\"position\":");
    append_json_uint(event.position, out);
    out.append(",\"stream\":");
    append_json_string(event.stream, out);
    out.append(",\"version\":");
    append_json_uint(event.version, out);
    out.append(",\"id\":");
    append_json_string(event.id, out);
    out.append(",\"type\":");
    append_json_string(event.type, out);
    out.append(",\"timestamp\":\"");
    format_rfc3339_us_append(event.timestamp_us, out);
    out.append("\",\"timestamp_us\":");
    append_json_int(event.timestamp_us, out);
    if (event.data_is_json) {
        out.append(",\"data\":");
        out.append(event.data.empty() ? std::string_view("null") : std::string_view(event.data));
    } else {
        out.append(",\"data_base64\":\"");
        base64_encode_append(event.data, out);
        out.push_back('"');
    }
    out.append(",\"metadata\":");
    out.append(event.metadata.empty() ? std::string_view("null")
                                      : std::string_view(event.metadata));
    out.push_back('}');
}

}  // namespace annal::api
