// A minimal HTTP/1.1 endpoint (Boost.Beast) for /metrics and /healthz: one thread,
// one request per connection.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

namespace annal::op {

struct EndpointResponse {
    int status = 200;
    std::string content_type = "text/plain; charset=utf-8";
    std::string body;
};

class HttpEndpoint {
  public:
    using Handler = std::function<EndpointResponse(const std::string& target)>;
    HttpEndpoint(std::string address, std::uint16_t port, Handler handler);
    ~HttpEndpoint();
    HttpEndpoint(const HttpEndpoint&) = delete;
    HttpEndpoint& operator=(const HttpEndpoint&) = delete;

    // Binds and starts serving; false (and `error`) if the port cannot be bound.
    bool start(std::string& error);
    std::uint16_t port() const;  // the bound port (useful with port 0)
    void stop();

  private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace annal::op
