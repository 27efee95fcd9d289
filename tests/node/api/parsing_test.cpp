// Pure parsing/validation/formatting functions, no sockets.
#include <doctest/doctest.h>

#include <nlohmann/json.hpp>
#include <set>

#include "api/api_handler.hpp"
#include "api/append_request_parser.hpp"
#include "api/base64.hpp"
#include "api/json_writer.hpp"
#include "api/query_params.hpp"
#include "api/timestamp.hpp"
#include "api/uuid.hpp"
#include "api/validation.hpp"

using namespace annal::api;
using annal::storage::ExpectedVersion;

TEST_CASE("base64 round-trips every length and rejects bad input") {
    CHECK(base64_encode("") == "");
    CHECK(base64_encode("f") == "Zg==");
    CHECK(base64_encode("fo") == "Zm8=");
    CHECK(base64_encode("foo") == "Zm9v");
    CHECK(base64_encode("foobar") == "Zm9vYmFy");
    std::string bytes;
    for (int i = 0; i < 300; ++i) {
        bytes.push_back(static_cast<char>((i * 37) & 0xff));
        const auto decoded = base64_decode(base64_encode(bytes));
        REQUIRE(decoded.has_value());
        CHECK(*decoded == bytes);
    }
    CHECK(base64_decode("Zm8").value() == "fo");  // unpadded accepted
    CHECK_FALSE(base64_decode("Zm9v!").has_value());
    CHECK_FALSE(base64_decode("Z").has_value());
    CHECK_FALSE(base64_decode("Zm=v").has_value());
    CHECK_FALSE(base64_decode("Zh==").has_value());  // non-canonical trailing bits
    CHECK_FALSE(base64_decode("Zm8==").has_value());
}

TEST_CASE("UUIDs are parsed case-insensitively and generated as random v4") {
    CHECK(parse_uuid("3F1C2B4A-0000-4ABC-8DEF-0123456789AB").value() ==
          "3f1c2b4a-0000-4abc-8def-0123456789ab");
    CHECK_FALSE(parse_uuid("3f1c2b4a00004abc8def0123456789ab").has_value());
    CHECK_FALSE(parse_uuid("3f1c2b4a-0000-4abc-8def-0123456789ag").has_value());
    CHECK_FALSE(parse_uuid("3f1c2b4a-0000-4abc-8def_0123456789ab").has_value());
    std::set<std::string> seen;
    for (int i = 0; i < 1000; ++i) {
        const std::string id = generate_uuid_v4();
        REQUIRE(parse_uuid(id).value() == id);
        CHECK(id[14] == '4');
        CHECK(std::string("89ab").find(id[19]) != std::string::npos);
        seen.insert(id);
    }
    CHECK(seen.size() == 1000);
}

TEST_CASE("server-assigned ids are v7 UUIDs that sort by their millisecond") {
    // 2026-11-27T13:00:00.123Z = 1795784400123 ms = 0x01a2_1d17_5cfb.
    const std::string id = generate_uuid_v7(1795784400123ull);
    REQUIRE(parse_uuid(id).value() == id);
    CHECK(id.substr(0, 13) == "01a21d17-5cfb");
    CHECK(id[14] == '7');
    CHECK(std::string("89ab").find(id[19]) != std::string::npos);
    std::set<std::string> seen;
    std::string previous = generate_uuid_v7(1000);
    for (std::uint64_t ms = 1001; ms < 2001; ++ms) {
        const std::string next = generate_uuid_v7(ms);
        CHECK(previous < next);  // text order is time order across milliseconds
        seen.insert(next);
        previous = next;
    }
    CHECK(seen.size() == 1000);
}

TEST_CASE("RFC 3339 timestamps convert to and from microseconds") {
    CHECK(parse_rfc3339_us("1970-01-01T00:00:00Z").value() == 0);
    CHECK(parse_rfc3339_us("1970-01-01T00:00:01.5Z").value() == 1'500'000);
    CHECK(parse_rfc3339_us("2026-11-27T13:00:00.123456Z").value() == 1795784400123456);
    CHECK(parse_rfc3339_us("2026-11-27T14:00:00.123456+01:00").value() == 1795784400123456);
    CHECK(parse_rfc3339_us("2026-11-27T12:30:00.123456-00:30").value() == 1795784400123456);
    CHECK(parse_rfc3339_us("2026-11-27t13:00:00.1234569z").value() == 1795784400123456);
    CHECK(parse_rfc3339_us("1969-12-31T23:59:59.999999Z").value() == -1);
    CHECK(parse_rfc3339_us("2024-02-29T00:00:00Z").has_value());
    CHECK_FALSE(parse_rfc3339_us("2023-02-29T00:00:00Z").has_value());
    CHECK_FALSE(parse_rfc3339_us("2026-11-27 13:00:00Z").has_value());
    CHECK_FALSE(parse_rfc3339_us("2026-11-27T13:00:00").has_value());
    CHECK_FALSE(parse_rfc3339_us("2026-11-27T13:00:60Z").has_value());
    CHECK_FALSE(parse_rfc3339_us("2026-11-27T13:00:00.Z").has_value());
    CHECK_FALSE(parse_rfc3339_us("2026-11-27T13:00:00Zjunk").has_value());

    CHECK(format_rfc3339_us(0) == "1970-01-01T00:00:00.000000Z");
    CHECK(format_rfc3339_us(1795784400123456) == "2026-11-27T13:00:00.123456Z");
    CHECK(format_rfc3339_us(-1) == "1969-12-31T23:59:59.999999Z");
    CHECK(format_rfc3339_us(kMinTimestampUs) == "0001-01-01T00:00:00.000000Z");
    CHECK(format_rfc3339_us(kMaxTimestampUs) == "9999-12-31T23:59:59.999999Z");
    for (std::int64_t t : {std::int64_t{951782400000001}, std::int64_t{4102444799999999},
                           std::int64_t{-2208988800000000}}) {
        CHECK(parse_rfc3339_us(format_rfc3339_us(t)).value() == t);
    }
    CHECK(parse_timestamp_param("1795784400123456").value() == 1795784400123456);
    CHECK(parse_timestamp_param("-5").value() == -5);
    CHECK(parse_timestamp_param("2026-11-27T13:00:00.123456Z").value() == 1795784400123456);
    CHECK_FALSE(parse_timestamp_param("99999999999999999999").has_value());
    CHECK_FALSE(parse_timestamp_param("").has_value());
}

TEST_CASE("query strings are split and percent-decoded") {
    const Target target = split_target("/v1/streams/a%20b?from=3&limit=10");
    CHECK(target.path == "/v1/streams/a%20b");
    CHECK(target.query == "from=3&limit=10");
    CHECK(split_target("/healthz").query.empty());
    CHECK(percent_decode("a%2Fb%41+c").value() == "a/bA+c");
    CHECK_FALSE(percent_decode("abc%4").has_value());
    CHECK_FALSE(percent_decode("abc%zz").has_value());

    std::string bad;
    const auto params = QueryParams::parse("from=2026-01-01T00:00:00%2B01:00&flag&x=1&x=2", bad);
    REQUIRE(params.has_value());
    CHECK(params->get("from").value() == "2026-01-01T00:00:00+01:00");
    CHECK(params->get("flag").value() == "");
    CHECK(params->get("x").value() == "2");
    CHECK_FALSE(params->get("missing").has_value());
    CHECK_FALSE(QueryParams::parse("limit=%G1", bad).has_value());
    CHECK(bad == "limit");
}

TEST_CASE("stream names and event types are validated") {
    std::string_view reason;
    CHECK(is_valid_stream_name("orders-42", reason));
    CHECK(is_valid_stream_name("bestellungen-\xc3\xa4", reason));
    CHECK_FALSE(is_valid_stream_name("", reason));
    CHECK_FALSE(is_valid_stream_name("$all", reason));
    CHECK(std::string(reason).find("$") != std::string::npos);
    CHECK_FALSE(is_valid_stream_name("a/b", reason));
    CHECK_FALSE(is_valid_stream_name("a b", reason));
    CHECK_FALSE(is_valid_stream_name("a\tb", reason));
    CHECK_FALSE(
        is_valid_stream_name("a\xc2\xa0"
                             "b",
                             reason));  // no-break space
    CHECK_FALSE(is_valid_stream_name("\xff", reason));
    CHECK_FALSE(is_valid_stream_name("\xed\xa0\x80", reason));  // UTF-16 surrogate
    CHECK_FALSE(is_valid_stream_name("\xc0\xaf", reason));      // overlong '/'
    CHECK(is_valid_stream_name(std::string(255, 'x'), reason));
    CHECK_FALSE(is_valid_stream_name(std::string(256, 'x'), reason));

    CHECK(is_valid_event_type("Order Placed", reason));
    CHECK_FALSE(is_valid_event_type("", reason));
    CHECK_FALSE(is_valid_event_type("bad\ntype", reason));
    CHECK_FALSE(is_valid_event_type(std::string(256, 't'), reason));
}

TEST_CASE("append bodies become AppendRequests") {
    const std::string body = R"({"expected_version": 4, "events": [
        {"id": "3F1C2B4A-0000-4ABC-8DEF-0123456789AB", "type": "A", "data": {"x": [1, 2]},
         "metadata": {"m": true}, "timestamp": "2026-11-27T13:00:00.123456Z"},
        {"type": "B", "data_base64": "AAEC", "timestamp": 42},
        {"type": "C"}]})";
    const ParsedAppend parsed = parse_append_request("orders", body, 777);
    REQUIRE(parsed.request.has_value());
    const auto& request = *parsed.request;
    CHECK(request.stream == "orders");
    CHECK(request.expected.kind == ExpectedVersion::Kind::Exact);
    CHECK(request.expected.version == 4);
    REQUIRE(request.events.size() == 3);
    CHECK(request.events[0].id == "3f1c2b4a-0000-4abc-8def-0123456789ab");
    CHECK(request.events[0].type == "A");
    CHECK(nlohmann::json::parse(request.events[0].data) == nlohmann::json::parse(R"({"x":[1,2]})"));
    CHECK(request.events[0].data_is_json);
    CHECK(nlohmann::json::parse(request.events[0].metadata)["m"] == true);
    CHECK(request.events[0].timestamp_us == 1795784400123456);
    CHECK(request.events[1].data == std::string("\x00\x01\x02", 3));
    CHECK_FALSE(request.events[1].data_is_json);
    CHECK(request.events[1].timestamp_us == 42);
    CHECK(request.events[2].timestamp_us == 777);
    CHECK(request.events[2].data == "null");
    CHECK(request.events[2].metadata.empty());
    CHECK(parse_uuid(request.events[1].id).has_value());
    CHECK(request.events[1].id != request.events[2].id);
}

TEST_CASE("expected_version forms") {
    CHECK(parse_expected_version_text("\"any\"").value().kind == ExpectedVersion::Kind::Any);
    CHECK(parse_expected_version_text("\"no_stream\"").value().kind ==
          ExpectedVersion::Kind::NoStream);
    CHECK(parse_expected_version_text("\"exists\"").value().kind == ExpectedVersion::Kind::Exists);
    CHECK(parse_expected_version_text("0").value().kind == ExpectedVersion::Kind::Exact);
    CHECK(parse_expected_version_text("18446744073709551615").value().version ==
          18446744073709551615ull);
    CHECK_FALSE(parse_expected_version_text("-1").has_value());
    CHECK_FALSE(parse_expected_version_text("1.5").has_value());
    CHECK_FALSE(parse_expected_version_text("\"stream_exists\"").has_value());
    CHECK_FALSE(parse_expected_version_text("true").has_value());

    const auto parsed =
        parse_append_request("s", R"({"expected_version":"sometimes","events":[{"type":"A"}]})", 0);
    CHECK_FALSE(parsed.request.has_value());
    CHECK(parsed.error.code == "invalid_expected_version");
}

TEST_CASE("bad append bodies get precise 400 answers") {
    struct Case {
        const char* body;
        const char* code;
        const char* message_part;
    };
    const Case cases[] = {
        {"{\"events\": [}", "malformed_json", "line 1, column 13"},
        {"{\n  \"events\": [\n    {\"type\": \"A\",}\n  ]\n}", "malformed_json", "line 3"},
        {"", "malformed_json", "line 1"},
        {"[1,2]", "invalid_event", "events"},
        {"{}", "invalid_event", "non-empty"},
        {"{\"events\": []}", "invalid_event", "non-empty"},
        {"{\"events\": [{\"data\": 1}]}", "invalid_event", "events[0].type"},
        {"{\"events\": [{\"type\": \"A\"}, {\"type\": \"\"}]}", "invalid_event", "events[1].type"},
        {"{\"events\": [{\"type\": \"A\", \"id\": \"nope\"}]}", "invalid_event", "events[0].id"},
        {"{\"events\": [{\"type\": \"A\", \"timestamp\": \"yesterday\"}]}", "invalid_event",
         "events[0].timestamp"},
        {"{\"events\": [{\"type\": \"A\", \"data\": 1, \"data_base64\": \"AA==\"}]}",
         "invalid_event", "mutually exclusive"},
        {"{\"events\": [{\"type\": \"A\", \"data_base64\": \"%%%\"}]}", "invalid_event",
         "data_base64"},
        {"{\"events\": [{\"type\": \"A\", \"metadata\": [1]}]}", "invalid_event",
         "events[0].metadata"},
        {"{\"events\": [{\"type\": \"A\", \"id\": \"3f1c2b4a-0000-4abc-8def-0123456789ab\"},"
         "{\"type\": \"A\", \"id\": \"3F1C2B4A-0000-4ABC-8DEF-0123456789AB\"}]}",
         "invalid_event", "repeats"},
    };
    for (const auto& c : cases) {
        CAPTURE(c.body);
        const ParsedAppend parsed = parse_append_request("s", c.body, 0);
        REQUIRE_FALSE(parsed.request.has_value());
        CHECK(parsed.error.status == 400);
        CHECK(parsed.error.code == c.code);
        CHECK(parsed.error.message.find(c.message_part) != std::string::npos);
    }
    const std::string deep = std::string(1000, '[') + std::string(1000, ']');
    const ParsedAppend parsed_deep = parse_append_request("s", deep, 0);
    CHECK(parsed_deep.error.code == "malformed_json");
    CHECK(parsed_deep.error.message.find("nested deeper") != std::string::npos);

    const ParsedAppend bad_stream = parse_append_request("$system", "{}", 0);
    CHECK(bad_stream.error.code == "invalid_stream");
}

TEST_CASE("JSON writer escapes strings and embeds stored data verbatim") {
    std::string out;
    append_json_string("a\"b\\c\n\x01", out);
    CHECK(out == R"("a\"b\\c\n\u0001")");
    CHECK(nlohmann::json::parse(out) == "a\"b\\c\n\x01");

    annal::storage::StoredEvent event;
    event.position = 17;
    event.version = 3;
    event.id = "3f1c2b4a-0000-4abc-8def-0123456789ab";
    event.stream = "orders-42";
    event.type = "OrderPlaced";
    event.timestamp_us = 1795784400123456;
    event.data = R"({"x":1})";
    event.metadata = "";
    std::string json_text;
    append_event_json(event, json_text);
    const auto parsed = nlohmann::json::parse(json_text);
    CHECK(parsed["position"] == 17);
    CHECK(parsed["version"] == 3);
    CHECK(parsed["stream"] == "orders-42");
    CHECK(parsed["timestamp"] == "2026-11-27T13:00:00.123456Z");
    CHECK(parsed["timestamp_us"] == 1795784400123456);
    CHECK(parsed["data"]["x"] == 1);
    CHECK(parsed["metadata"].is_null());
    CHECK_FALSE(parsed.contains("data_base64"));

    event.data = std::string("\xff\x00", 2);
    event.data_is_json = false;
    json_text.clear();
    append_event_json(event, json_text);
    CHECK(nlohmann::json::parse(json_text)["data_base64"] == "/wA=");
}

TEST_CASE("time cursors round-trip") {
    const std::string cursor = encode_time_cursor(-12345, 99);
    std::int64_t timestamp = 0;
    std::uint64_t position = 0;
    REQUIRE(decode_time_cursor(cursor, timestamp, position));
    CHECK(timestamp == -12345);
    CHECK(position == 99);
    CHECK_FALSE(decode_time_cursor("12345", timestamp, position));
    CHECK_FALSE(decode_time_cursor("x_1", timestamp, position));
    CHECK_FALSE(decode_time_cursor("1_", timestamp, position));
}
