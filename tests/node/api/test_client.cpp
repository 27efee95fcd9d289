#include "test_client.hpp"

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>

namespace annal::api::test {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
using tcp = net::ip::tcp;

namespace {

HttpResult to_result(http::response<http::string_body>& response) {
    HttpResult result;
    result.ok = true;
    result.status = response.result_int();
    result.body = response.body();
    for (const auto& field : response) {
        std::string name(field.name_string());
        for (auto& c : name) {
            c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        }
        result.headers[name] = std::string(field.value());
    }
    return result;
}

}  // namespace

struct HttpClient::Impl {
    net::io_context io;
    beast::tcp_stream stream{io};
    beast::flat_buffer buffer;
    std::string pending;  // NDJSON bytes read but not yet split into lines
};

HttpClient::HttpClient(std::uint16_t port) : impl_(std::make_unique<Impl>()) {
    impl_->stream.connect(tcp::endpoint(net::ip::make_address("127.0.0.1"), port));
    impl_->stream.expires_after(std::chrono::seconds(30));
}

HttpClient::~HttpClient() {
    boost::system::error_code ignored;
    impl_->stream.socket().shutdown(tcp::socket::shutdown_both, ignored);
}

HttpResult HttpClient::request(const std::string& method, const std::string& target,
                               const std::string& body,
                               const std::map<std::string, std::string>& headers) {
    http::request<http::string_body> request{http::string_to_verb(method), target, 11};
    if (request.method() == http::verb::unknown) {
        request.method_string(method);
    }
    request.set(http::field::host, "127.0.0.1");
    for (const auto& [name, value] : headers) {
        request.set(name, value);
    }
    if (!body.empty() || method == "POST") {
        request.set(http::field::content_type, "application/json");
        request.body() = body;
        request.prepare_payload();
    }
    boost::system::error_code ec;
    impl_->stream.expires_after(std::chrono::seconds(30));
    http::write(impl_->stream, request, ec);
    if (ec) {
        return {};
    }
    return read_response();
}

void HttpClient::send_raw(const std::string& bytes) {
    boost::system::error_code ec;
    net::write(impl_->stream.socket(), net::buffer(bytes), ec);
}

HttpResult HttpClient::read_response() {
    http::response_parser<http::string_body> parser;
    parser.body_limit(64u << 20);
    boost::system::error_code ec;
    impl_->stream.expires_after(std::chrono::seconds(30));
    http::read(impl_->stream, impl_->buffer, parser, ec);
    if (ec) {
        return {};
    }
    auto response = parser.release();
    return to_result(response);
}

std::string HttpClient::read_until_close(std::chrono::milliseconds timeout) {
    std::string out(static_cast<const char*>(impl_->buffer.data().data()), impl_->buffer.size());
    impl_->buffer.consume(impl_->buffer.size());
    impl_->stream.expires_after(timeout);
    char chunk[4096];
    for (;;) {
        boost::system::error_code ec;
        const std::size_t n = impl_->stream.read_some(net::buffer(chunk), ec);
        out.append(chunk, n);
        if (ec) {
            break;
        }
    }
    return out;
}

HttpResult HttpClient::start_ndjson(const std::string& target) {
    send_raw("GET " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
    http::response_parser<http::empty_body> parser;
    boost::system::error_code ec;
    impl_->stream.expires_after(std::chrono::seconds(10));
    http::read_header(impl_->stream, impl_->buffer, parser, ec);
    if (ec) {
        return {};
    }
    HttpResult result;
    result.ok = true;
    result.status = parser.get().result_int();
    for (const auto& field : parser.get()) {
        std::string name(field.name_string());
        for (auto& c : name) {
            c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        }
        result.headers[name] = std::string(field.value());
    }
    return result;
}

std::vector<std::string> HttpClient::read_ndjson_lines(std::size_t count,
                                                       std::chrono::milliseconds timeout) {
    // Chunk framing is stripped by parsing "size CRLF data CRLF" from the raw bytes.
    std::string& raw = impl_->pending;
    raw.append(static_cast<const char*>(impl_->buffer.data().data()), impl_->buffer.size());
    impl_->buffer.consume(impl_->buffer.size());
    std::vector<std::string> lines;
    std::string body;
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    auto drain_chunks = [&] {
        for (;;) {
            const auto crlf = raw.find("\r\n");
            if (crlf == std::string::npos) {
                return;
            }
            const std::size_t size = std::stoul(raw.substr(0, crlf), nullptr, 16);
            if (raw.size() < crlf + 2 + size + 2) {
                return;
            }
            body.append(raw, crlf + 2, size);
            raw.erase(0, crlf + 2 + size + 2);
        }
    };
    for (;;) {
        drain_chunks();
        std::size_t newline;
        while (lines.size() < count && (newline = body.find('\n')) != std::string::npos) {
            lines.push_back(body.substr(0, newline));
            body.erase(0, newline + 1);
        }
        if (lines.size() >= count || std::chrono::steady_clock::now() >= deadline) {
            break;
        }
        impl_->stream.expires_at(deadline);
        char chunk[8192];
        boost::system::error_code ec;
        const std::size_t n = impl_->stream.read_some(net::buffer(chunk), ec);
        raw.append(chunk, n);
        if (ec) {
            drain_chunks();
            break;
        }
    }
    // Keep any partial lines for the next call by re-framing them as one chunk.
    if (!body.empty()) {
        char size[32];
        std::snprintf(size, sizeof(size), "%zx\r\n", body.size());
        raw.insert(0, std::string(size) + body + "\r\n");
    }
    return lines;
}

struct WebSocketClient::Impl {
    net::io_context io;
    beast::websocket::stream<beast::tcp_stream> ws{io};
    bool connected = false;
};

WebSocketClient::WebSocketClient(std::uint16_t port, const std::string& target)
    : impl_(std::make_unique<Impl>()) {
    boost::system::error_code ec;
    beast::get_lowest_layer(impl_->ws).connect(
        tcp::endpoint(net::ip::make_address("127.0.0.1"), port), ec);
    if (ec) {
        return;
    }
    beast::get_lowest_layer(impl_->ws).expires_after(std::chrono::seconds(10));
    impl_->ws.handshake("127.0.0.1", target, ec);
    impl_->connected = !ec;
}

WebSocketClient::~WebSocketClient() = default;

bool WebSocketClient::connected() const {
    return impl_->connected;
}

std::vector<std::string> WebSocketClient::read_messages(std::size_t count,
                                                        std::chrono::milliseconds timeout) {
    std::vector<std::string> messages;
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (messages.size() < count) {
        beast::get_lowest_layer(impl_->ws).expires_at(deadline);
        beast::flat_buffer buffer;
        boost::system::error_code ec;
        impl_->ws.read(buffer, ec);
        if (ec) {
            break;
        }
        messages.push_back(beast::buffers_to_string(buffer.data()));
    }
    return messages;
}

void WebSocketClient::close() {
    boost::system::error_code ec;
    beast::get_lowest_layer(impl_->ws).expires_after(std::chrono::seconds(5));
    impl_->ws.close(beast::websocket::close_code::normal, ec);
}

}  // namespace annal::api::test
