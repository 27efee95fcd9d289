// Event ids: UUIDs in canonical lower-case text form (8-4-4-4-12 hex digits), which is
// the form the store indexes for idempotency, so two spellings of one id never differ.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace annal::api {

// Accepts the 36-character hyphenated form in any letter case; returns it lower-cased.
std::optional<std::string> parse_uuid(std::string_view text);

// A random (version 4, RFC 4122 variant) UUID. Thread-safe: each thread has its own
// generator seeded from std::random_device, so generation never takes a lock.
std::string generate_uuid_v4();

// A time-ordered (version 7, RFC 9562) UUID for the given Unix time in milliseconds: the
// ids the server assigns. Because consecutive ids share their leading timestamp bytes,
// the idempotency index inserts them next to each other (one B-tree leaf per commit)
// instead of into a random leaf per event, which with v4 ids was most of the pages each
// group commit had to write and fsync.
std::string generate_uuid_v7(std::uint64_t unix_ms);

}  // namespace annal::api
