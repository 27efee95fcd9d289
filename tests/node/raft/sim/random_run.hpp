#pragma once
// One randomized fault-injection run, fully determined by its seed.

#include <cstdint>
#include <string>

#include "raft/config.hpp"

namespace annal::raft::sim {

struct RunOptions {
    std::uint64_t seed = 1;
    BugInjection bug = BugInjection::None;
    // The core's own invariant checks abort the process; the bug-injection test turns them
    // off so that it is the simulator's checker that must notice.
    bool core_invariants = true;
    std::uint64_t fault_units = 3000;    // time units of load + faults (10 per tick)
    std::uint64_t liveness_ticks = 400;  // bound for electing a leader and committing after heal
};

struct RunResult {
    bool ok = true;
    std::string failure;  // includes the seed
    std::uint64_t acked = 0;
    std::uint64_t applied = 0;
    std::uint64_t messages = 0;
    std::uint64_t leaders = 0, crashes = 0, snapshots_installed = 0, config_changes_applied = 0,
                  reads_served = 0;
};

RunResult run_random(const RunOptions& options);

}  // namespace annal::raft::sim
