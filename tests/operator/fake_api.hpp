// An in-memory stand-in for the Kubernetes REST API, enough for unit tests of the client,
// the leader elector and the reconciler: objects by path, resourceVersion conflicts,
// merge patch, apply (approximated by a merge), label-selector lists, finalizers.
#pragma once

#include <nlohmann/json.hpp>

#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "kube/transport.hpp"

namespace annal::test {

class FakeApi final : public kube::Transport {
  public:
    kube::HttpResponse send(const kube::HttpRequest& request) override;
    kube::HttpResponse stream_lines(const kube::HttpRequest& request,
                                    const kube::LineHandler& on_line,
                                    std::stop_token stop) override;

    // Direct access for test set-up and assertions (path: /api/v1/namespaces/ns/pods/x).
    void put_object(const std::string& path, nlohmann::json object);
    nlohmann::json object(const std::string& path) const;  // null if absent
    bool has(const std::string& path) const { return !object(path).is_null(); }
    std::vector<kube::HttpRequest> requests() const;
    std::size_t count_writes() const;  // non-GET requests (events excluded)

    nlohmann::json discovery = nlohmann::json::object();  // path -> body, for GET /apis/x
    // Watch behaviour: by default a watch ends at once with no events.
    std::function<kube::HttpResponse(const kube::HttpRequest&, const kube::LineHandler&)> watch;
    // Called on each request before it is served; may return a response to inject.
    std::function<std::optional<kube::HttpResponse>(const kube::HttpRequest&)> intercept;

  private:
    kube::HttpResponse serve(const kube::HttpRequest& request);
    std::string next_rv() { return std::to_string(++rv_); }

    mutable std::mutex mutex_;
    std::map<std::string, nlohmann::json> objects_;
    std::vector<kube::HttpRequest> requests_;
    long rv_ = 100;
    int generated_ = 0;
};

}  // namespace annal::test
