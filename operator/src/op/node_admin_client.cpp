#include "op/node_admin_client.hpp"

#include <cpprest/http_client.h>

#include <boost/asio/ssl.hpp>
#include <memory>
#include <optional>

namespace annal::op {
namespace {

namespace http = web::http;

http::client::http_client_config make_config(std::chrono::milliseconds timeout,
                                             const NodeAdminTls* tls) {
    http::client::http_client_config cfg;
    cfg.set_timeout(timeout);
    if (tls != nullptr) {
        cfg.set_validate_certificates(true);
        // Copies: the callback runs for each new connection, after this function returned.
        cfg.set_ssl_context_callback([ca = tls->ca_pem, cert = tls->client_cert_pem,
                                      key = tls->client_key_pem](boost::asio::ssl::context& ctx) {
            boost::system::error_code ignored;  // a bad PEM surfaces as a handshake failure
            ctx.add_certificate_authority(boost::asio::buffer(ca), ignored);
            if (!cert.empty() && !key.empty()) {
                ctx.use_certificate_chain(boost::asio::buffer(cert), ignored);
                ctx.use_private_key(boost::asio::buffer(key), boost::asio::ssl::context::pem,
                                    ignored);
            }
        });
    }
    return cfg;
}

}  // namespace

std::vector<NodeAdminReply> CppRestNodeAdminClient::fetch_cluster_views(
    const std::vector<NodeAdminTarget>& targets, const NodeAdminTls* tls) {
    struct InFlight {
        std::unique_ptr<http::client::http_client> client;
        std::optional<pplx::task<http::http_response>> response;
    };
    std::vector<NodeAdminReply> replies(targets.size());
    std::vector<InFlight> in_flight(targets.size());
    for (std::size_t i = 0; i < targets.size(); ++i) {
        try {
            in_flight[i].client = std::make_unique<http::client::http_client>(
                targets[i].base_url, make_config(timeout_, tls));
            http::http_request request(http::methods::GET);
            request.set_request_uri(U("/admin/cluster"));
            request.headers().add("Accept", "application/json");
            if (tls != nullptr && !targets[i].tls_host.empty()) {
                // cpprestsdk verifies the certificate against the Host header when set.
                const web::uri base(targets[i].base_url);
                request.headers().add("Host",
                                      targets[i].tls_host + ":" + std::to_string(base.port()));
            }
            in_flight[i].response = in_flight[i].client->request(request);
        } catch (const std::exception& e) {
            replies[i].error = e.what();
        }
    }
    for (std::size_t i = 0; i < targets.size(); ++i) {
        if (!in_flight[i].response)
            continue;
        try {
            http::http_response response = in_flight[i].response->get();
            replies[i].status = response.status_code();
            replies[i].body = response.extract_utf8string(true).get();
        } catch (const std::exception& e) {
            replies[i].status = 0;
            replies[i].error = e.what();
        }
    }
    return replies;
}

}  // namespace annal::op
