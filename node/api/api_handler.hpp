// Routing and the request/response logic of every endpoint, independent of sockets:
// the HTTP session hands in (method, target, body) and gets back either a finished
// reply, an append to submit to the store, or a subscription to start. Keeping Beast out
// of this layer lets the whole API be unit-tested as plain function calls.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

#include "api/api_error.hpp"
#include "storage/event_store.hpp"

namespace annal::api {

class Metrics;

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
    std::string_view allow;  // for 405: the methods the route accepts
};

struct AppendJob {
    storage::AppendRequest request;
};

struct SubscribeJob {
    std::uint64_t from_position = 1;
    std::optional<std::string> stream;  // only events of this stream
};

using Routed = std::variant<Reply, AppendJob, SubscribeJob>;

class ApiHandler {
  public:
    ApiHandler(storage::EventStore& store, ApiLimits limits, Metrics& metrics,
               const ServerFlags& flags);

    Routed route(std::string_view method, std::string_view target, std::string_view body) const;

    // The HTTP answer to a finished append of `stream`.
    static Reply append_reply(const storage::AppendResult& result, std::string_view stream);
    static Reply error_reply(const ApiError& error);

  private:
    Reply read_stream(const std::string& stream, std::string_view query) const;
    Reply read_all(std::string_view query) const;
    Reply read_time(std::string_view query) const;
    Reply status() const;
    Routed subscribe(std::string_view query) const;

    storage::EventStore& store_;
    ApiLimits limits_;
    Metrics& metrics_;
    const ServerFlags& flags_;
};

// The `after=` cursor of time-range reads: the (timestamp, position) of the last event
// returned, as opaque text.
std::string encode_time_cursor(std::int64_t timestamp_us, std::uint64_t position);
bool decode_time_cursor(std::string_view text, std::int64_t& timestamp_us, std::uint64_t& position);

}  // namespace annal::api
