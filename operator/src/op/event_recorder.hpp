// core/v1 Events on the AnnalCluster, so `kubectl describe annal NAME` shows what the
// operator did and why.
#pragma once

#include <nlohmann/json.hpp>

#include <string>

#include "kube/client.hpp"

namespace annal::op {

class EventRecorder {
  public:
    EventRecorder(kube::Client& client, std::string component);
    virtual ~EventRecorder() = default;
    // `type` is Normal or Warning; `reason` is CamelCase. Failures are logged, not raised:
    // an event is never worth failing a reconcile for.
    virtual void record(const nlohmann::json& involved, const std::string& type,
                        const std::string& reason, const std::string& message);

  private:
    kube::Client& client_;
    std::string component_;
};

}  // namespace annal::op
