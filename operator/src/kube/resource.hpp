// Identifies a kind of Kubernetes object on the REST API and builds its URL paths.
#pragma once

#include <string>
#include <string_view>

namespace annal::kube {

struct Resource {
    std::string api_version;  // "v1" (core) or "group/version"
    std::string kind;
    std::string plural;
    bool namespaced = true;
};

// Well-known resources the operator and its tests use.
namespace resources {
Resource annal_clusters();
Resource stateful_sets();
Resource services();
Resource config_maps();
Resource secrets();
Resource pods();
Resource persistent_volume_claims();
Resource events();
Resource leases();
Resource pod_disruption_budgets(const std::string& api_version);  // policy/v1 or v1beta1
}  // namespace resources

// /api/v1/namespaces/NS/pods/NAME/SUBRESOURCE; empty namespace means all namespaces
// (for list/watch); empty name means the collection.
std::string resource_path(const Resource& resource, std::string_view ns, std::string_view name = {},
                          std::string_view subresource = {});

// Percent-encodes a query-parameter value (label selectors contain '=' and ',').
std::string url_encode(std::string_view value);

}  // namespace annal::kube
