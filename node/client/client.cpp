#include "client/client.hpp"

#include <array>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <thread>

#include "client/http_connection.hpp"
#include "tls/tls_context.hpp"

namespace annal::client {

namespace http = boost::beast::http;
using nlohmann::json;

namespace {

void append_json_string(std::string& out, const std::string& text) {
    out += json(text).dump();
}

Error protocol_error(const std::string& what) {
    Error error;
    error.kind = Error::Kind::Protocol;
    error.code = "bad_response";
    error.message = what;
    return error;
}

// Parses a 2xx JSON body or turns a non-2xx answer into the server's Error.
Result<json> json_reply(Result<HttpResponse> reply) {
    if (!reply) {
        return reply.error();
    }
    const auto& response = reply.value();
    if (response.status / 100 != 2) {
        return error_from_response(response);
    }
    auto body = json::parse(response.body, nullptr, false);
    if (body.is_discarded() || !body.is_object()) {
        return protocol_error("expected a JSON object from the server, got: " +
                              response.body.substr(0, 200));
    }
    return body;
}

std::optional<std::uint64_t> optional_u64(const json& object, const char* key) {
    const auto it = object.find(key);
    if (it == object.end() || !it->is_number_unsigned()) {
        return std::nullopt;
    }
    return it->get<std::uint64_t>();
}

std::optional<RecordedEvent> event_from_json(const json& object, std::string& error) {
    try {
        RecordedEvent event;
        event.position = object.at("position").get<std::uint64_t>();
        event.stream = object.at("stream").get<std::string>();
        event.version = object.at("version").get<std::uint64_t>();
        event.id = object.at("id").get<std::string>();
        event.type = object.at("type").get<std::string>();
        event.timestamp = object.value("timestamp", std::string());
        event.timestamp_us = object.value("timestamp_us", std::int64_t{0});
        if (const auto it = object.find("data_base64"); it != object.end() && it->is_string()) {
            event.data_base64 = it->get<std::string>();
        } else if (const auto data = object.find("data"); data != object.end()) {
            event.data_json = data->dump();
        } else {
            event.data_json = "null";
        }
        if (const auto it = object.find("metadata"); it != object.end()) {
            event.metadata_json = it->dump();
        }
        event.raw_json = object.dump();
        return event;
    } catch (const json::exception& e) {
        error = std::string("unreadable event from the server: ") + e.what();
        return std::nullopt;
    }
}

Result<std::vector<RecordedEvent>> events_from(const json& body) {
    const auto it = body.find("events");
    if (it == body.end() || !it->is_array()) {
        return protocol_error("reply has no \"events\" array");
    }
    std::vector<RecordedEvent> events;
    events.reserve(it->size());
    for (const auto& item : *it) {
        std::string error;
        auto event = event_from_json(item, error);
        if (!event) {
            return protocol_error(error);
        }
        events.push_back(std::move(*event));
    }
    return events;
}

const char* direction_name(Direction direction) {
    return direction == Direction::Forwards ? "forwards" : "backwards";
}

// The paging part of a stream or global read: direction, where to start (a backwards read
// without `from` starts at the end) and the page size.
std::string paging_query(Direction direction, std::optional<std::uint64_t> from,
                         std::optional<std::size_t> limit) {
    std::string query = std::string("direction=") + direction_name(direction);
    if (from) {
        query += "&from=" + std::to_string(*from);
    } else if (direction == Direction::Backwards) {
        query += "&from=end";
    }
    if (limit) {
        query += "&limit=" + std::to_string(*limit);
    }
    return query;
}

// A page of events: the reply's JSON body (for its other fields) and its events.
struct EventsReply {
    json body;
    std::vector<RecordedEvent> events;
};

Result<EventsReply> events_reply(Result<HttpResponse> reply) {
    auto body = json_reply(std::move(reply));
    if (!body) {
        return body.error();
    }
    auto events = events_from(body.value());
    if (!events) {
        return events.error();
    }
    return EventsReply{std::move(body).value(), std::move(events).value()};
}

Result<AppendOutcome> append_outcome(Result<HttpResponse> reply) {
    auto body = json_reply(std::move(reply));
    if (!body) {
        return body.error();
    }
    const auto& object = body.value();
    try {
        AppendOutcome outcome;
        outcome.stream = object.value("stream", std::string());
        outcome.first_position = object.at("first_position").get<std::uint64_t>();
        outcome.last_position = object.at("last_position").get<std::uint64_t>();
        outcome.version = object.at("version").get<std::uint64_t>();
        outcome.deduplicated = object.value("deduplicated", false);
        return outcome;
    } catch (const json::exception& e) {
        return protocol_error(std::string("unreadable append reply: ") + e.what());
    }
}

// Where a 307 points: "http(s)://host:port/target" -> the endpoint and the target.
bool split_location(const std::string& location, Endpoint& endpoint, std::string& target) {
    const auto scheme_end = location.find("://");
    if (scheme_end == std::string::npos) {
        return false;
    }
    const auto slash = location.find('/', scheme_end + 3);
    const std::string authority =
        location.substr(0, slash == std::string::npos ? location.size() : slash);
    std::string error;
    auto parsed = Endpoint::parse(authority, error);
    if (!parsed) {
        return false;
    }
    endpoint = std::move(*parsed);
    target = slash == std::string::npos ? "/" : location.substr(slash);
    return true;
}

std::string error_code_of(const HttpResponse& response) {
    const auto body = json::parse(response.body, nullptr, false);
    if (body.is_object() && body.contains("error") && body["error"].is_string()) {
        return body["error"].get<std::string>();
    }
    return {};
}

}  // namespace

Result<HttpResponse> Client::exchange(http::verb method, const std::string& target,
                                      std::string_view body, bool idempotent) {
    std::string current_target = target;
    int redirects = 0;
    auto backoff = std::chrono::milliseconds(50);
    const auto give_up_at = std::chrono::steady_clock::now() + options_.leader_retry_budget;
    for (;;) {
        if (!connection_) {
            auto connection = connect_to_endpoint();
            if (!connection) {
                return connection.error();
            }
            connection_ = std::move(connection).value();
        }
        auto reply = connection_->round_trip(method, current_target, body, idempotent);
        if (!reply) {
            return reply;
        }
        const HttpResponse& response = reply.value();
        if (response.status == 307 && !response.location.empty() &&
            redirects < options_.max_redirects) {
            Endpoint leader;
            std::string leader_target;
            if (!split_location(response.location, leader, leader_target)) {
                return reply;
            }
            ++redirects;
            // Never from https down to http: every node of a cluster has the same TLS
            // setting, and a redirect must not strip the protection the caller asked for.
            leader.tls = leader.tls || endpoint_.tls;
            // A 307 means the follower did nothing: following it is always safe. Later
            // requests go straight to the leader.
            endpoint_ = std::move(leader);
            auto connection = connect_to_endpoint();
            if (!connection) {
                return connection.error();
            }
            connection_ = std::move(connection).value();
            current_target = std::move(leader_target);
            continue;
        }
        if (response.status == 503 && std::chrono::steady_clock::now() < give_up_at) {
            const std::string code = error_code_of(response);
            // no_leader: nothing was proposed. not_committed: the append may or may not
            // survive, which only ids fixed before the first try make safe to repeat.
            if (code == "no_leader" || (code == "not_committed" && idempotent)) {
                std::this_thread::sleep_for(backoff);
                backoff = std::min(backoff * 2, std::chrono::milliseconds(500));
                continue;
            }
        }
        return reply;
    }
}

std::string Error::describe() const {
    std::string text;
    if (kind == Kind::Http) {
        text = std::to_string(http_status) + " ";
    }
    text += code;
    if (!message.empty()) {
        text += ": " + message;
    }
    if (code == "wrong_expected_version") {
        text += current_version ? " (current version " + std::to_string(*current_version) + ")"
                                : " (the stream has no events)";
    }
    return text;
}

std::optional<ExpectedVersion> ExpectedVersion::parse(const std::string& text) {
    if (text == "any") {
        return any();
    }
    if (text == "no_stream") {
        return no_stream();
    }
    if (text == "exists") {
        return exists();
    }
    if (text.empty() || text.size() > 19 ||
        text.find_first_not_of("0123456789") != std::string::npos) {
        return std::nullopt;
    }
    return exact(std::stoull(text));
}

std::string ExpectedVersion::to_json() const {
    switch (kind) {
        case Kind::Any:
            return "\"any\"";
        case Kind::NoStream:
            return "\"no_stream\"";
        case Kind::Exists:
            return "\"exists\"";
        case Kind::Exact:
            return std::to_string(version);
    }
    return "\"any\"";
}

Client::Client(Endpoint endpoint, ClientOptions options)
    : endpoint_(std::move(endpoint)),
      options_(std::move(options)),
      uuid_random_(std::random_device{}()) {}

Client::~Client() = default;

Result<std::unique_ptr<HttpConnection>> Client::connect_to_endpoint() {
    if (endpoint_.tls && !tls_context_) {
        std::string error;
        tls_context_ = tls::make_client_context(
            tls::TlsFiles{options_.tls_cert_file, options_.tls_key_file, options_.tls_ca_file},
            error);
        if (!tls_context_) {
            Error failure;
            failure.kind = Error::Kind::Transport;
            failure.code = "tls_setup_failed";
            failure.message = error;
            return failure;
        }
    }
    return std::make_unique<HttpConnection>(endpoint_, options_.connect_timeout,
                                            options_.request_timeout, tls_context_);
}

std::string Client::random_uuid() {
    std::array<unsigned char, 16> bytes{};
    for (std::size_t i = 0; i < bytes.size(); i += 8) {
        auto word = uuid_random_();
        for (std::size_t j = 0; j < 8; ++j) {
            bytes[i + j] = static_cast<unsigned char>(word >> (8 * j));
        }
    }
    bytes[6] = static_cast<unsigned char>((bytes[6] & 0x0f) | 0x40);  // version 4
    bytes[8] = static_cast<unsigned char>((bytes[8] & 0x3f) | 0x80);  // RFC 4122 variant
    static constexpr char kHex[] = "0123456789abcdef";
    std::string text;
    text.reserve(36);
    for (std::size_t i = 0; i < bytes.size(); ++i) {
        if (i == 4 || i == 6 || i == 8 || i == 10) {
            text += '-';
        }
        text += kHex[bytes[i] >> 4];
        text += kHex[bytes[i] & 0x0f];
    }
    return text;
}

std::string Client::percent_encode(const std::string& text) {
    static constexpr char kHex[] = "0123456789ABCDEF";
    std::string out;
    out.reserve(text.size());
    for (const char c : text) {
        const auto byte = static_cast<unsigned char>(c);
        const bool unreserved = (byte >= 'A' && byte <= 'Z') || (byte >= 'a' && byte <= 'z') ||
                                (byte >= '0' && byte <= '9') || byte == '-' || byte == '_' ||
                                byte == '.' || byte == '~';
        if (unreserved) {
            out += c;
        } else {
            out += '%';
            out += kHex[byte >> 4];
            out += kHex[byte & 0x0f];
        }
    }
    return out;
}

std::string Client::event_json(const NewEvent& event) {
    std::string out = "{";
    if (!event.id.empty()) {
        out += "\"id\":";
        append_json_string(out, event.id);
        out += ',';
    }
    out += "\"type\":";
    append_json_string(out, event.type);
    if (!event.timestamp_json.empty()) {
        out += ",\"timestamp\":" + event.timestamp_json;
    }
    if (event.data_base64) {
        out += ",\"data_base64\":";
        append_json_string(out, *event.data_base64);
    } else {
        out += ",\"data\":" + (event.data_json.empty() ? std::string("null") : event.data_json);
    }
    if (!event.metadata_json.empty()) {
        out += ",\"metadata\":" + event.metadata_json;
    }
    out += '}';
    return out;
}

Result<AppendOutcome> Client::append(const std::string& stream, ExpectedVersion expected,
                                     std::vector<NewEvent> events) {
    std::string body = "{\"expected_version\":" + expected.to_json() + ",\"events\":[";
    for (std::size_t i = 0; i < events.size(); ++i) {
        if (events[i].id.empty()) {
            events[i].id = random_uuid();
        }
        if (i != 0) {
            body += ',';
        }
        body += event_json(events[i]);
    }
    body += "]}";
    return append_outcome(
        exchange(http::verb::post, "/v1/streams/" + percent_encode(stream), body, true));
}

Result<AppendOutcome> Client::append_raw(const std::string& stream, const std::string& body) {
    return append_outcome(
        exchange(http::verb::post, "/v1/streams/" + percent_encode(stream), body, false));
}

Result<StreamPage> Client::read_stream(const ReadStreamRequest& request) {
    const std::string target = "/v1/streams/" + percent_encode(request.stream) + "?" +
                               paging_query(request.direction, request.from, request.limit);
    auto reply = events_reply(exchange(http::verb::get, target, {}, true));
    if (!reply) {
        return reply.error();
    }
    StreamPage page;
    page.stream = reply.value().body.value("stream", request.stream);
    page.next = optional_u64(reply.value().body, "next");
    page.events = std::move(reply).value().events;
    return page;
}

Result<AllPage> Client::read_all(const ReadAllRequest& request) {
    const std::string target =
        "/v1/all?" + paging_query(request.direction, request.from, request.limit);
    auto reply = events_reply(exchange(http::verb::get, target, {}, true));
    if (!reply) {
        return reply.error();
    }
    AllPage page;
    page.next = optional_u64(reply.value().body, "next");
    page.events = std::move(reply).value().events;
    return page;
}

Result<TimePage> Client::read_time(const ReadTimeRequest& request) {
    std::string target =
        "/v1/time?from=" + percent_encode(request.from) + "&to=" + percent_encode(request.to);
    if (request.after) {
        target += "&after=" + percent_encode(*request.after);
    }
    if (request.limit) {
        target += "&limit=" + std::to_string(*request.limit);
    }
    auto reply = events_reply(exchange(http::verb::get, target, {}, true));
    if (!reply) {
        return reply.error();
    }
    TimePage page;
    const json& body = reply.value().body;
    if (const auto it = body.find("next"); it != body.end() && it->is_string()) {
        page.next = it->get<std::string>();
    }
    page.events = std::move(reply).value().events;
    return page;
}

Result<NodeStatus> Client::status() {
    auto body = json_reply(exchange(http::verb::get, "/v1/status", {}, true));
    if (!body) {
        return body.error();
    }
    const auto& object = body.value();
    NodeStatus status;
    status.version = object.value("version", std::string());
    status.head_position = optional_u64(object, "head_position").value_or(0);
    if (const auto it = object.find("uptime_s"); it != object.end() && it->is_number()) {
        status.uptime_s = it->get<double>();
    }
    status.raw_json = object.dump();
    return status;
}

Result<PlainResponse> Client::send(const std::string& method, const std::string& target,
                                   const std::string& body) {
    const http::verb verb = http::string_to_verb(method);
    if (verb == http::verb::unknown) {
        return protocol_error("unknown HTTP method " + method);
    }
    auto reply = exchange(verb, target, body, verb != http::verb::post);
    if (!reply) {
        return reply.error();
    }
    auto& response = reply.value();
    if (response.status / 100 != 2) {
        return error_from_response(response);
    }
    return PlainResponse{response.status, std::move(response.content_type),
                         std::move(response.body)};
}

Result<PlainResponse> Client::get(const std::string& target) {
    auto reply = exchange(http::verb::get, target, {}, true);
    if (!reply) {
        return reply.error();
    }
    auto& response = reply.value();
    return PlainResponse{response.status, std::move(response.content_type),
                         std::move(response.body)};
}

Result<Done> Client::subscribe(const SubscribeRequest& request,
                               const std::function<bool(const RecordedEvent&)>& on_event,
                               std::stop_token stop) {
    std::string target = "/v1/subscribe";
    char separator = '?';
    if (request.from) {
        target += separator + std::string("from=") + std::to_string(*request.from);
        separator = '&';
    }
    if (request.stream) {
        target += separator + std::string("stream=") + percent_encode(*request.stream);
    }
    auto connected = connect_to_endpoint();
    if (!connected) {
        return connected.error();
    }
    HttpConnection& connection = *connected.value();
    std::string pending;
    std::optional<Error> failure;
    // NDJSON may be split anywhere by chunking: only complete lines are events.
    const auto on_bytes = [&](std::string_view bytes) {
        pending.append(bytes);
        std::size_t start = 0;
        for (auto end = pending.find('\n'); end != std::string::npos;
             end = pending.find('\n', start)) {
            const auto line = pending.substr(start, end - start);
            start = end + 1;
            if (line.find_first_not_of(" \r\t") == std::string::npos) {
                continue;
            }
            const auto object = json::parse(line, nullptr, false);
            if (!object.is_object()) {
                failure = protocol_error("unreadable subscription line: " + line.substr(0, 200));
                return false;
            }
            if (object.contains("heartbeat")) {
                continue;
            }
            std::string error;
            auto event = event_from_json(object, error);
            if (!event) {
                failure = protocol_error(error);
                return false;
            }
            if (!on_event(*event)) {
                return false;
            }
        }
        pending.erase(0, start);
        return true;
    };
    auto result = connection.stream_get(target, on_bytes, stop, options_.subscription_idle_timeout);
    if (failure) {
        return *failure;
    }
    return result;
}

std::optional<RecordedEvent> parse_recorded_event(const std::string& json_text,
                                                  std::string& error) {
    const auto object = json::parse(json_text, nullptr, false);
    if (!object.is_object()) {
        error = "not a JSON object";
        return std::nullopt;
    }
    return event_from_json(object, error);
}

}  // namespace annal::client
