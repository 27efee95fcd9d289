// Brings one AnnalCluster's owned objects to the desired state and reports status.
// Level-triggered: each call reads the current state afresh, so a reconcile interrupted
// at any point (even by SIGKILL) is completed by the next one.
#pragma once

#include <chrono>
#include <functional>
#include <string>

#include "kube/client.hpp"
#include "op/certificate_authority.hpp"
#include "op/cluster_spec.hpp"
#include "op/cluster_status.hpp"
#include "op/event_recorder.hpp"

namespace annal::op {

struct ReconcileResult {
    bool ok = true;
    std::string error;
    std::chrono::milliseconds requeue_after{0};  // 0: only when something changes
};

class Reconciler {
  public:
    Reconciler(kube::Client& client, EventRecorder& events, MembershipSource& membership,
               std::string pdb_api_version);

    ReconcileResult reconcile(const std::string& ns, const std::string& name);

    // Test hook: the time certificates are checked and issued at.
    void set_clock(std::function<Clock::time_point()> clock) { clock_ = std::move(clock); }

    // Test hook: called between applying owned objects (to kill the process mid-way).
    void set_step_hook(std::function<void(const std::string& step)> hook) {
        step_hook_ = std::move(hook);
    }

  private:
    struct Applied {
        bool ok = false;
        nlohmann::json object;
        std::string error;
    };
    Applied apply_owned(const nlohmann::json& cr, const ClusterSpec& c,
                        const kube::Resource& resource, const nlohmann::json& desired);
    ReconcileResult finish(const nlohmann::json& cr, const ClusterSpec& c, Observation observed,
                           std::chrono::milliseconds requeue_after);
    ReconcileResult handle_deletion(const nlohmann::json& cr, const ClusterSpec& c);
    bool ensure_finalizer(const ClusterSpec& c, bool wanted);
    // tls.mode OperatorGenerated: keeps the CA and the node certificate Secrets current;
    // `revision` identifies the node certificate for the pod template.
    bool ensure_certificates(const nlohmann::json& cr, const ClusterSpec& c, std::string& revision,
                             std::string& error);
    // Deletes PVCs of ordinals >= replicas whose pods are gone; true if some still wait.
    bool delete_removed_volumes(const nlohmann::json& cr, const ClusterSpec& c, std::string& error);
    void step(const std::string& name) {
        if (step_hook_)
            step_hook_(name);
    }

    kube::Client& client_;
    EventRecorder& events_;
    MembershipSource& membership_;
    std::string pdb_api_version_;
    std::function<void(const std::string&)> step_hook_;
    std::function<Clock::time_point()> clock_ = [] { return Clock::now(); };
};

}  // namespace annal::op
