// Live subscriptions: catch-up then live, exactly once and in order, over NDJSON and
// WebSocket; slow subscribers never hold appends back.
#include <doctest/doctest.h>

#include <nlohmann/json.hpp>
#include <thread>

#include "server_fixture.hpp"
#include "test_client.hpp"

using namespace annal::api;
using namespace annal::api::test;
using nlohmann::json;

namespace {

constexpr auto kWait = std::chrono::seconds(20);

std::vector<std::uint64_t> positions_of(const std::vector<std::string>& lines) {
    std::vector<std::uint64_t> positions;
    for (const auto& line : lines) {
        const auto event = json::parse(line);
        if (event.contains("position")) {
            positions.push_back(event["position"].get<std::uint64_t>());
        }
    }
    return positions;
}

std::vector<std::uint64_t> range(std::uint64_t first, std::uint64_t last) {
    std::vector<std::uint64_t> out;
    for (auto p = first; p <= last; ++p) {
        out.push_back(p);
    }
    return out;
}

// Appends `count` single-event requests from a background thread.
std::thread append_in_background(std::uint16_t port, const std::string& stream, int count) {
    return std::thread([port, stream, count] {
        HttpClient client(port);
        for (int i = 0; i < count; ++i) {
            client.request("POST", "/v1/streams/" + stream, events_body(1));
        }
    });
}

}  // namespace

TEST_CASE("NDJSON subscription: catch-up, then live, every event once and in order") {
    ServerOptions options;
    options.subscriber_buffer_events = 4;  // several pages during catch-up
    ServerFixture fixture(options);
    HttpClient writer(fixture.port());
    REQUIRE(writer.request("POST", "/v1/streams/a", events_body(10)).status == 200);

    HttpClient subscriber(fixture.port());
    auto head = subscriber.start_ndjson("/v1/subscribe?from=1");
    REQUIRE(head.status == 200);
    CHECK(head.headers["content-type"] == "application/x-ndjson");
    CHECK(head.headers["transfer-encoding"] == "chunked");
    auto caught_up = positions_of(subscriber.read_ndjson_lines(10, kWait));
    CHECK(caught_up == range(1, 10));

    std::thread appender = append_in_background(fixture.port(), "b", 30);
    auto live = positions_of(subscriber.read_ndjson_lines(30, kWait));
    appender.join();
    CHECK(live == range(11, 40));

    auto status = json::parse(writer.request("GET", "/v1/status").body);
    CHECK(status["subscribers"] == 1);
}

TEST_CASE("NDJSON subscription filtered by stream, starting at the head by default") {
    ServerFixture fixture;
    HttpClient writer(fixture.port());
    REQUIRE(writer.request("POST", "/v1/streams/x", events_body(3)).status == 200);
    HttpClient subscriber(fixture.port());
    REQUIRE(subscriber.start_ndjson("/v1/subscribe?stream=y").status == 200);
    REQUIRE(writer.request("POST", "/v1/streams/x", events_body(2)).status == 200);
    REQUIRE(writer.request("POST", "/v1/streams/y", events_body(2)).status == 200);
    auto lines = subscriber.read_ndjson_lines(2, kWait);
    REQUIRE(lines.size() == 2);
    CHECK(json::parse(lines[0])["stream"] == "y");
    CHECK(positions_of(lines) == std::vector<std::uint64_t>{6, 7});

    CHECK(writer.request("GET", "/v1/subscribe?from=abc").status == 400);
    CHECK(writer.request("GET", "/v1/subscribe?stream=%24bad").status == 400);
}

TEST_CASE("NDJSON subscription sends heartbeats when nothing happens") {
    ServerOptions options;
    options.heartbeat_interval = std::chrono::seconds(1);
    ServerFixture fixture(options);
    HttpClient writer(fixture.port());
    REQUIRE(writer.request("POST", "/v1/streams/h", events_body(2)).status == 200);
    HttpClient subscriber(fixture.port());
    REQUIRE(subscriber.start_ndjson("/v1/subscribe").status == 200);
    auto lines = subscriber.read_ndjson_lines(1, kWait);
    REQUIRE(lines.size() == 1);
    CHECK(json::parse(lines[0])["heartbeat"] == 2);
}

TEST_CASE("WebSocket subscription: catch-up then live") {
    ServerOptions options;
    options.subscriber_buffer_events = 3;
    ServerFixture fixture(options);
    HttpClient writer(fixture.port());
    REQUIRE(writer.request("POST", "/v1/streams/w", events_body(5)).status == 200);
    WebSocketClient subscriber(fixture.port(), "/v1/subscribe?from=2");
    REQUIRE(subscriber.connected());
    auto caught_up = positions_of(subscriber.read_messages(4, kWait));
    CHECK(caught_up == range(2, 5));
    std::thread appender = append_in_background(fixture.port(), "w", 20);
    auto live = positions_of(subscriber.read_messages(20, kWait));
    appender.join();
    CHECK(live == range(6, 25));
    subscriber.close();
}

TEST_CASE("a subscriber that does not read never stalls appends, and later gets everything") {
    ServerOptions options;
    options.subscriber_buffer_events = 64;
    ServerFixture fixture(options);
    HttpClient stalled(fixture.port());
    REQUIRE(stalled.start_ndjson("/v1/subscribe?from=1").status == 200);
    WebSocketClient stalled_ws(fixture.port(), "/v1/subscribe?from=1");
    REQUIRE(stalled_ws.connected());

    // ~24 MB of events: far more than the kernel socket buffers hold, so the server's
    // writes to both subscribers block while the appends go on.
    constexpr int kRequests = 120;
    constexpr int kEventsPerRequest = 50;
    const std::string payload(4000, 'p');
    std::string body = "{\"events\":[";
    for (int i = 0; i < kEventsPerRequest; ++i) {
        body += std::string(i ? "," : "") + "{\"type\":\"Big\",\"data\":\"" + payload + "\"}";
    }
    body += "]}";
    HttpClient writer(fixture.port());
    int accepted = 0;
    for (int i = 0; i < kRequests; ++i) {
        accepted += writer.request("POST", "/v1/streams/big", body).status == 200 ? 1 : 0;
    }
    CHECK(accepted == kRequests);
    constexpr std::uint64_t kTotal = kRequests * kEventsPerRequest;
    CHECK(fixture.store().head_position() == kTotal);

    const auto lines = stalled.read_ndjson_lines(kTotal, std::chrono::seconds(60));
    CHECK(positions_of(lines) == range(1, kTotal));
    const auto messages = stalled_ws.read_messages(kTotal, std::chrono::seconds(60));
    CHECK(positions_of(messages) == range(1, kTotal));
}
