#include "api/append_request_parser.hpp"

#include <algorithm>
#include <nlohmann/json.hpp>
#include <string>

#include "api/base64.hpp"
#include "api/timestamp.hpp"
#include "api/uuid.hpp"
#include "api/validation.hpp"

namespace annal::api {
namespace {

using nlohmann::json;

ApiError bad(std::string code, std::string message) {
    return ApiError{400, std::move(code), std::move(message), false, std::nullopt};
}

ApiError event_error(std::size_t index, std::string_view field, std::string_view what) {
    std::string message = "events[" + std::to_string(index) + "]";
    if (!field.empty()) {
        message += ".";
        message += field;
    }
    message += " ";
    message += what;
    return bad("invalid_event", std::move(message));
}

// Finds the first byte where nesting exceeds kMaxJsonDepth, skipping string contents.
std::optional<std::size_t> too_deep_at(std::string_view body) {
    std::size_t depth = 0;
    bool in_string = false;
    for (std::size_t i = 0; i < body.size(); ++i) {
        const char c = body[i];
        if (in_string) {
            if (c == '\\') {
                ++i;
            } else if (c == '"') {
                in_string = false;
            }
        } else if (c == '"') {
            in_string = true;
        } else if (c == '[' || c == '{') {
            if (++depth > kMaxJsonDepth) {
                return i;
            }
        } else if ((c == ']' || c == '}') && depth > 0) {
            --depth;
        }
    }
    return std::nullopt;
}

std::optional<storage::ExpectedVersion> expected_version_from(const json& value) {
    if (value.is_string()) {
        const auto& text = value.get_ref<const std::string&>();
        if (text == "any") {
            return storage::ExpectedVersion::any();
        }
        if (text == "no_stream") {
            return storage::ExpectedVersion::no_stream();
        }
        if (text == "exists") {
            return storage::ExpectedVersion::exists();
        }
        return std::nullopt;
    }
    if (value.is_number_unsigned()) {
        return storage::ExpectedVersion::exact(value.get<std::uint64_t>());
    }
    if (value.is_number_integer() && value.get<std::int64_t>() >= 0) {
        return storage::ExpectedVersion::exact(
            static_cast<std::uint64_t>(value.get<std::int64_t>()));
    }
    return std::nullopt;
}

std::optional<ApiError> parse_event(const json& source, std::size_t index, std::int64_t now,
                                    storage::ProposedEvent& event) {
    if (!source.is_object()) {
        return event_error(index, "", "must be an object");
    }
    if (const auto it = source.find("id"); it != source.end() && !it->is_null()) {
        if (!it->is_string()) {
            return event_error(index, "id", "must be a UUID string");
        }
        auto id = parse_uuid(it->get_ref<const std::string&>());
        if (!id) {
            return event_error(index, "id", "is not a valid UUID (8-4-4-4-12 hex digits)");
        }
        event.id = std::move(*id);
    } else {
        event.id = generate_uuid_v7(static_cast<std::uint64_t>(now / 1000));
    }

    const auto type = source.find("type");
    if (type == source.end() || !type->is_string()) {
        return event_error(index, "type", "is required and must be a string");
    }
    std::string_view reason;
    if (!is_valid_event_type(type->get_ref<const std::string&>(), reason)) {
        return event_error(index, "type", reason);
    }
    event.type = type->get<std::string>();

    event.timestamp_us = now;
    if (const auto it = source.find("timestamp"); it != source.end() && !it->is_null()) {
        std::optional<std::int64_t> parsed;
        if (it->is_string()) {
            parsed = parse_rfc3339_us(it->get_ref<const std::string&>());
        } else if (it->is_number_integer()) {
            const auto value =
                it->is_number_unsigned()
                    ? (it->get<std::uint64_t>() > static_cast<std::uint64_t>(kMaxTimestampUs)
                           ? std::optional<std::int64_t>{}
                           : std::optional<std::int64_t>{it->get<std::int64_t>()})
                    : std::optional<std::int64_t>{it->get<std::int64_t>()};
            if (value && *value >= kMinTimestampUs && *value <= kMaxTimestampUs) {
                parsed = value;
            }
        }
        if (!parsed) {
            return event_error(index, "timestamp",
                               "must be an RFC 3339 string or integer microseconds since the "
                               "epoch (years 0001..9999)");
        }
        event.timestamp_us = *parsed;
    }

    const auto data = source.find("data");
    const auto data_base64 = source.find("data_base64");
    if (data != source.end() && data_base64 != source.end()) {
        return event_error(index, "data", "and data_base64 are mutually exclusive");
    }
    if (data_base64 != source.end()) {
        if (!data_base64->is_string()) {
            return event_error(index, "data_base64", "must be a base64 string");
        }
        auto bytes = base64_decode(data_base64->get_ref<const std::string&>());
        if (!bytes) {
            return event_error(index, "data_base64", "is not valid base64");
        }
        event.data = std::move(*bytes);
        event.data_is_json = false;
    } else if (data != source.end()) {
        event.data = data->dump();
        event.data_is_json = true;
    } else {
        event.data = "null";
        event.data_is_json = true;
    }

    if (const auto it = source.find("metadata"); it != source.end() && !it->is_null()) {
        if (!it->is_object()) {
            return event_error(index, "metadata", "must be a JSON object or null");
        }
        event.metadata = it->dump();
    }
    return std::nullopt;
}

}  // namespace

TextPosition position_of(std::string_view text, std::size_t offset) {
    TextPosition position;
    const std::size_t end = std::min(offset, text.size());
    for (std::size_t i = 0; i < end; ++i) {
        if (text[i] == '\n') {
            ++position.line;
            position.column = 1;
        } else {
            ++position.column;
        }
    }
    return position;
}

std::optional<storage::ExpectedVersion> parse_expected_version_text(std::string_view json_text) {
    const json value = json::parse(json_text, nullptr, /*allow_exceptions=*/false);
    if (value.is_discarded()) {
        return std::nullopt;
    }
    return expected_version_from(value);
}

ParsedAppend parse_append_request(std::string_view stream, std::string_view body,
                                  std::int64_t now) {
    ParsedAppend result;
    std::string_view reason;
    if (!is_valid_stream_name(stream, reason)) {
        result.error = bad("invalid_stream", "stream name " + std::string(reason));
        return result;
    }
    if (const auto deep = too_deep_at(body)) {
        const auto where = position_of(body, *deep);
        result.error =
            bad("malformed_json", "JSON nested deeper than " + std::to_string(kMaxJsonDepth) +
                                      " levels at line " + std::to_string(where.line) +
                                      ", column " + std::to_string(where.column) + " (byte " +
                                      std::to_string(*deep) + ")");
        return result;
    }

    json document;
    try {
        document = json::parse(body);
    } catch (const json::parse_error& error) {
        // nlohmann's byte is 1-based and points at the last byte it read.
        const std::size_t offset = error.byte > 0 ? error.byte - 1 : 0;
        const auto where = position_of(body, offset);
        std::string detail = error.what();
        if (const auto colon = detail.find(": "); colon != std::string::npos) {
            detail = detail.substr(colon + 2);
        }
        result.error =
            bad("malformed_json", "malformed JSON at line " + std::to_string(where.line) +
                                      ", column " + std::to_string(where.column) + " (byte " +
                                      std::to_string(offset) + "): " + detail);
        return result;
    }

    if (!document.is_object()) {
        result.error = bad("invalid_event", "the body must be a JSON object with \"events\"");
        return result;
    }
    storage::AppendRequest request;
    request.stream = std::string(stream);
    if (const auto it = document.find("expected_version"); it != document.end() && !it->is_null()) {
        auto expected = expected_version_from(*it);
        if (!expected) {
            result.error = bad("invalid_expected_version",
                               "expected_version must be \"any\", \"no_stream\", \"exists\" or "
                               "an integer >= 0");
            return result;
        }
        request.expected = *expected;
    }
    const auto events = document.find("events");
    if (events == document.end() || !events->is_array() || events->empty()) {
        result.error = bad("invalid_event", "\"events\" must be a non-empty array");
        return result;
    }
    request.events.resize(events->size());
    for (std::size_t i = 0; i < events->size(); ++i) {
        if (auto error = parse_event((*events)[i], i, now, request.events[i])) {
            result.error = std::move(*error);
            return result;
        }
    }
    if (request.events.size() > 1) {
        std::vector<std::pair<std::string_view, std::size_t>> ids;
        ids.reserve(request.events.size());
        for (std::size_t i = 0; i < request.events.size(); ++i) {
            ids.emplace_back(request.events[i].id, i);
        }
        std::sort(ids.begin(), ids.end());
        for (std::size_t i = 1; i < ids.size(); ++i) {
            if (ids[i].first == ids[i - 1].first) {
                result.error = event_error(
                    ids[i].second, "id",
                    "repeats the id of events[" + std::to_string(ids[i - 1].second) + "]");
                return result;
            }
        }
    }
    result.request = std::move(request);
    return result;
}

}  // namespace annal::api
