// A small blocking HTTP/WebSocket client over real loopback sockets, for driving the
// in-process server in tests.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace annal::api::test {

struct HttpResult {
    unsigned status = 0;
    std::string body;
    std::map<std::string, std::string> headers;  // lower-case names
    bool ok = false;                             // false: connection failed / closed early
};

// One keep-alive connection.
class HttpClient {
  public:
    explicit HttpClient(std::uint16_t port);
    ~HttpClient();
    HttpClient(const HttpClient&) = delete;
    HttpClient& operator=(const HttpClient&) = delete;

    HttpResult request(const std::string& method, const std::string& target,
                       const std::string& body = {},
                       const std::map<std::string, std::string>& headers = {});

    // Raw access for pipelining and garbage tests.
    void send_raw(const std::string& bytes);
    // Reads one response from the connection (after send_raw).
    HttpResult read_response();
    // Reads whatever arrives until the peer closes or `timeout` passes.
    std::string read_until_close(std::chrono::milliseconds timeout);
    // Reads until `count` newline-terminated lines of the chunked NDJSON body arrived
    // (chunk framing removed). Returns fewer on timeout/close.
    std::vector<std::string> read_ndjson_lines(std::size_t count,
                                               std::chrono::milliseconds timeout);
    // Sends a GET /v1/subscribe... request and reads the response head.
    HttpResult start_ndjson(const std::string& target);

  private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

class WebSocketClient {
  public:
    WebSocketClient(std::uint16_t port, const std::string& target);
    ~WebSocketClient();
    WebSocketClient(const WebSocketClient&) = delete;
    WebSocketClient& operator=(const WebSocketClient&) = delete;

    bool connected() const;
    // Reads up to `count` text messages (stops early on timeout or close).
    std::vector<std::string> read_messages(std::size_t count, std::chrono::milliseconds timeout);
    void close();

  private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace annal::api::test
