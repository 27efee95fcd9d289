// status.members / status.leader from the nodes themselves: lists the cluster's pods, asks
// every pod that has an IP for GET /admin/cluster (https with the cluster CA when TLS is
// on) and maps the answers with membership_from_answers().
#pragma once

#include "kube/client.hpp"
#include "op/cluster_status.hpp"
#include "op/node_admin_client.hpp"

namespace annal::op {

class HttpMembershipSource final : public MembershipSource {
  public:
    HttpMembershipSource(kube::Client& client, NodeAdminClient& nodes)
        : client_(client), nodes_(nodes) {}
    // Always a view: when the pods cannot be listed or no node answers, every expected
    // member is listed unhealthy and `problem` says why.
    std::optional<MembershipView> view(const ClusterSpec& cluster) override;

  private:
    kube::Client& client_;
    NodeAdminClient& nodes_;
};

}  // namespace annal::op
