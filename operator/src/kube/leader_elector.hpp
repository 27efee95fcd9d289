// Leader election on a coordination.k8s.io/v1 Lease, with client-go's rules: a lease held
// by someone else counts as expired only after it stayed unchanged for a whole lease
// duration on OUR clock (no clock-skew assumptions); a holder that cannot renew within the
// renew deadline must stop acting as leader.
#pragma once

#include <chrono>
#include <stop_token>
#include <string>

#include "kube/client.hpp"

namespace annal::kube {

struct LeaderElectionConfig {
    std::string lease_namespace = "default";
    std::string lease_name = "annal-operator";
    std::string identity;
    std::chrono::milliseconds lease_duration{15000};
    std::chrono::milliseconds renew_deadline{10000};
    std::chrono::milliseconds retry_period{2000};
};

class LeaderElector {
  public:
    LeaderElector(Client& client, LeaderElectionConfig config);

    // Blocks until this identity holds the lease (true) or `stop` is requested (false).
    bool acquire(std::stop_token stop);
    // Renews until leadership is lost (returns false) or `stop` is requested (true; the
    // caller stops its work, then calls release() so a standby takes over at once).
    bool hold(std::stop_token stop);
    // One attempt to take or renew the lease.
    bool try_acquire_or_renew();
    void release();
    const LeaderElectionConfig& config() const { return config_; }

  private:
    bool try_acquire_or_renew_unguarded();
    using SteadyClock = std::chrono::steady_clock;
    Client& client_;
    LeaderElectionConfig config_;
    std::string observed_spec_;  // last lease spec we saw, serialised
    SteadyClock::time_point observed_at_{};
};

}  // namespace annal::kube
