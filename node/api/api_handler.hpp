// Routing and the request/response logic of every endpoint, independent of sockets:
// the HTTP session hands in (method, target, body) and gets back either a finished
// reply, an append to submit to the store, or a subscription to start. Keeping Beast out
// of this layer lets the whole API be unit-tested as plain function calls.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

#include "api/api_error.hpp"
#include "api/cluster_admin.hpp"
#include "storage/event_store.hpp"

namespace annal::api {

class Metrics;
struct ConnectionSecurity;  // http_session.hpp

struct ApiLimits {
    std::size_t max_read_limit = 4096;
    std::size_t default_read_limit = 100;
};

// Lifecycle flags shared by every connection of one server.
struct ServerFlags {
    std::atomic<bool> ready{false};          // /readyz
    std::atomic<bool> shutting_down{false};  // appends and new subscriptions get 503
    std::chrono::steady_clock::time_point started = std::chrono::steady_clock::now();
};

struct Reply {
    unsigned status = 200;
    std::string_view content_type = "application/json";
    std::string body;
    std::string_view allow;        // for 405: the methods the route accepts
    std::string location;          // for 307: where the leader is
    std::string_view retry_after;  // for 503 no_leader: seconds
};

struct AppendJob {
    storage::AppendRequest request;
};

struct SubscribeJob {
    std::uint64_t from_position = 1;
    std::optional<std::string> stream;  // only events of this stream
};

// A linearizable read: the session calls store.read_barrier() and, once it completes,
// routes the same request again with `barrier_passed` (or answers barrier_reply()).
struct BarrierJob {};

// An admin change (cluster mode): the session calls `start` with a completion and
// answers admin_reply() with what it reports.
struct AdminJob {
    std::function<void(AdminDone)> start;
};

using Routed = std::variant<Reply, AppendJob, SubscribeJob, BarrierJob, AdminJob>;

class ApiHandler {
  public:
    // `cluster` is nullptr on a standalone node (admin endpoints then say so, and reads
    // need no barrier).
    ApiHandler(storage::EventStore& store, ApiLimits limits, Metrics& metrics,
               const ServerFlags& flags, ClusterAdmin* cluster = nullptr);

    // `security`: the connection's; cluster-internal routes serve only cluster members.
    Routed route(std::string_view method, std::string_view target, std::string_view body,
                 const ConnectionSecurity& security, bool barrier_passed = false) const;

    // The HTTP answer to a finished append of `stream` sent to `target`.
    static Reply append_reply(const storage::AppendResult& result, std::string_view stream,
                              std::string_view target = {});
    static Reply barrier_reply(const storage::ReadBarrierResult& result, std::string_view target);
    static Reply admin_reply(const AdminOutcome& outcome, std::string_view target);
    static Reply error_reply(const ApiError& error);
    // 307 to the leader (same target) or, with no known leader, 503 no_leader.
    static Reply not_leader_reply(std::string_view leader_hint, std::uint64_t leader_id,
                                  std::string_view target, std::string_view message);

    bool cluster_mode() const { return cluster_ != nullptr; }

  private:
    Reply read_stream(const std::string& stream, std::string_view query) const;
    Reply read_all(std::string_view query) const;
    Reply read_time(std::string_view query) const;
    Reply status() const;
    Routed subscribe(std::string_view query) const;
    Reply readiness() const;
    Reply metrics() const;
    Routed admin(std::string_view method, std::string_view path, std::string_view query,
                 std::string_view body) const;

    storage::EventStore& store_;
    ApiLimits limits_;
    Metrics& metrics_;
    const ServerFlags& flags_;
    ClusterAdmin* cluster_;
    // Cluster mode: the commit index learned when a leader was first known; the node is
    // ready once it has applied that far (it then serves reads that are not far behind).
    mutable std::atomic<std::uint64_t> ready_commit_target_{0};
    mutable std::atomic<bool> caught_up_{false};
};

// The `after=` cursor of time-range reads: the (timestamp, position) of the last event
// returned, as opaque text.
std::string encode_time_cursor(std::int64_t timestamp_us, std::uint64_t position);
bool decode_time_cursor(std::string_view text, std::int64_t& timestamp_us, std::uint64_t& position);

}  // namespace annal::api
