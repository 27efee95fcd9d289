// Client-side shapes of the API's events and replies (see docs/API.md). JSON payloads
// are kept as JSON text so callers choose their own JSON library.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace annal::client {

// Expected version of a stream for an optimistic-concurrency append.
struct ExpectedVersion {
    enum class Kind : std::uint8_t { Any, NoStream, Exists, Exact };
    Kind kind = Kind::Any;
    std::uint64_t version = 0;  // only for Exact

    static ExpectedVersion any() { return {}; }
    static ExpectedVersion no_stream() { return {Kind::NoStream, 0}; }
    static ExpectedVersion exists() { return {Kind::Exists, 0}; }
    static ExpectedVersion exact(std::uint64_t v) { return {Kind::Exact, v}; }

    // Accepts "any", "no_stream", "exists" or a non-negative integer.
    static std::optional<ExpectedVersion> parse(const std::string& text);
    // The JSON token sent on the wire: "\"any\"" or "17".
    std::string to_json() const;
};

// An event to append. Empty optional fields are left out of the request; the client
// fills in a random UUID when `id` is empty so that a retried append is idempotent.
struct NewEvent {
    std::string id;
    std::string type;
    std::string timestamp_json;  // a JSON token: "\"2026-...Z\"" or microseconds; empty = now
    std::string data_json = "null";
    std::optional<std::string> data_base64;  // instead of data_json
    std::string metadata_json;               // a JSON object or empty
};

struct RecordedEvent {
    std::uint64_t position = 0;
    std::string stream;
    std::uint64_t version = 0;
    std::string id;
    std::string type;
    std::string timestamp;
    std::int64_t timestamp_us = 0;
    std::optional<std::string> data_json;    // set when the data is JSON
    std::optional<std::string> data_base64;  // set when the data is bytes
    std::string metadata_json = "null";
    std::string raw_json;  // the whole event as JSON (re-serialised, compact)
};

struct AppendOutcome {
    std::string stream;
    std::uint64_t first_position = 0;
    std::uint64_t last_position = 0;
    std::uint64_t version = 0;
    bool deduplicated = false;
};

enum class Direction : std::uint8_t { Forwards, Backwards };

struct StreamPage {
    std::string stream;
    std::vector<RecordedEvent> events;
    std::optional<std::uint64_t> next;  // version to continue from; nullopt at the end
};

struct AllPage {
    std::vector<RecordedEvent> events;
    std::optional<std::uint64_t> next;  // position to continue from; nullopt at the end
};

struct TimePage {
    std::vector<RecordedEvent> events;
    std::optional<std::string> next;  // opaque cursor to pass as `after`
};

struct NodeStatus {
    std::string version;
    std::uint64_t head_position = 0;
    double uptime_s = 0;
    std::string raw_json;
};

}  // namespace annal::client
