// Adapts the replicated store and the peer transport to the API's ClusterAdmin seam.
#pragma once

#include <string>

#include "api/cluster_admin.hpp"

namespace annal::replication {
class ReplicatedEventStore;
}
namespace annal::transport {
class PeerTransport;
}

namespace annal::api {

class ReplicatedClusterAdmin final : public ClusterAdmin {
  public:
    ReplicatedClusterAdmin(std::string cluster_id, replication::ReplicatedEventStore& store);
    // The transport runs on the HTTP server's io_context, so it exists only after the
    // server (which needs this admin) was built. Set before the server starts.
    void set_transport(transport::PeerTransport* transport) { transport_ = transport; }

    std::string cluster_id() const override { return cluster_id_; }
    ClusterStatus status() const override;
    void add_learner(std::uint64_t id, std::string address, AdminDone done) override;
    void promote(std::uint64_t id, AdminDone done) override;
    void remove_member(std::uint64_t id, AdminDone done) override;
    void transfer_leadership(std::uint64_t target, AdminDone done) override;
    std::string log_digest(std::uint64_t upto) const override;
    std::string extra_metrics() const override;

  private:
    std::string cluster_id_;
    replication::ReplicatedEventStore& store_;
    transport::PeerTransport* transport_ = nullptr;
};

}  // namespace annal::api
