// Event ids are UUIDs: 36 characters of text at the API, 16 raw bytes on disk (the
// idempotency index key and the record field).
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace annal::storage {

// Accepts the canonical 8-4-4-4-12 hex form in either case; nullopt otherwise.
std::optional<std::string> event_id_to_bytes(std::string_view text);

// 16 raw bytes -> canonical lower-case text.
std::string event_id_to_text(std::string_view bytes);

}  // namespace annal::storage
