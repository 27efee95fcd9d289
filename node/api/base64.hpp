// Standard base64 (RFC 4648 section 4, with padding) for the `data_base64` field, which
// carries event payloads that are opaque bytes rather than JSON.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace annal::api {

std::string base64_encode(std::string_view bytes);
// Appends the encoding to `out` (lets the JSON writer avoid a temporary string).
void base64_encode_append(std::string_view bytes, std::string& out);

// Accepts padded or unpadded input; nullopt on any character outside the alphabet, a
// misplaced '=', or a length that cannot be a base64 encoding.
std::optional<std::string> base64_decode(std::string_view text);

}  // namespace annal::api
