#include "kube/cpprest_transport.hpp"

#include <cpprest/containerstream.h>
#include <cpprest/http_client.h>

#include <boost/asio/ssl.hpp>

namespace annal::kube {
namespace {

namespace http = web::http;

http::client::http_client_config make_config(const KubeConfig& config,
                                             std::chrono::seconds timeout) {
    http::client::http_client_config cfg;
    cfg.set_timeout(timeout);
    cfg.set_validate_certificates(!config.insecure_skip_verify);
    // Copies, because the callback runs for every new connection, long after we return.
    cfg.set_ssl_context_callback([ca = config.ca_pem, cert = config.client_cert_pem,
                                  key = config.client_key_pem](boost::asio::ssl::context& ctx) {
        boost::system::error_code ignored;  // a bad PEM surfaces as a handshake failure
        if (!ca.empty())
            ctx.add_certificate_authority(boost::asio::buffer(ca), ignored);
        if (!cert.empty()) {
            ctx.use_certificate_chain(boost::asio::buffer(cert), ignored);
            ctx.use_private_key(boost::asio::buffer(key), boost::asio::ssl::context::pem, ignored);
        }
    });
    return cfg;
}

http::http_request make_request(const HttpRequest& request, const std::string& token) {
    http::http_request req(http::method(request.method));
    req.set_request_uri(web::uri(request.target));
    req.headers().add("Accept", "application/json");
    if (!token.empty())
        req.headers().add("Authorization", "Bearer " + token);
    if (!request.body.empty() || request.method == "POST" || request.method == "PUT" ||
        request.method == "PATCH") {
        req.set_body(request.body, request.content_type);
    }
    return req;
}

}  // namespace

struct CppRestTransport::Impl {
    KubeConfig config;
    std::chrono::seconds timeout;
    http::client::http_client client;
    Impl(KubeConfig c, std::chrono::seconds t)
        : config(std::move(c)), timeout(t), client(config.server, make_config(config, t)) {}
};

CppRestTransport::CppRestTransport(KubeConfig config, std::chrono::seconds request_timeout)
    : impl_(std::make_unique<Impl>(std::move(config), request_timeout)) {}

CppRestTransport::~CppRestTransport() = default;

HttpResponse CppRestTransport::send(const HttpRequest& request) {
    HttpResponse out;
    try {
        http::http_response response =
            impl_->client.request(make_request(request, impl_->config.token)).get();
        out.status = response.status_code();
        out.body = response.extract_utf8string(true).get();
    } catch (const std::exception& e) {
        out.status = 0;
        out.error = e.what();
    }
    return out;
}

HttpResponse CppRestTransport::stream_lines(const HttpRequest& request, const LineHandler& on_line,
                                            std::stop_token stop) {
    HttpResponse out;
    pplx::cancellation_token_source cancel;
    // Cancelling the request closes its socket, which ends a blocked read below.
    std::stop_callback on_stop(stop, [&cancel] { cancel.cancel(); });
    try {
        // A watch legitimately stays silent for minutes: its own client, with a timeout
        // longer than the server-side timeoutSeconds the caller puts in the query.
        http::client::http_client client(impl_->config.server,
                                         make_config(impl_->config, std::chrono::seconds(600)));
        http::http_response response =
            client.request(make_request(request, impl_->config.token), cancel.get_token()).get();
        out.status = response.status_code();
        if (out.status < 200 || out.status >= 300) {
            out.body = response.extract_utf8string(true).get();
            return out;
        }
        // The response task completes once the headers are in; the body stream fills as
        // chunks arrive, so reading it piecewise yields watch events as they happen.
        auto body = response.body();
        while (!stop.stop_requested()) {
            // read_line returns once a whole line (or the end) is there, never waiting for a
            // fixed byte count that a quiet watch would not deliver; it drops the newline.
            concurrency::streams::container_buffer<std::string> line;
            const std::size_t n = body.read_line(line).get();
            if (n == 0) {
                if (body.is_eof())
                    break;
                continue;  // an empty line
            }
            if (!on_line(line.collection())) {
                cancel.cancel();
                break;
            }
        }
    } catch (const pplx::task_canceled&) {
        // stop requested: a normal end
    } catch (const std::exception& e) {
        if (!stop.stop_requested())
            out.error = e.what();
    }
    return out;
}

}  // namespace annal::kube
