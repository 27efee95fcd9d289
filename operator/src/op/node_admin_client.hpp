// The seam between the operator and the nodes' admin API: fetches GET /admin/cluster from
// several member pods at once. CppRestNodeAdminClient is the real one; tests fake it.
#pragma once

#include <chrono>
#include <string>
#include <vector>

namespace annal::op {

struct NodeAdminTarget {
    std::string pod;
    std::string base_url;  // http://IP:PORT or https://IP:PORT
    // With TLS: the name the node certificate must carry (the pod's stable DNS name, since
    // the certificate names no pod IP); sent as the Host header and checked against it.
    std::string tls_host;
};

struct NodeAdminTls {
    std::string ca_pem;
    // Presented when the node asks for a client certificate (peers use mutual TLS).
    std::string client_cert_pem;
    std::string client_key_pem;
};

struct NodeAdminReply {
    int status = 0;  // 0: no HTTP reply (see error)
    std::string body;
    std::string error;
};

class NodeAdminClient {
  public:
    virtual ~NodeAdminClient() = default;
    // One reply per target, in order. `tls` is null for plain HTTP. Blocks at most about
    // one timeout, however many targets there are.
    virtual std::vector<NodeAdminReply> fetch_cluster_views(
        const std::vector<NodeAdminTarget>& targets, const NodeAdminTls* tls) = 0;
};

// cpprestsdk, like the Kubernetes client: all requests in flight together, each with a
// short timeout, so a hung pod costs one timeout, not one per pod.
class CppRestNodeAdminClient final : public NodeAdminClient {
  public:
    explicit CppRestNodeAdminClient(std::chrono::milliseconds timeout) : timeout_(timeout) {}
    std::vector<NodeAdminReply> fetch_cluster_views(const std::vector<NodeAdminTarget>& targets,
                                                    const NodeAdminTls* tls) override;

  private:
    std::chrono::milliseconds timeout_;
};

}  // namespace annal::op
