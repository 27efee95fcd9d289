// Hand-written JSON output for the hot paths (reads, subscriptions, append replies):
// stored data and metadata are already JSON text, so they are copied in verbatim instead
// of being parsed into a DOM and printed again.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace annal::storage {
struct StoredEvent;
}

namespace annal::api {

// Appends `text` as a quoted JSON string with the escapes JSON requires.
void append_json_string(std::string_view text, std::string& out);
void append_json_uint(std::uint64_t value, std::string& out);
void append_json_int(std::int64_t value, std::string& out);
void append_json_optional_uint(const std::optional<std::uint64_t>& value, std::string& out);

// {"position":..,"stream":..,"version":..,"id":..,"type":..,"timestamp":..,
//  "timestamp_us":..,"data":..|"data_base64":..,"metadata":..}
void append_event_json(const storage::StoredEvent& event, std::string& out);

}  // namespace annal::api
