#include "api/internal_snapshot_route.hpp"

#include <charconv>
#include <optional>

#include "api/api_error.hpp"
#include "api/query_params.hpp"

namespace annal::api {
namespace {

Reply error(unsigned status, std::string code, std::string message) {
    Reply reply;
    reply.status = status;
    reply.body = error_body(ApiError{status, std::move(code), std::move(message), false, {}});
    return reply;
}

std::optional<std::uint64_t> number(const QueryParams& params, std::string_view name) {
    const auto text = params.get(name);
    if (!text || text->empty()) {
        return std::nullopt;
    }
    std::uint64_t value = 0;
    const auto [end, ec] = std::from_chars(text->data(), text->data() + text->size(), value);
    if (ec != std::errc() || end != text->data() + text->size()) {
        return std::nullopt;
    }
    return value;
}

}  // namespace

Reply internal_route(const storage::EventStore& store, std::string_view method,
                     std::string_view path, std::string_view query, bool caller_is_cluster_member) {
    if (path != "/internal/snapshot/events") {
        return error(404, "not_found", "no route for " + std::string(path));
    }
    if (method != "GET") {
        Reply reply = error(405, "method_not_allowed", "use GET");
        reply.allow = "GET";
        return reply;
    }
    if (!caller_is_cluster_member) {
        return error(403, "forbidden",
                     "internal routes serve cluster members only (client certificate "
                     "signed by the cluster CA)");
    }
    std::string bad_name;
    const auto params = QueryParams::parse(query, bad_name);
    if (!params) {
        return error(400, "invalid_query", "malformed parameter " + bad_name);
    }
    const auto after = number(*params, "after");
    const auto upto = number(*params, "upto");
    const auto max_bytes = number(*params, "max_bytes");
    if (!after || !upto || !max_bytes || *max_bytes == 0) {
        return error(400, "invalid_query",
                     "after, upto and max_bytes (> 0) must be unsigned integers");
    }
    const std::size_t limit =
        static_cast<std::size_t>(std::min<std::uint64_t>(*max_bytes, kMaxInternalChunkBytes));
    storage::RawRecords records = store.read_raw_records(*after, *upto, limit);
    if (!records.supported) {
        return error(404, "not_a_cluster_member", "this node does not serve snapshot events");
    }
    if (records.status != storage::ReadStatus::Ok) {
        return error(500, "storage_error", records.message);
    }
    Reply reply;
    reply.content_type = "application/octet-stream";
    reply.body = std::move(records.body);
    return reply;
}

std::string snapshot_transfer_metrics(const storage::SnapshotTransferStats& stats) {
    std::string text;
    const auto counter = [&text](std::string_view name, std::string_view help,
                                 std::uint64_t value) {
        text.append("# HELP ").append(name).append(" ").append(help).append("\n");
        text.append("# TYPE ").append(name).append(" counter\n");
        text.append(name).append(" ").append(std::to_string(value)).append("\n");
    };
    counter("annal_snapshots_sent_total", "Raft snapshot messages sent to members behind the log",
            stats.snapshots_sent);
    counter("annal_snapshot_records_served_total",
            "Stored records served to members fetching a snapshot", stats.records_served);
    counter("annal_snapshot_fetch_chunks_total", "Snapshot chunks fetched and staged",
            stats.fetch_chunks);
    counter("annal_snapshot_fetch_bytes_total", "Snapshot bytes fetched and staged",
            stats.fetch_bytes);
    counter("annal_snapshot_fetch_retries_total", "Snapshot fetches that failed and were retried",
            stats.fetch_retries);
    counter("annal_snapshots_installed_total", "Snapshots installed into the event tables",
            stats.snapshots_installed);
    return text;
}

}  // namespace annal::api
