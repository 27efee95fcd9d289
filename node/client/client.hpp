// A small synchronous client for one Annal node's HTTP API (docs/API.md). One Client
// owns one keep-alive connection and is used by one thread at a time; make one Client
// per thread for concurrency. Every call returns a Result: the typed reply, or an Error
// carrying the HTTP status, the server's error code and message, and (on a conflict)
// the stream's current version.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <random>
#include <stop_token>
#include <string>
#include <string_view>
#include <vector>

#include "client/endpoint.hpp"
#include "client/events.hpp"
#include "client/result.hpp"

namespace boost::beast::http {
enum class verb;  // Beast stays out of this header
}
namespace boost::asio::ssl {
class context;
}

namespace annal::client {

class HttpConnection;
struct HttpResponse;

struct ClientOptions {
    std::chrono::milliseconds connect_timeout{5000};
    std::chrono::milliseconds request_timeout{30000};
    // Longest silence tolerated on a subscription; the server sends a heartbeat every 5 s.
    std::chrono::milliseconds subscription_idle_timeout{30000};
    // Cluster: a follower answers 307 to the leader; the client follows (and keeps talking
    // to the leader afterwards) up to this many hops per request.
    int max_redirects = 5;
    // Cluster: 503 no_leader (election in progress) and not_committed (leadership changed
    // under an append) are retried with a short backoff for this long.
    std::chrono::milliseconds leader_retry_budget{5000};
    // https:// endpoints: the server's certificate must chain to tls_ca_file (empty: the
    // system's trusted CAs) and name the host dialled. With tls_cert_file/tls_key_file the
    // client presents a certificate (mutual TLS; node-internal routes may require one).
    std::string tls_ca_file;
    std::string tls_cert_file;
    std::string tls_key_file;
};

struct ReadStreamRequest {
    std::string stream;
    std::optional<std::uint64_t> from;  // nullopt: 0 forwards, the end backwards
    Direction direction = Direction::Forwards;
    std::optional<std::size_t> limit;  // nullopt: the server's default
};

struct ReadAllRequest {
    std::optional<std::uint64_t> from;
    Direction direction = Direction::Forwards;
    std::optional<std::size_t> limit;
};

struct ReadTimeRequest {
    std::string from;  // RFC 3339 or integer microseconds
    std::string to;
    std::optional<std::string> after;  // cursor from a previous TimePage
    std::optional<std::size_t> limit;
};

struct SubscribeRequest {
    std::optional<std::uint64_t> from;  // nullopt: only events appended from now on
    std::optional<std::string> stream;  // nullopt: every stream
};

struct PlainResponse {
    int status = 0;
    std::string content_type;
    std::string body;
};

class Client {
  public:
    explicit Client(Endpoint endpoint, ClientOptions options = {});
    Client(const Client&) = delete;
    Client& operator=(const Client&) = delete;
    ~Client();

    const Endpoint& endpoint() const { return endpoint_; }

    // Appends `events` atomically. Events without an id get a random UUID first, so
    // the one automatic retry on a stale keep-alive connection cannot store twice.
    Result<AppendOutcome> append(const std::string& stream, ExpectedVersion expected,
                                 std::vector<NewEvent> events);
    // Appends a request body built by the caller (`{"expected_version":..., "events":
    // [...]}`); never retried because the client cannot know the events carry ids.
    Result<AppendOutcome> append_raw(const std::string& stream, const std::string& body);

    Result<StreamPage> read_stream(const ReadStreamRequest& request);
    Result<AllPage> read_all(const ReadAllRequest& request);
    Result<TimePage> read_time(const ReadTimeRequest& request);
    Result<NodeStatus> status();

    // Catches up from `request.from`, then follows live appends, calling `on_event` for
    // each event in position order until it returns false, `stop` is requested, or the
    // server ends the stream. Uses its own connection for the subscription's lifetime.
    Result<Done> subscribe(const SubscribeRequest& request,
                           const std::function<bool(const RecordedEvent&)>& on_event,
                           std::stop_token stop = {});

    // Any GET (e.g. "/healthz", "/metrics"): status and body, errors only for transport.
    Result<PlainResponse> get(const std::string& target);
    // Any request with a JSON body (admin endpoints); redirects and leader retries as
    // for appends. Non-2xx answers are Errors carrying the server's code.
    Result<PlainResponse> send(const std::string& method, const std::string& target,
                               const std::string& body);

    // Serialises one event as the API expects it (an id is not invented here).
    static std::string event_json(const NewEvent& event);
    static std::string percent_encode(const std::string& text);
    std::string random_uuid();

  private:
    // One request with cluster handling: follows 307 (switching this client's endpoint to
    // the leader), retries 503 no_leader, and not_committed when `idempotent`.
    Result<HttpResponse> exchange(boost::beast::http::verb method, const std::string& target,
                                  std::string_view body, bool idempotent);

    // A connection to endpoint_, or the reason TLS cannot be set up for it.
    Result<std::unique_ptr<HttpConnection>> connect_to_endpoint();

    Endpoint endpoint_;
    ClientOptions options_;
    // Built on first use of an https endpoint; shared by every connection of this client.
    std::shared_ptr<boost::asio::ssl::context> tls_context_;
    std::unique_ptr<HttpConnection> connection_;
    std::mt19937_64 uuid_random_;
};

// Parses one event as returned by reads and subscriptions.
std::optional<RecordedEvent> parse_recorded_event(const std::string& json_text, std::string& error);

}  // namespace annal::client
