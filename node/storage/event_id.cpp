#include "storage/event_id.hpp"

namespace annal::storage {
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

bool is_dash_position(std::size_t i) {
    return i == 8 || i == 13 || i == 18 || i == 23;
}

}  // namespace

std::optional<std::string> event_id_to_bytes(std::string_view text) {
    if (text.size() != 36) {
        return std::nullopt;
    }
    std::string bytes;
    bytes.reserve(16);
    int high = -1;
    for (std::size_t i = 0; i < text.size(); ++i) {
        if (is_dash_position(i)) {
            if (text[i] != '-') {
                return std::nullopt;
            }
            continue;
        }
        const int nibble = hex_value(text[i]);
        if (nibble < 0) {
            return std::nullopt;
        }
        if (high < 0) {
            high = nibble;
        } else {
            bytes.push_back(static_cast<char>((high << 4) | nibble));
            high = -1;
        }
    }
    return bytes;
}

std::string event_id_to_text(std::string_view bytes) {
    static constexpr char kDigits[] = "0123456789abcdef";
    std::string text;
    text.reserve(36);
    for (std::size_t i = 0; i < bytes.size(); ++i) {
        if (i == 4 || i == 6 || i == 8 || i == 10) {
            text.push_back('-');
        }
        const auto byte = static_cast<unsigned char>(bytes[i]);
        text.push_back(kDigits[byte >> 4]);
        text.push_back(kDigits[byte & 0xFu]);
    }
    return text;
}

}  // namespace annal::storage
