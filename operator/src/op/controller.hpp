// Wires informers to the work queue and runs the reconcile workers. Informers watch the
// AnnalClusters and the objects they own; an event on an owned object enqueues its owner.
#pragma once

#include <nlohmann/json.hpp>

#include <chrono>
#include <stop_token>
#include <string>

#include "kube/client.hpp"
#include "op/reconciler.hpp"
#include "op/work_queue.hpp"

namespace annal::op {

struct ControllerOptions {
    std::string watch_namespace;  // empty: all namespaces
    std::string pdb_api_version = "policy/v1";
    int workers = 2;
    std::chrono::milliseconds resync{60000};
    Backoff backoff{};
    int watch_timeout_seconds = 300;
};

// The AnnalCluster key ("ns/name") an object belongs to: the AnnalCluster itself, the
// controller owner reference of an owned object, or the instance label of a pod or volume
// (whose owner is the StatefulSet). Empty if none.
std::string owner_key(const nlohmann::json& object);

class Controller {
  public:
    Controller(kube::Client& client, Reconciler& reconciler, ControllerOptions options);
    // Blocks until `stop` is requested; then stops informers and lets workers finish.
    void run(std::stop_token stop);

  private:
    void work();

    kube::Client& client_;
    Reconciler& reconciler_;
    ControllerOptions options_;
    WorkQueue queue_;
};

}  // namespace annal::op
