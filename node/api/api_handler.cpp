#include "api/api_handler.hpp"

#include <charconv>
#include <limits>

#include "api/append_request_parser.hpp"
#include "api/http_session.hpp"
#include "api/internal_snapshot_route.hpp"
#include "api/json_writer.hpp"
#include "api/metrics.hpp"
#include "api/query_params.hpp"
#include "api/timestamp.hpp"
#include "api/validation.hpp"

namespace annal::api {
namespace {

constexpr std::string_view kStreamsPrefix = "/v1/streams/";
constexpr std::uint64_t kFromEnd = std::numeric_limits<std::uint64_t>::max();

ApiError invalid_parameter(std::string_view name, std::string_view what) {
    return ApiError{400, "invalid_parameter",
                    "query parameter '" + std::string(name) + "' " + std::string(what), false,
                    std::nullopt};
}

std::optional<std::uint64_t> parse_uint(std::string_view text) {
    std::uint64_t value = 0;
    if (text.empty()) {
        return std::nullopt;
    }
    const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (error != std::errc() || end != text.data() + text.size()) {
        return std::nullopt;
    }
    return value;
}

// Parses the query string or produces the 400 reply naming the bad parameter.
std::optional<QueryParams> parse_query(std::string_view query, ApiError& error) {
    std::string bad_name;
    auto params = QueryParams::parse(query, bad_name);
    if (!params) {
        error = invalid_parameter(bad_name, "has a malformed percent-escape");
    }
    return params;
}

bool parse_limit(const QueryParams& params, const ApiLimits& limits, std::size_t& limit,
                 ApiError& error) {
    limit = limits.default_read_limit;
    if (const auto text = params.get("limit")) {
        const auto value = parse_uint(*text);
        if (!value || *value == 0) {
            error = invalid_parameter("limit", "must be an integer >= 1");
            return false;
        }
        limit = *value;
    }
    if (limit > limits.max_read_limit) {
        limit = limits.max_read_limit;
    }
    return true;
}

bool parse_direction(const QueryParams& params, storage::Direction& direction, ApiError& error) {
    direction = storage::Direction::Forwards;
    if (const auto text = params.get("direction")) {
        if (*text == "backwards") {
            direction = storage::Direction::Backwards;
        } else if (*text != "forwards") {
            error = invalid_parameter("direction", "must be 'forwards' or 'backwards'");
            return false;
        }
    }
    return true;
}

// `from` as a version/position or the word `end`; absent: 0 forwards, end backwards.
bool parse_from(const QueryParams& params, storage::Direction direction, std::uint64_t start,
                std::uint64_t& from, ApiError& error) {
    from = direction == storage::Direction::Forwards ? start : kFromEnd;
    if (const auto text = params.get("from")) {
        if (*text == "end") {
            from = kFromEnd;
            return true;
        }
        const auto value = parse_uint(*text);
        if (!value) {
            error = invalid_parameter("from", "must be an integer >= 0 or 'end'");
            return false;
        }
        from = *value;
    }
    return true;
}

Reply read_failure(const storage::ReadResult& result) {
    if (result.status == storage::ReadStatus::Corrupt) {
        return ApiHandler::error_reply(
            ApiError{500, "corrupt_data", result.message, false, std::nullopt});
    }
    return ApiHandler::error_reply(ApiError{500, "io_error", result.message, false, std::nullopt});
}

void append_events_array(const std::vector<storage::StoredEvent>& events, std::size_t count,
                         std::string& out) {
    out.push_back('[');
    for (std::size_t i = 0; i < count; ++i) {
        if (i > 0) {
            out.push_back(',');
        }
        append_event_json(events[i], out);
    }
    out.push_back(']');
}

std::size_t estimated_size(const std::vector<storage::StoredEvent>& events) {
    std::size_t size = 64;
    for (const auto& event : events) {
        size += 200 + event.stream.size() + event.type.size() + event.data.size() * 4 / 3 +
                event.metadata.size();
    }
    return size;
}

constexpr std::string_view kAdminPrefix = "/admin/";

// `consistency=stale` skips the read barrier; anything else but `linearizable` is a 400.
// Returns whether the read must wait for the barrier.
bool wants_barrier(std::string_view query, ApiError& error, bool& bad) {
    bad = false;
    std::string bad_name;
    const auto params = QueryParams::parse(query, bad_name);
    if (!params) {
        return false;  // the read itself reports the malformed escape
    }
    const auto value = params->get("consistency");
    if (!value || *value == "linearizable") {
        return true;
    }
    if (*value == "stale") {
        return false;
    }
    bad = true;
    error = invalid_parameter("consistency", "must be 'linearizable' (default) or 'stale'");
    return false;
}

Reply method_not_allowed(std::string_view allow) {
    Reply reply = ApiHandler::error_reply(
        ApiError{405, "method_not_allowed", "use " + std::string(allow), false, std::nullopt});
    reply.allow = allow;
    return reply;
}

Reply text_reply(unsigned status, std::string body) {
    Reply reply;
    reply.status = status;
    reply.content_type = "text/plain; charset=utf-8";
    reply.body = std::move(body);
    return reply;
}

}  // namespace

std::string encode_time_cursor(std::int64_t timestamp_us, std::uint64_t position) {
    std::string out;
    append_json_int(timestamp_us, out);
    out.push_back('_');
    append_json_uint(position, out);
    return out;
}

bool decode_time_cursor(std::string_view text, std::int64_t& timestamp_us,
                        std::uint64_t& position) {
    const auto underscore = text.find('_');
    if (underscore == std::string_view::npos) {
        return false;
    }
    const std::string_view time_text = text.substr(0, underscore);
    const auto [end, error] =
        std::from_chars(time_text.data(), time_text.data() + time_text.size(), timestamp_us);
    if (time_text.empty() || error != std::errc() || end != time_text.data() + time_text.size()) {
        return false;
    }
    const auto parsed_position = parse_uint(text.substr(underscore + 1));
    if (!parsed_position) {
        return false;
    }
    position = *parsed_position;
    return true;
}

ApiHandler::ApiHandler(storage::EventStore& store, ApiLimits limits, Metrics& metrics,
                       const ServerFlags& flags, ClusterAdmin* cluster)
    : store_(store), limits_(limits), metrics_(metrics), flags_(flags), cluster_(cluster) {}

Reply ApiHandler::error_reply(const ApiError& error) {
    Reply reply;
    reply.status = error.status;
    reply.body = error_body(error);
    return reply;
}

Routed ApiHandler::route(std::string_view method, std::string_view target, std::string_view body,
                         const ConnectionSecurity& security, bool barrier_passed) const {
    const Target parts = split_target(target);
    const std::string_view path = parts.path;
    const bool is_get = method == "GET";

    if (path.substr(0, kAdminPrefix.size()) == kAdminPrefix) {
        return admin(method, path, parts.query, body);
    }
    if (path.substr(0, kInternalPrefix.size()) == kInternalPrefix) {
        // With TLS only a certificate from the cluster CA proves membership; plain HTTP
        // is as open as the peer protocol on the same port.
        const bool member = !security.tls || security.client_certificate_verified;
        return internal_route(store_, method, path, parts.query, member);
    }
    const bool is_read =
        is_get && (path.substr(0, kStreamsPrefix.size()) == kStreamsPrefix || path == "/v1/all" ||
                   path == "/v1/time" || path == "/v1/subscribe");
    if (is_read) {
        ApiError error;
        bool bad = false;
        const bool barrier = wants_barrier(parts.query, error, bad);
        if (bad) {
            return error_reply(error);
        }
        // A standalone store sees its own commits at once: no barrier to wait for.
        if (barrier && cluster_ != nullptr && !barrier_passed) {
            return BarrierJob{};
        }
    }

    if (path.substr(0, kStreamsPrefix.size()) == kStreamsPrefix) {
        const std::string_view encoded = path.substr(kStreamsPrefix.size());
        if (encoded.empty() || encoded.find('/') != std::string_view::npos) {
            return error_reply(ApiError{404, "not_found", "no route for " + std::string(path),
                                        false, std::nullopt});
        }
        if (method != "POST" && !is_get) {
            return method_not_allowed("GET, POST");
        }
        auto stream = percent_decode(encoded);
        if (!stream) {
            return error_reply(ApiError{400, "invalid_stream",
                                        "stream name has a malformed percent-escape", false,
                                        std::nullopt});
        }
        if (is_get) {
            std::string_view reason;
            if (!is_valid_stream_name(*stream, reason)) {
                return error_reply(ApiError{400, "invalid_stream",
                                            "stream name " + std::string(reason), false,
                                            std::nullopt});
            }
            return read_stream(*stream, parts.query);
        }
        if (flags_.shutting_down.load(std::memory_order_acquire)) {
            return error_reply(
                ApiError{503, "shutting_down", "the node is shutting down", false, std::nullopt});
        }
        ParsedAppend parsed = parse_append_request(*stream, body, now_us());
        if (!parsed.request) {
            return error_reply(parsed.error);
        }
        return AppendJob{std::move(*parsed.request)};
    }

    struct GetRoute {
        std::string_view path;
        int id;
    };
    static constexpr GetRoute kGetRoutes[] = {
        {"/healthz", 0}, {"/readyz", 1},  {"/metrics", 2},      {"/v1/status", 3},
        {"/v1/all", 4},  {"/v1/time", 5}, {"/v1/subscribe", 6},
    };
    for (const auto& candidate : kGetRoutes) {
        if (candidate.path != path) {
            continue;
        }
        if (!is_get) {
            return method_not_allowed("GET");
        }
        switch (candidate.id) {
            case 0:
                return text_reply(200, "ok");
            case 1:
                return readiness();
            case 2:
                return metrics();
            case 3:
                return status();
            case 4:
                return read_all(parts.query);
            case 5:
                return read_time(parts.query);
            default:
                return subscribe(parts.query);
        }
    }
    return error_reply(
        ApiError{404, "not_found", "no route for " + std::string(path), false, std::nullopt});
}

Reply ApiHandler::readiness() const {
    if (flags_.shutting_down.load(std::memory_order_acquire)) {
        return text_reply(503, "shutting down");
    }
    if (!flags_.ready.load(std::memory_order_acquire)) {
        return text_reply(503, "starting");
    }
    if (cluster_ == nullptr) {
        return text_reply(200, "ready");
    }
    const ClusterStatus status = cluster_->status();
    if (status.leader == 0) {
        return text_reply(503, "no leader");
    }
    if (!caught_up_.load(std::memory_order_acquire)) {
        // The first commit index seen with a known leader is what "caught up" means.
        std::uint64_t expected = 0;
        ready_commit_target_.compare_exchange_strong(
            expected, status.commit_index == 0 ? 1 : status.commit_index,
            std::memory_order_acq_rel);
        if (status.applied_index < ready_commit_target_.load(std::memory_order_acquire) &&
            status.commit_index != 0) {
            return text_reply(503, "catching up");
        }
        caught_up_.store(true, std::memory_order_release);
    }
    return text_reply(200, "ready");
}

Reply ApiHandler::metrics() const {
    std::string text = metrics_.render(store_.stats());
    if (cluster_ != nullptr) {
        const ClusterStatus status = cluster_->status();
        const auto gauge = [&text](std::string_view name, std::string_view help,
                                   std::uint64_t value) {
            text.append("# HELP ").append(name).append(" ").append(help).append("\n");
            text.append("# TYPE ").append(name).append(" gauge\n");
            text.append(name).append(" ").append(std::to_string(value)).append("\n");
        };
        gauge("annal_raft_term", "Current Raft term", status.term);
        gauge("annal_raft_commit_index", "Highest log index known committed", status.commit_index);
        gauge("annal_raft_applied_index", "Highest log index applied to the event store",
              status.applied_index);
        gauge("annal_raft_last_index", "Last index of the local Raft log", status.last_index);
        gauge("annal_raft_first_index", "First index still in the local Raft log",
              status.first_index);
        gauge("annal_raft_leader_id", "Node id of the known leader (0: none)", status.leader);
        gauge("annal_raft_node_id", "This node's id", status.self);
        gauge("annal_raft_members", "Members in the configuration (voters and learners)",
              status.members.size());
        text.append("# HELP annal_raft_role 1 for this node's current role\n");
        text.append("# TYPE annal_raft_role gauge\n");
        for (const char* role : {"leader", "follower", "candidate", "learner"}) {
            text.append("annal_raft_role{role=\"").append(role).append("\"} ");
            text.append(status.role == role ? "1\n" : "0\n");
        }
        text.append(cluster_->extra_metrics());
        text.append(snapshot_transfer_metrics(store_.snapshot_transfer_stats()));
    }
    Reply reply = text_reply(200, std::move(text));
    reply.content_type = "text/plain; version=0.0.4; charset=utf-8";
    return reply;
}

Reply ApiHandler::not_leader_reply(std::string_view leader_hint, std::uint64_t leader_id,
                                   std::string_view target, std::string_view message) {
    if (leader_hint.empty()) {
        Reply reply;
        reply.status = 503;
        reply.retry_after = "1";
        reply.body.append("{\"error\":\"no_leader\",\"message\":");
        append_json_string(message.empty() ? "no leader is known yet; retry" : message, reply.body);
        reply.body.push_back('}');
        return reply;
    }
    Reply reply;
    reply.status = 307;
    reply.location = "http://" + std::string(leader_hint) + std::string(target);
    reply.body.append("{\"error\":\"not_leader\",\"message\":");
    append_json_string(message.empty() ? "this node is not the leader; ask the leader" : message,
                       reply.body);
    reply.body.append(",\"leader\":");
    append_json_string(leader_hint, reply.body);
    reply.body.append(",\"leader_id\":");
    append_json_uint(leader_id, reply.body);
    reply.body.push_back('}');
    return reply;
}

Reply ApiHandler::barrier_reply(const storage::ReadBarrierResult& result, std::string_view target) {
    using Status = storage::ReadBarrierResult::Status;
    switch (result.status) {
        case Status::Ok:
            break;
        case Status::NotLeader:
            return not_leader_reply(result.leader_hint, result.leader_id, target, result.message);
        case Status::NoLeader:
            return not_leader_reply({}, 0, target, result.message);
        case Status::Timeout:
            return error_reply(ApiError{504, "timeout",
                                        result.message.empty()
                                            ? "could not confirm a linearizable read point in time"
                                            : result.message,
                                        false, std::nullopt});
        case Status::ShuttingDown:
            return error_reply(
                ApiError{503, "shutting_down", "the node is shutting down", false, std::nullopt});
    }
    return error_reply(ApiError{500, "internal", "read barrier passed", false, std::nullopt});
}

Reply ApiHandler::append_reply(const storage::AppendResult& result, std::string_view stream,
                               std::string_view target) {
    using storage::AppendStatus;
    switch (result.status) {
        case AppendStatus::Ok: {
            Reply reply;
            reply.body.reserve(128 + stream.size());
            reply.body.append("{\"stream\":");
            append_json_string(stream, reply.body);
            reply.body.append(",\"first_position\":");
            append_json_uint(result.first_position, reply.body);
            reply.body.append(",\"last_position\":");
            append_json_uint(result.last_position, reply.body);
            reply.body.append(",\"version\":");
            append_json_optional_uint(result.current_version, reply.body);
            reply.body.append(result.deduplicated ? ",\"deduplicated\":true}"
                                                  : ",\"deduplicated\":false}");
            return reply;
        }
        case AppendStatus::WrongExpectedVersion:
            return error_reply(
                ApiError{409, "wrong_expected_version",
                         result.message.empty() ? "wrong expected version" : result.message, true,
                         result.current_version});
        case AppendStatus::InvalidRequest: {
            std::string code = "invalid_event";
            if (result.invalid_reason == storage::InvalidReason::PartialDuplicate) {
                code = "partial_duplicate";
            } else if (result.invalid_reason == storage::InvalidReason::InvalidStream) {
                code = "invalid_stream";
            }
            return error_reply(ApiError{400, std::move(code), result.message, false, std::nullopt});
        }
        case AppendStatus::StorageFull:
            return error_reply(ApiError{507, "storage_full", result.message, false, std::nullopt});
        case AppendStatus::ShuttingDown:
            return error_reply(
                ApiError{503, "shutting_down", "the node is shutting down", false, std::nullopt});
        case AppendStatus::NotLeader:
            return not_leader_reply(result.leader_hint, result.leader_id, target, result.message);
        case AppendStatus::NotCommitted:
            return error_reply(ApiError{503, "not_committed",
                                        "leadership changed; retry (idempotent ids make it safe)",
                                        false, std::nullopt});
        case AppendStatus::IoError:
            break;
    }
    return error_reply(ApiError{500, "io_error", result.message, false, std::nullopt});
}

Reply ApiHandler::read_stream(const std::string& stream, std::string_view query) const {
    metrics_.count_read();
    ApiError error;
    const auto params = parse_query(query, error);
    storage::Direction direction{};
    std::uint64_t from = 0;
    std::size_t limit = 0;
    if (!params || !parse_direction(*params, direction, error) ||
        !parse_from(*params, direction, 0, from, error) ||
        !parse_limit(*params, limits_, limit, error)) {
        return error_reply(error);
    }
    // One extra event tells whether there is more, so `next` is null exactly at the end.
    const storage::ReadResult result = store_.read_stream(stream, from, direction, limit + 1);
    if (result.status != storage::ReadStatus::Ok) {
        return read_failure(result);
    }
    if (result.events.empty() && !store_.stream_version(stream)) {
        return error_reply(ApiError{404, "stream_not_found",
                                    "stream '" + stream + "' has no events", false, std::nullopt});
    }
    const std::size_t count = std::min(limit, result.events.size());
    Reply reply;
    reply.body.reserve(estimated_size(result.events));
    reply.body.append("{\"stream\":");
    append_json_string(stream, reply.body);
    reply.body.append(",\"events\":");
    append_events_array(result.events, count, reply.body);
    reply.body.append(",\"next\":");
    if (result.events.size() > limit) {
        append_json_uint(result.events[limit].version, reply.body);
    } else {
        reply.body.append("null");
    }
    reply.body.push_back('}');
    return reply;
}

Reply ApiHandler::read_all(std::string_view query) const {
    metrics_.count_read();
    ApiError error;
    const auto params = parse_query(query, error);
    storage::Direction direction{};
    std::uint64_t from = 0;
    std::size_t limit = 0;
    if (!params || !parse_direction(*params, direction, error) ||
        !parse_from(*params, direction, 1, from, error) ||
        !parse_limit(*params, limits_, limit, error)) {
        return error_reply(error);
    }
    const storage::ReadResult result = store_.read_all(from, direction, limit + 1);
    if (result.status != storage::ReadStatus::Ok) {
        return read_failure(result);
    }
    const std::size_t count = std::min(limit, result.events.size());
    Reply reply;
    reply.body.reserve(estimated_size(result.events));
    reply.body.append("{\"events\":");
    append_events_array(result.events, count, reply.body);
    reply.body.append(",\"next\":");
    if (result.events.size() > limit) {
        append_json_uint(result.events[limit].position, reply.body);
    } else {
        reply.body.append("null");
    }
    reply.body.push_back('}');
    return reply;
}

Reply ApiHandler::read_time(std::string_view query) const {
    metrics_.count_read();
    ApiError error;
    const auto params = parse_query(query, error);
    std::size_t limit = 0;
    if (!params || !parse_limit(*params, limits_, limit, error)) {
        return error_reply(error);
    }
    std::int64_t from_us = kMinTimestampUs;
    std::int64_t to_us = kMaxTimestampUs;
    if (const auto text = params->get("from")) {
        const auto value = parse_timestamp_param(*text);
        if (!value) {
            return error_reply(
                invalid_parameter("from", "must be RFC 3339 or integer microseconds"));
        }
        from_us = *value;
    }
    if (const auto text = params->get("to")) {
        const auto value = parse_timestamp_param(*text);
        if (!value) {
            return error_reply(invalid_parameter("to", "must be RFC 3339 or integer microseconds"));
        }
        to_us = *value;
    }
    storage::ReadResult result;
    if (const auto text = params->get("after")) {
        std::int64_t after_us = 0;
        std::uint64_t after_position = 0;
        if (!decode_time_cursor(*text, after_us, after_position)) {
            return error_reply(invalid_parameter("after", "is not a cursor from a previous read"));
        }
        // The cursor continues the range; `from` cannot move it backwards.
        if (after_us < from_us) {
            after_us = from_us;
            after_position = 0;
        }
        result = store_.read_time_range_after(after_us, after_position, to_us, limit + 1);
    } else {
        result = store_.read_time_range(from_us, to_us, limit + 1);
    }
    if (result.status != storage::ReadStatus::Ok) {
        return read_failure(result);
    }
    const std::size_t count = std::min(limit, result.events.size());
    Reply reply;
    reply.body.reserve(estimated_size(result.events));
    reply.body.append("{\"events\":");
    append_events_array(result.events, count, reply.body);
    reply.body.append(",\"next\":");
    if (result.events.size() > limit) {
        const auto& last = result.events[limit - 1];
        append_json_string(encode_time_cursor(last.timestamp_us, last.position), reply.body);
    } else {
        reply.body.append("null");
    }
    reply.body.push_back('}');
    return reply;
}

Reply ApiHandler::status() const {
    const storage::StoreStats stats = store_.stats();
    const auto uptime =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - flags_.started).count();
    Reply reply;
    reply.body.append("{\"version\":\"0.1.0\",\"head_position\":");
    append_json_uint(stats.head_position, reply.body);
    reply.body.append(",\"uptime_s\":");
    append_json_uint(static_cast<std::uint64_t>(uptime), reply.body);
    reply.body.append(",\"ready\":");
    reply.body.append(flags_.ready.load() && !flags_.shutting_down.load() ? "true" : "false");
    reply.body.append(",\"subscribers\":");
    append_json_int(metrics_.subscribers(), reply.body);
    reply.body.append(",\"store\":{\"appends\":");
    append_json_uint(stats.appends, reply.body);
    reply.body.append(",\"events\":");
    append_json_uint(stats.events, reply.body);
    reply.body.append(",\"bytes\":");
    append_json_uint(stats.bytes, reply.body);
    reply.body.append(",\"commits\":");
    append_json_uint(stats.commits, reply.body);
    reply.body.append(",\"durable\":");
    reply.body.append(stats.durable ? "true" : "false");
    reply.body.append(",\"map_bytes\":");
    append_json_uint(stats.map_bytes, reply.body);
    reply.body.append(",\"map_used_bytes\":");
    append_json_uint(stats.map_used_bytes, reply.body);
    reply.body.append(",\"queued_requests\":");
    append_json_uint(stats.queued_requests, reply.body);
    reply.body.append("}}");
    return reply;
}

Routed ApiHandler::subscribe(std::string_view query) const {
    if (flags_.shutting_down.load(std::memory_order_acquire)) {
        return error_reply(
            ApiError{503, "shutting_down", "the node is shutting down", false, std::nullopt});
    }
    ApiError error;
    const auto params = parse_query(query, error);
    if (!params) {
        return error_reply(error);
    }
    SubscribeJob job;
    job.from_position = store_.head_position() + 1;
    if (const auto text = params->get("from")) {
        const auto value = parse_uint(*text);
        if (!value) {
            return error_reply(invalid_parameter("from", "must be an integer position >= 0"));
        }
        job.from_position = *value == 0 ? 1 : *value;
    }
    if (const auto text = params->get("stream")) {
        std::string_view reason;
        if (!is_valid_stream_name(*text, reason)) {
            return error_reply(invalid_parameter("stream", reason));
        }
        job.stream = std::string(*text);
    }
    return job;
}

}  // namespace annal::api
