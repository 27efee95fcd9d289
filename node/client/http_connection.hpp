// One keep-alive HTTP/1.1 connection to a node, used synchronously by one thread.
// Every network step runs as an asynchronous Beast operation on a private io_context
// so that it can time out or be cancelled; the caller still sees blocking calls.
// Internal to the client library: include only from its .cpp files (Beast is heavy).
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/verb.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <stop_token>
#include <string>
#include <string_view>

#include "client/endpoint.hpp"
#include "client/result.hpp"

namespace annal::client {

struct HttpResponse {
    int status = 0;
    std::string content_type;
    std::string body;
    std::string location;  // 3xx: where to go instead
};

class HttpConnection {
  public:
    // `tls`: required when endpoint.tls (tls::make_client_context); ignored otherwise.
    HttpConnection(Endpoint endpoint, std::chrono::milliseconds connect_timeout,
                   std::chrono::milliseconds request_timeout,
                   std::shared_ptr<boost::asio::ssl::context> tls = nullptr);
    HttpConnection(const HttpConnection&) = delete;
    HttpConnection& operator=(const HttpConnection&) = delete;
    ~HttpConnection();

    // Sends one request and reads the whole response. `retry_safe` allows one silent
    // retry on a fresh connection when a reused keep-alive connection turns out to have
    // been closed by the server before it answered.
    Result<HttpResponse> round_trip(boost::beast::http::verb method, const std::string& target,
                                    std::string_view body, bool retry_safe);

    // Sends a GET and hands every chunk of the body to `on_bytes` as it arrives, until
    // the body ends, `on_bytes` returns false, or `stop` is requested (both end with
    // Done). `idle_timeout` bounds the silence between two chunks. A non-2xx answer is
    // returned as an Error. The connection is closed afterwards.
    Result<Done> stream_get(const std::string& target,
                            const std::function<bool(std::string_view)>& on_bytes,
                            std::stop_token stop, std::chrono::milliseconds idle_timeout);

    void close();

  private:
    Error transport_error(const std::string& what, boost::system::error_code ec) const;
    boost::system::error_code ensure_connected();
    // Runs the io_context until the operation started by `start` completes; `start`
    // receives the completion handler to pass to the asynchronous operation.
    template <typename Start>
    boost::system::error_code run(Start&& start, std::size_t* bytes = nullptr);
    // Calls `use` with the stream requests go through: the TLS stream on https, else the
    // TCP stream.
    template <typename Use>
    decltype(auto) with_stream(Use&& use);
    boost::beast::tcp_stream& tcp();
    boost::system::error_code handshake();

    Endpoint endpoint_;
    std::chrono::milliseconds connect_timeout_;
    std::chrono::milliseconds request_timeout_;
    boost::asio::io_context io_;
    boost::beast::tcp_stream stream_;
    std::shared_ptr<boost::asio::ssl::context> tls_context_;
    // One per https connection (a TLS session cannot be reused after its TCP connection).
    std::unique_ptr<boost::beast::ssl_stream<boost::beast::tcp_stream>> tls_stream_;
    boost::beast::flat_buffer buffer_;
    boost::asio::ip::tcp::resolver::results_type resolved_;
    bool connected_ = false;
};

// Builds an Error from a non-2xx response, reading the API's error body when present.
Error error_from_response(const HttpResponse& response);

}  // namespace annal::client
