// Turns the body of `POST /v1/streams/{stream}` into a storage::AppendRequest, or into
// the 400 answer that says exactly what is wrong. Pure function: no I/O, no globals
// beyond the clock (for events without a timestamp) and the UUID generator.
#pragma once

#include <optional>
#include <string_view>

#include "api/api_error.hpp"
#include "storage/event_store.hpp"

namespace annal::api {

// JSON nested deeper than this is refused before parsing (the DOM and its printer
// recurse, so unbounded depth would be a stack overflow waiting for a hostile client).
inline constexpr std::size_t kMaxJsonDepth = 64;

struct ParsedAppend {
    std::optional<storage::AppendRequest> request;  // set on success
    ApiError error;                                 // meaningful when !request
};

// `stream` is the already percent-decoded name from the path; `now_us` is used for
// events that carry no timestamp.
ParsedAppend parse_append_request(std::string_view stream, std::string_view body,
                                  std::int64_t now_us);

// "any" | "no_stream" | "exists" | integer >= 0, given as the JSON text of the value.
// Exposed for tests; the parser above uses the same rules.
std::optional<storage::ExpectedVersion> parse_expected_version_text(std::string_view json_text);

// Line (1-based) and column (1-based) of byte `offset` (0-based) in `text`.
struct TextPosition {
    std::size_t line = 1;
    std::size_t column = 1;
};
TextPosition position_of(std::string_view text, std::size_t offset);

}  // namespace annal::api
