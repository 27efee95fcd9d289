// A small typed-by-convention Kubernetes REST client: objects are nlohmann::json, resources
// are described by `Resource`. Every call is blocking and returns a Result; nothing throws.
#pragma once

#include <nlohmann/json.hpp>

#include <functional>
#include <memory>
#include <optional>
#include <stop_token>
#include <string>
#include <vector>

#include "kube/resource.hpp"
#include "kube/transport.hpp"
#include "kube/watch_event.hpp"

namespace annal::kube {

struct Result {
    int status = 0;  // HTTP status; 0 when the request failed before an answer
    nlohmann::json body;
    std::string error;  // transport failure

    bool ok() const { return status >= 200 && status < 300; }
    bool not_found() const { return status == 404; }
    bool conflict() const { return status == 409; }
    // The server's Status message, or the transport error.
    std::string message() const;
};

enum class PatchType { Merge, StrategicMerge, Json };

struct ListOptions {
    std::string label_selector;
    std::string field_selector;
};

class Client {
  public:
    explicit Client(std::shared_ptr<Transport> transport);

    Result get(const Resource& r, const std::string& ns, const std::string& name);
    Result list(const Resource& r, const std::string& ns, const ListOptions& options = {});
    Result create(const Resource& r, const std::string& ns, const nlohmann::json& object);
    // PUT with the object's metadata.resourceVersion: 409 when someone else changed it.
    Result update(const Resource& r, const std::string& ns, const nlohmann::json& object);
    Result update_status(const Resource& r, const std::string& ns, const nlohmann::json& object);
    Result remove(const Resource& r, const std::string& ns, const std::string& name,
                  const std::string& propagation_policy = "Background");
    Result patch(const Resource& r, const std::string& ns, const std::string& name, PatchType type,
                 const nlohmann::json& patch, const std::string& subresource = {});
    Result patch_status(const Resource& r, const std::string& ns, const std::string& name,
                        const nlohmann::json& merge_patch);
    // Server-side apply (application/apply-patch+yaml; JSON is valid YAML).
    Result apply(const Resource& r, const std::string& ns, const nlohmann::json& object,
                 const std::string& field_manager, bool force = true);
    Result get_path(const std::string& path);

    // Read-modify-write with optimistic concurrency: GET, `mutate` (return false to skip
    // the write), PUT; on 409 re-read and try again, up to `attempts` times.
    Result update_with_retry(const Resource& r, const std::string& ns, const std::string& name,
                             const std::function<bool(nlohmann::json&)>& mutate, int attempts = 5);

    // Watches from `resource_version`; calls `on_event` per event (return false to stop).
    WatchEnd watch(const Resource& r, const std::string& ns, const ListOptions& options,
                   const std::string& resource_version, int timeout_seconds,
                   const std::function<bool(const WatchEvent&)>& on_event, std::stop_token stop);

    // Discovery: the first of `candidates` (e.g. {"v1","v1beta1"}) that the API group
    // serves, or nullopt (group absent or unreachable).
    std::optional<std::string> served_version(const std::string& group,
                                              const std::vector<std::string>& candidates);

  private:
    Result call(const std::string& method, const std::string& target, const std::string& body,
                const std::string& content_type = "application/json");

    std::shared_ptr<Transport> transport_;
};

}  // namespace annal::kube
