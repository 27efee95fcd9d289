// Rules for names and fields, shared by the append parser and the query endpoints.
#pragma once

#include <string_view>

namespace annal::api {

inline constexpr std::size_t kMaxNameBytes = 255;

// Well-formed UTF-8 (no overlongs, no surrogates, <= U+10FFFF).
bool is_valid_utf8(std::string_view text);

// 1..255 bytes of UTF-8 without '/', whitespace or control characters, not starting with
// '$'. On failure `reason` says which rule was broken.
bool is_valid_stream_name(std::string_view name, std::string_view& reason);

// 1..255 bytes of printable UTF-8 (spaces allowed, control characters not).
bool is_valid_event_type(std::string_view type, std::string_view& reason);

}  // namespace annal::api
