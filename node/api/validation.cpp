#include "api/validation.hpp"

#include <cstdint>

namespace annal::api {
namespace {

// Decodes the code point at `pos`; returns its byte length, or 0 if malformed.
std::size_t decode_utf8(std::string_view text, std::size_t pos, std::uint32_t& code_point) {
    const auto byte = [&](std::size_t i) { return static_cast<unsigned char>(text[i]); };
    const unsigned char lead = byte(pos);
    std::size_t length = 0;
    std::uint32_t minimum = 0;
    if (lead < 0x80) {
        code_point = lead;
        return 1;
    }
    if ((lead & 0xe0) == 0xc0) {
        length = 2;
        code_point = lead & 0x1f;
        minimum = 0x80;
    } else if ((lead & 0xf0) == 0xe0) {
        length = 3;
        code_point = lead & 0x0f;
        minimum = 0x800;
    } else if ((lead & 0xf8) == 0xf0) {
        length = 4;
        code_point = lead & 0x07;
        minimum = 0x10000;
    } else {
        return 0;
    }
    if (pos + length > text.size()) {
        return 0;
    }
    for (std::size_t i = 1; i < length; ++i) {
        const unsigned char continuation = byte(pos + i);
        if ((continuation & 0xc0) != 0x80) {
            return 0;
        }
        code_point = (code_point << 6) | (continuation & 0x3f);
    }
    if (code_point < minimum || code_point > 0x10ffff ||
        (code_point >= 0xd800 && code_point <= 0xdfff)) {
        return 0;
    }
    return length;
}

bool is_control(std::uint32_t code_point) {
    return code_point < 0x20 || (code_point >= 0x7f && code_point <= 0x9f);
}

bool is_whitespace(std::uint32_t code_point) {
    return code_point == ' ' || code_point == 0xa0 || code_point == 0x1680 ||
           (code_point >= 0x2000 && code_point <= 0x200a) || code_point == 0x2028 ||
           code_point == 0x2029 || code_point == 0x202f || code_point == 0x205f ||
           code_point == 0x3000 || code_point == 0xfeff;
}

// Walks the code points; `reject` decides which ones are not allowed.
template <typename Reject>
bool check_code_points(std::string_view text, std::string_view& reason, Reject reject) {
    for (std::size_t pos = 0; pos < text.size();) {
        std::uint32_t code_point = 0;
        const std::size_t length = decode_utf8(text, pos, code_point);
        if (length == 0) {
            reason = "is not valid UTF-8";
            return false;
        }
        if (reject(code_point, reason)) {
            return false;
        }
        pos += length;
    }
    return true;
}

}  // namespace

bool is_valid_utf8(std::string_view text) {
    std::string_view ignored;
    return check_code_points(text, ignored, [](std::uint32_t, std::string_view&) { return false; });
}

bool is_valid_stream_name(std::string_view name, std::string_view& reason) {
    if (name.empty()) {
        reason = "must not be empty";
        return false;
    }
    if (name.size() > kMaxNameBytes) {
        reason = "is longer than 255 bytes";
        return false;
    }
    if (name.front() == '$') {
        reason = "must not start with '$' (reserved)";
        return false;
    }
    return check_code_points(name, reason, [](std::uint32_t code_point, std::string_view& why) {
        if (code_point == '/') {
            why = "must not contain '/'";
            return true;
        }
        if (is_control(code_point)) {
            why = "must not contain control characters";
            return true;
        }
        if (is_whitespace(code_point)) {
            why = "must not contain whitespace";
            return true;
        }
        return false;
    });
}

bool is_valid_event_type(std::string_view type, std::string_view& reason) {
    if (type.empty()) {
        reason = "must not be empty";
        return false;
    }
    if (type.size() > kMaxNameBytes) {
        reason = "is longer than 255 bytes";
        return false;
    }
    return check_code_points(type, reason, [](std::uint32_t code_point, std::string_view& why) {
        if (is_control(code_point)) {
            why = "must not contain control characters";
            return true;
        }
        return false;
    });
}

}  // namespace annal::api
