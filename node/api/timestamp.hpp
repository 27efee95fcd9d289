// Event timestamps: microseconds since the Unix epoch inside, RFC 3339 text outside.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace annal::api {

// 0001-01-01T00:00:00Z and 9999-12-31T23:59:59.999999Z: the range RFC 3339 text can hold.
inline constexpr std::int64_t kMinTimestampUs = -62'135'596'800'000'000;
inline constexpr std::int64_t kMaxTimestampUs = 253'402'300'799'999'999;

// Parses "YYYY-MM-DDTHH:MM:SS[.fraction](Z|+HH:MM|-HH:MM)" (years 0001..9999). Digits of
// the fraction beyond microseconds are truncated. nullopt if malformed or out of range.
std::optional<std::int64_t> parse_rfc3339_us(std::string_view text);

// Parses either RFC 3339 text or a decimal integer of microseconds (optionally negative),
// the two forms a timestamp may take in a query parameter. Integers outside
// [kMinTimestampUs, kMaxTimestampUs] are rejected.
std::optional<std::int64_t> parse_timestamp_param(std::string_view text);

// Always "YYYY-MM-DDTHH:MM:SS.ffffffZ" (UTC, six fraction digits), so text order equals
// time order.
std::string format_rfc3339_us(std::int64_t microseconds);
void format_rfc3339_us_append(std::int64_t microseconds, std::string& out);

std::int64_t now_us();

}  // namespace annal::api
