// Transport over cpprestsdk's http_client: TLS through Boost.Asio SSL with the cluster CA
// and optional client certificate, bearer-token authentication.
#pragma once

#include <chrono>
#include <memory>

#include "kube/kube_config.hpp"
#include "kube/transport.hpp"

namespace annal::kube {

class CppRestTransport final : public Transport {
  public:
    explicit CppRestTransport(KubeConfig config,
                              std::chrono::seconds request_timeout = std::chrono::seconds(30));
    ~CppRestTransport() override;
    CppRestTransport(const CppRestTransport&) = delete;
    CppRestTransport& operator=(const CppRestTransport&) = delete;

    HttpResponse send(const HttpRequest& request) override;
    HttpResponse stream_lines(const HttpRequest& request, const LineHandler& on_line,
                              std::stop_token stop) override;

  private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace annal::kube
