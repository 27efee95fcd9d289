// `annal cluster status|add-learner|promote|remove|transfer`: the node's admin API
// (docs/API.md "Cluster administration"). Changes are sent to --server; a follower's 307
// is followed to the leader.
#pragma once

#include <cstdint>
#include <string>

#include "cli/global_options.hpp"

namespace annal::cli {

struct ClusterOptions {
    std::string action;  // status, add-learner, promote, remove, transfer
    std::uint64_t id = 0;
    std::string address;  // add-learner
};

int run_cluster(const GlobalOptions& global, const ClusterOptions& options);

}  // namespace annal::cli
