#include "kube/resource.hpp"

namespace annal::kube {

namespace resources {
Resource annal_clusters() {
    return {"annal.dev/v1alpha1", "AnnalCluster", "annalclusters", true};
}
Resource stateful_sets() {
    return {"apps/v1", "StatefulSet", "statefulsets", true};
}
Resource services() {
    return {"v1", "Service", "services", true};
}
Resource config_maps() {
    return {"v1", "ConfigMap", "configmaps", true};
}
Resource secrets() {
    return {"v1", "Secret", "secrets", true};
}
Resource pods() {
    return {"v1", "Pod", "pods", true};
}
Resource persistent_volume_claims() {
    return {"v1", "PersistentVolumeClaim", "persistentvolumeclaims", true};
}
Resource events() {
    return {"v1", "Event", "events", true};
}
Resource leases() {
    return {"coordination.k8s.io/v1", "Lease", "leases", true};
}
Resource pod_disruption_budgets(const std::string& api_version) {
    return {api_version, "PodDisruptionBudget", "poddisruptionbudgets", true};
}
}  // namespace resources

std::string resource_path(const Resource& resource, std::string_view ns, std::string_view name,
                          std::string_view subresource) {
    std::string path = resource.api_version.find('/') == std::string::npos
                           ? "/api/" + resource.api_version
                           : "/apis/" + resource.api_version;
    if (resource.namespaced && !ns.empty()) {
        path += "/namespaces/";
        path += ns;
    }
    path += "/" + resource.plural;
    if (!name.empty()) {
        path += "/";
        path += name;
        if (!subresource.empty()) {
            path += "/";
            path += subresource;
        }
    }
    return path;
}

std::string url_encode(std::string_view value) {
    static constexpr char hex[] = "0123456789ABCDEF";
    std::string out;
    for (unsigned char c : value) {
        const bool plain = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                           (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.' || c == '~';
        if (plain) {
            out.push_back(static_cast<char>(c));
        } else {
            out.push_back('%');
            out.push_back(hex[c >> 4]);
            out.push_back(hex[c & 15]);
        }
    }
    return out;
}

}  // namespace annal::kube
