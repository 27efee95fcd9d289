// The HTTP API over real loopback sockets against an in-process server and store.
#include <doctest/doctest.h>

#include <nlohmann/json.hpp>
#include <random>
#include <thread>

#include "server_fixture.hpp"
#include "test_client.hpp"

using namespace annal::api;
using namespace annal::api::test;
using nlohmann::json;

namespace {

json body_of(const HttpResult& result) {
    return json::parse(result.body);
}

const std::string kIdA = "11111111-1111-4111-8111-111111111111";
const std::string kIdB = "22222222-2222-4222-8222-222222222222";
const std::string kIdC = "33333333-3333-4333-8333-333333333333";

}  // namespace

TEST_CASE("append then read a stream forwards, backwards and through the global log") {
    ServerFixture fixture;
    HttpClient client(fixture.port());

    auto first = client.request("POST", "/v1/streams/orders-1", events_body(3, "\"no_stream\""));
    REQUIRE(first.status == 200);
    auto reply = body_of(first);
    CHECK(reply["stream"] == "orders-1");
    CHECK(reply["first_position"] == 1);
    CHECK(reply["last_position"] == 3);
    CHECK(reply["version"] == 2);
    CHECK(reply["deduplicated"] == false);
    CHECK(first.headers["content-type"] == "application/json");

    REQUIRE(client.request("POST", "/v1/streams/other", events_body(1)).status == 200);
    REQUIRE(client.request("POST", "/v1/streams/orders-1", events_body(2, "2")).status == 200);

    auto forwards = client.request("GET", "/v1/streams/orders-1?limit=3");
    REQUIRE(forwards.status == 200);
    auto page = body_of(forwards);
    REQUIRE(page["events"].size() == 3);
    CHECK(page["events"][0]["version"] == 0);
    CHECK(page["events"][0]["position"] == 1);
    CHECK(page["events"][0]["type"] == "Test");
    CHECK(page["events"][0]["data"]["n"] == 0);
    CHECK(page["events"][2]["version"] == 2);
    CHECK(page["next"] == 3);
    auto rest = body_of(client.request("GET", "/v1/streams/orders-1?from=3"));
    REQUIRE(rest["events"].size() == 2);
    CHECK(rest["events"][0]["position"] == 5);
    CHECK(rest["events"][1]["version"] == 4);
    CHECK(rest["next"].is_null());

    auto backwards =
        body_of(client.request("GET", "/v1/streams/orders-1?direction=backwards&limit=2"));
    REQUIRE(backwards["events"].size() == 2);
    CHECK(backwards["events"][0]["version"] == 4);
    CHECK(backwards["events"][1]["version"] == 3);
    CHECK(backwards["next"] == 2);

    auto all = body_of(client.request("GET", "/v1/all"));
    REQUIRE(all["events"].size() == 6);
    for (std::size_t i = 0; i < 6; ++i) {
        CHECK(all["events"][i]["position"] == i + 1);
    }
    CHECK(all["events"][3]["stream"] == "other");
    auto all_back = body_of(client.request("GET", "/v1/all?direction=backwards&from=end&limit=1"));
    CHECK(all_back["events"][0]["position"] == 6);
    CHECK(all_back["next"] == 5);

    auto missing = client.request("GET", "/v1/streams/nothing-here");
    CHECK(missing.status == 404);
    CHECK(body_of(missing)["error"] == "stream_not_found");

    auto bad_param = client.request("GET", "/v1/streams/orders-1?limit=0");
    CHECK(bad_param.status == 400);
    CHECK(body_of(bad_param)["error"] == "invalid_parameter");
    CHECK(body_of(bad_param)["message"].get<std::string>().find("limit") != std::string::npos);
    CHECK(client.request("GET", "/v1/all?direction=sideways").status == 400);
}

TEST_CASE("percent-encoded stream names, timestamps, base64 data and the time index") {
    ServerFixture fixture;
    HttpClient client(fixture.port());
    const std::string body = R"({"events": [
        {"type": "T", "timestamp": "2026-01-01T00:00:02Z", "data_base64": "/wA="},
        {"type": "T", "timestamp": "2026-01-01T00:00:01Z", "metadata": {"k": "v"}},
        {"type": "T", "timestamp": "2026-01-01T00:00:03Z"}]})";
    REQUIRE(client.request("POST", "/v1/streams/caf%C3%A9%20x", body).status == 400);
    REQUIRE(client.request("POST", "/v1/streams/caf%C3%A9", body).status == 200);
    auto stream = body_of(client.request("GET", "/v1/streams/caf%C3%A9"));
    CHECK(stream["stream"] == "caf\xc3\xa9");
    CHECK(stream["events"][0]["data_base64"] == "/wA=");
    CHECK(stream["events"][1]["metadata"]["k"] == "v");
    CHECK(stream["events"][1]["timestamp"] == "2026-01-01T00:00:01.000000Z");

    // Time order differs from position order; page through it one event at a time.
    std::vector<std::int64_t> positions;
    std::string target = "/v1/time?from=2026-01-01T00:00:00Z&to=2026-01-01T00:00:03Z&limit=1";
    std::string after;
    for (int guard = 0; guard < 10; ++guard) {
        auto page = body_of(client.request("GET", target + after));
        for (const auto& event : page["events"]) {
            positions.push_back(event["position"].get<std::int64_t>());
        }
        if (page["next"].is_null()) {
            break;
        }
        after = "&after=" + page["next"].get<std::string>();
    }
    CHECK(positions == std::vector<std::int64_t>{2, 1});  // the 00:03 event is excluded (to)
    auto micros = body_of(client.request("GET", "/v1/time?from=1767225602000000"));
    REQUIRE(micros["events"].size() == 2);
    CHECK(micros["events"][0]["position"] == 1);
    CHECK(client.request("GET", "/v1/time?from=yesterday").status == 400);
    CHECK(client.request("GET", "/v1/time?after=garbage").status == 400);
}

TEST_CASE("expected version conflicts answer 409 with the current version") {
    ServerFixture fixture;
    HttpClient client(fixture.port());
    auto conflict = client.request("POST", "/v1/streams/s", events_body(1, "\"exists\""));
    CHECK(conflict.status == 409);
    CHECK(body_of(conflict)["error"] == "wrong_expected_version");
    CHECK(body_of(conflict)["current_version"].is_null());

    REQUIRE(client.request("POST", "/v1/streams/s", events_body(2, "\"no_stream\"")).status == 200);
    auto stale = client.request("POST", "/v1/streams/s", events_body(1, "0"));
    CHECK(stale.status == 409);
    CHECK(body_of(stale)["current_version"] == 1);
    CHECK(client.request("POST", "/v1/streams/s", events_body(1, "\"no_stream\"")).status == 409);
    CHECK(client.request("POST", "/v1/streams/s", events_body(1, "1")).status == 200);
    CHECK(client.request("POST", "/v1/streams/s", events_body(1, "\"exists\"")).status == 200);
    // Nothing of the refused appends was written.
    CHECK(body_of(client.request("GET", "/v1/streams/s"))["events"].size() == 4);
}

TEST_CASE("retrying an append with the same event ids is idempotent") {
    ServerFixture fixture;
    HttpClient client(fixture.port());
    const std::string body = R"({"events": [{"id": ")" + kIdA + R"(", "type": "A"},
                                            {"id": ")" +
                             kIdB + R"(", "type": "B"}]})";
    REQUIRE(client.request("POST", "/v1/streams/s", events_body(1)).status == 200);
    auto first = body_of(client.request("POST", "/v1/streams/s", body));
    auto retry_result = client.request("POST", "/v1/streams/s", body);
    REQUIRE(retry_result.status == 200);
    auto retry = body_of(retry_result);
    CHECK(retry["deduplicated"] == true);
    CHECK(retry["first_position"] == first["first_position"]);
    CHECK(retry["last_position"] == first["last_position"]);
    CHECK(body_of(client.request("GET", "/v1/all"))["events"].size() == 3);

    const std::string mixed = R"({"events": [{"id": ")" + kIdB + R"(", "type": "B"},
                                             {"id": ")" +
                              kIdC + R"(", "type": "C"}]})";
    auto partial = client.request("POST", "/v1/streams/s", mixed);
    CHECK(partial.status == 400);
    CHECK(body_of(partial)["error"] == "partial_duplicate");
    CHECK(body_of(client.request("GET", "/v1/all"))["events"].size() == 3);
}

TEST_CASE("errors: 400 malformed JSON, invalid stream, 404, 405, 413") {
    ServerOptions options;
    options.max_body_bytes = 1024;
    ServerFixture fixture(options);
    HttpClient client(fixture.port());

    auto malformed = client.request("POST", "/v1/streams/s", "{\"events\": [1,}");
    CHECK(malformed.status == 400);
    CHECK(body_of(malformed)["error"] == "malformed_json");
    CHECK(body_of(malformed)["message"].get<std::string>().find("column") != std::string::npos);

    auto reserved = client.request("POST", "/v1/streams/%24system", events_body(1));
    CHECK(reserved.status == 400);
    CHECK(body_of(reserved)["error"] == "invalid_stream");
    CHECK(client.request("GET", "/v1/streams/a%2Fb").status == 400);
    CHECK(client.request("GET", "/v1/streams/a%zz").status == 400);

    auto unknown = client.request("GET", "/v2/nothing");
    CHECK(unknown.status == 404);
    CHECK(body_of(unknown)["error"] == "not_found");
    CHECK(client.request("GET", "/v1/streams/a/b").status == 404);

    auto wrong_method = client.request("DELETE", "/v1/streams/s");
    CHECK(wrong_method.status == 405);
    CHECK(body_of(wrong_method)["error"] == "method_not_allowed");
    CHECK(wrong_method.headers["allow"] == "GET, POST");
    CHECK(client.request("POST", "/healthz", "{}").status == 405);

    // The connection is still usable after all those errors.
    CHECK(client.request("GET", "/healthz").body == "ok");

    HttpClient big(fixture.port());
    auto too_large = big.request("POST", "/v1/streams/s", events_body(200));
    CHECK(too_large.status == 413);
    CHECK(body_of(too_large)["error"] == "body_too_large");
    CHECK(too_large.headers["connection"] == "close");
    CHECK(fixture.store().head_position() == 0);

    HttpClient after(fixture.port());
    CHECK(after.request("GET", "/healthz").status == 200);
}

TEST_CASE("pipelined requests sent in one write are answered in order") {
    ServerFixture fixture;
    HttpClient client(fixture.port());
    const std::string append_body = events_body(1);
    std::string pipeline;
    pipeline +=
        "POST /v1/streams/p HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        "Content-Length: " +
        std::to_string(append_body.size()) + "\r\n\r\n" + append_body;
    pipeline += "GET /v1/streams/p HTTP/1.1\r\nHost: x\r\n\r\n";
    pipeline += "GET /v1/nothing HTTP/1.1\r\nHost: x\r\n\r\n";
    client.send_raw(pipeline);
    auto appended = client.read_response();
    auto read = client.read_response();
    auto missing = client.read_response();
    REQUIRE(appended.ok);
    REQUIRE(read.ok);
    REQUIRE(missing.ok);
    CHECK(appended.status == 200);
    CHECK(body_of(appended)["last_position"] == 1);
    CHECK(read.status == 200);  // the read saw the append that came before it
    CHECK(body_of(read)["events"].size() == 1);
    CHECK(missing.status == 404);
}

TEST_CASE("concurrent keep-alive appenders get gapless, unique positions") {
    ServerOptions options;
    options.io_threads = 2;
    ServerFixture fixture(options, /*durable=*/true);
    constexpr int kClients = 16;
    constexpr int kAppendsEach = 25;
    std::vector<std::vector<std::int64_t>> positions(kClients);
    std::vector<std::thread> threads;
    for (int c = 0; c < kClients; ++c) {
        threads.emplace_back([&, c] {
            HttpClient client(fixture.port());
            for (int i = 0; i < kAppendsEach; ++i) {
                auto result =
                    client.request("POST", "/v1/streams/c" + std::to_string(c % 4), events_body(1));
                if (result.status == 200) {
                    positions[static_cast<std::size_t>(c)].push_back(
                        json::parse(result.body)["last_position"].get<std::int64_t>());
                }
            }
        });
    }
    for (auto& thread : threads) {
        thread.join();
    }
    std::vector<std::int64_t> all;
    for (const auto& list : positions) {
        all.insert(all.end(), list.begin(), list.end());
    }
    std::sort(all.begin(), all.end());
    REQUIRE(all.size() == kClients * kAppendsEach);
    for (std::size_t i = 0; i < all.size(); ++i) {
        CHECK(all[i] == static_cast<std::int64_t>(i + 1));
    }
    const auto stats = fixture.store().stats();
    CHECK(stats.events == kClients * kAppendsEach);
    CHECK(stats.commits <= stats.events);
}

TEST_CASE("health, readiness, status and metrics") {
    ServerFixture fixture;
    HttpClient client(fixture.port());
    REQUIRE(client.request("POST", "/v1/streams/m", events_body(3)).status == 200);
    CHECK(client.request("POST", "/v1/streams/m", "nope").status == 400);
    auto health = client.request("GET", "/healthz");
    CHECK(health.status == 200);
    CHECK(health.body == "ok");
    CHECK(client.request("GET", "/readyz").body == "ready");

    auto status = body_of(client.request("GET", "/v1/status"));
    CHECK(status["version"] == "0.1.0");
    CHECK(status["head_position"] == 3);
    CHECK(status["store"]["events"] == 3);

    auto metrics = client.request("GET", "/metrics");
    REQUIRE(metrics.status == 200);
    CHECK(metrics.headers["content-type"].find("version=0.0.4") != std::string::npos);
    const std::string& text = metrics.body;
    for (const char* name :
         {"annal_appends_total 1", "annal_append_events_total 3", "annal_append_bytes_total",
          "annal_fsyncs_total", "annal_batch_events_bucket{le=\"1\"}", "annal_batch_events_count 1",
          "annal_append_latency_seconds_bucket{le=\"+Inf\"} 1",
          "annal_append_latency_seconds_count 1", "annal_read_requests_total",
          "annal_http_requests_total{code=\"200\"}", "annal_http_requests_total{code=\"400\"} 1",
          "annal_subscribers 0", "annal_head_position 3"}) {
        CAPTURE(name);
        CHECK(text.find(name) != std::string::npos);
    }
    // Every sample line is "name{labels} value" with a numeric value; buckets never
    // decrease.
    std::istringstream lines(text);
    std::string line;
    double previous_bucket = -1;
    std::string previous_histogram;
    while (std::getline(lines, line)) {
        if (line.empty() || line[0] == '#') {
            continue;
        }
        const auto space = line.rfind(' ');
        REQUIRE(space != std::string::npos);
        const std::string value = line.substr(space + 1);
        CHECK_NOTHROW((void)std::stod(value));
        const auto bucket = line.find("_bucket{");
        if (bucket != std::string::npos) {
            const std::string histogram = line.substr(0, bucket);
            const double count = std::stod(value);
            if (histogram == previous_histogram) {
                CHECK(count >= previous_bucket);
            }
            previous_histogram = histogram;
            previous_bucket = count;
        }
    }

    // Connections open before the shutdown began get 503s (and are then closed).
    HttpClient second(fixture.port());
    REQUIRE(second.request("GET", "/healthz").status == 200);
    fixture.server().begin_shutdown();
    auto ready = client.request("GET", "/readyz");
    CHECK(ready.status == 503);
    CHECK(ready.headers["connection"] == "close");
    auto refused = second.request("POST", "/v1/streams/m", events_body(1));
    CHECK(refused.status == 503);
    CHECK(body_of(refused)["error"] == "shutting_down");
    CHECK(fixture.store().head_position() == 3);
}

TEST_CASE("garbage on the port never takes the server down") {
    ServerFixture fixture;
    std::mt19937 random(12345);
    for (int round = 0; round < 20; ++round) {
        HttpClient client(fixture.port());
        std::string noise(64 + random() % 2048, '\0');
        for (auto& c : noise) {
            c = static_cast<char>(random() & 0xff);
        }
        client.send_raw(noise);
        const std::string answer = client.read_until_close(std::chrono::seconds(5));
        // Either a 400 or a plain close; never a hang (read_until_close returned).
        if (!answer.empty()) {
            CHECK(answer.rfind("HTTP/1.1 400", 0) == 0);
        }
    }
    {
        HttpClient client(fixture.port());
        client.send_raw("GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " +
                        std::string(64 * 1024, 'a') + "\r\n\r\n");
        const std::string answer = client.read_until_close(std::chrono::seconds(5));
        CHECK(answer.rfind("HTTP/1.1 400", 0) == 0);
    }
    {
        HttpClient client(fixture.port());
        client.send_raw("POST /v1/streams/s HTTP/1.1\r\nContent-Length: 100\r\n\r\n{\"ev");
        // truncated body: the client hangs up half-way
    }
    {
        HttpClient client(fixture.port());
        client.send_raw("GET / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nZZZ\r\n");
        const std::string answer = client.read_until_close(std::chrono::seconds(5));
        CHECK(answer.rfind("HTTP/1.1 400", 0) == 0);
    }
    {
        HttpClient client(fixture.port());
        client.send_raw("\r\n\r\nHELLO\r\n\r\n");
        CHECK(client.read_until_close(std::chrono::seconds(5)).rfind("HTTP/1.1 400", 0) == 0);
    }
    HttpClient client(fixture.port());
    CHECK(client.request("GET", "/healthz").status == 200);
    CHECK(client.request("POST", "/v1/streams/s", events_body(1)).status == 200);
    CHECK(fixture.store().head_position() == 1);
}

TEST_CASE("Expect: 100-continue gets an interim reply before the body is sent") {
    ServerFixture fixture;
    HttpClient client(fixture.port());
    const std::string body = events_body(2);
    client.send_raw(
        "POST /v1/streams/e HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\n"
        "Content-Type: application/json\r\nContent-Length: " +
        std::to_string(body.size()) + "\r\n\r\n");
    auto interim = client.read_response();
    REQUIRE(interim.ok);
    CHECK(interim.status == 100);
    client.send_raw(body);
    auto final_reply = client.read_response();
    REQUIRE(final_reply.ok);
    CHECK(final_reply.status == 200);
    CHECK(body_of(final_reply)["last_position"] == 2);
}
