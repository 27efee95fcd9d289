// Unit tests of the client library's pure parts: URL parsing, expected versions, request
// encoding and reply decoding. The network paths are exercised by tests/process against
// the real binary.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>

#include <set>

#include "client/client.hpp"

using namespace annal::client;

TEST_CASE("Endpoint::parse accepts URLs and host:port, rejects the rest") {
    std::string error;
    auto endpoint = Endpoint::parse("http://10.0.0.7:8080/", error);
    REQUIRE(endpoint);
    CHECK(endpoint->host == "10.0.0.7");
    CHECK(endpoint->port == "8080");
    endpoint = Endpoint::parse("localhost", error);
    REQUIRE(endpoint);
    CHECK(endpoint->host == "localhost");
    CHECK(endpoint->port == "2113");
    endpoint = Endpoint::parse("http://[::1]:9000", error);
    REQUIRE(endpoint);
    CHECK(endpoint->host == "::1");
    CHECK(endpoint->port == "9000");
    CHECK_FALSE(endpoint->tls);
    endpoint = Endpoint::parse("https://node-1.annal:2113", error);
    REQUIRE(endpoint);
    CHECK(endpoint->tls);
    CHECK(endpoint->host == "node-1.annal");
    CHECK(endpoint->port == "2113");
    CHECK(endpoint->to_url() == "https://node-1.annal:2113");
    CHECK_FALSE(Endpoint::parse("ftp://x:1", error));
    CHECK(error.find("scheme") != std::string::npos);
    CHECK_FALSE(Endpoint::parse("http://x:0", error));
    CHECK_FALSE(Endpoint::parse("http://x:70000", error));
    CHECK_FALSE(Endpoint::parse("http://x:12ab", error));
    CHECK_FALSE(Endpoint::parse("http://x:1/v1", error));
    CHECK_FALSE(Endpoint::parse("http://:1", error));
}

TEST_CASE("ExpectedVersion round-trips its wire form") {
    CHECK(ExpectedVersion::parse("any")->to_json() == "\"any\"");
    CHECK(ExpectedVersion::parse("no_stream")->to_json() == "\"no_stream\"");
    CHECK(ExpectedVersion::parse("exists")->to_json() == "\"exists\"");
    const auto exact = ExpectedVersion::parse("42");
    REQUIRE(exact);
    CHECK(exact->kind == ExpectedVersion::Kind::Exact);
    CHECK(exact->to_json() == "42");
    CHECK_FALSE(ExpectedVersion::parse("-1"));
    CHECK_FALSE(ExpectedVersion::parse("4x"));
    CHECK_FALSE(ExpectedVersion::parse(""));
    CHECK_FALSE(ExpectedVersion::parse("99999999999999999999"));
}

TEST_CASE("percent_encode leaves unreserved characters and encodes the rest") {
    CHECK(Client::percent_encode("orders-42_a.b~") == "orders-42_a.b~");
    CHECK(Client::percent_encode("a b/c?$") == "a%20b%2Fc%3F%24");
    CHECK(Client::percent_encode("z\xC3\xBC") == "z%C3%BC");
}

TEST_CASE("event_json writes only the fields that are set, escaping strings") {
    NewEvent event;
    event.type = "Say \"hi\"";
    event.data_json = R"({"n":1})";
    CHECK(Client::event_json(event) == R"({"type":"Say \"hi\"","data":{"n":1}})");
    event.id = "6f1c2d4e-0000-4000-8000-000000000001";
    event.timestamp_json = "1700000000000000";
    event.data_base64 = "AAE=";
    event.metadata_json = R"({"m":true})";
    CHECK(Client::event_json(event) ==
          R"({"id":"6f1c2d4e-0000-4000-8000-000000000001","type":"Say \"hi\"",)"
          R"("timestamp":1700000000000000,"data_base64":"AAE=","metadata":{"m":true}})");
}

TEST_CASE("random_uuid gives distinct version-4 UUIDs") {
    Client client(Endpoint{});
    std::set<std::string> seen;
    for (int i = 0; i < 1000; ++i) {
        const auto uuid = client.random_uuid();
        REQUIRE(uuid.size() == 36);
        CHECK(uuid[8] == '-');
        CHECK(uuid[14] == '4');
        CHECK(std::string("89ab").find(uuid[19]) != std::string::npos);
        seen.insert(uuid);
    }
    CHECK(seen.size() == 1000);
}

TEST_CASE("parse_recorded_event reads JSON and byte events, rejects incomplete ones") {
    std::string error;
    auto event = parse_recorded_event(
        R"({"position":7,"stream":"s","version":2,"id":"i","type":"T","timestamp":"t",)"
        R"("timestamp_us":5,"data":{"a":[1,2]},"metadata":null})",
        error);
    REQUIRE(event);
    CHECK(event->position == 7);
    CHECK(event->version == 2);
    CHECK(event->data_json == R"({"a":[1,2]})");
    CHECK_FALSE(event->data_base64);
    CHECK(event->metadata_json == "null");
    event = parse_recorded_event(
        R"({"position":1,"stream":"s","version":0,"id":"i","type":"T","data_base64":"AA=="})",
        error);
    REQUIRE(event);
    CHECK(event->data_base64 == "AA==");
    CHECK_FALSE(event->data_json);
    CHECK_FALSE(parse_recorded_event(R"({"stream":"s"})", error));
    CHECK_FALSE(error.empty());
    CHECK_FALSE(parse_recorded_event("[1]", error));
}

TEST_CASE("a call to a node that is not there is a transport error, not a crash") {
    ClientOptions options;
    options.connect_timeout = std::chrono::milliseconds(2000);
    Client client(Endpoint{"127.0.0.1", "1"}, options);
    const auto result = client.status();
    REQUIRE_FALSE(result);
    CHECK(result.error().kind == Error::Kind::Transport);
    CHECK(result.error().http_status == 0);
    CHECK(result.error().describe().find("127.0.0.1:1") != std::string::npos);
}
