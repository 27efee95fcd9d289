// annal_raft_bench: entries per second through a 3-node simulated cluster, core alone
// (zero-latency network, instant storage, no checks beyond the core's own invariants).
//
//   annal_raft_bench [entries_per_run]    (default 200000, at most 64 MiB of payload)

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "sim/cluster.hpp"

using namespace annal::raft;

namespace {

double run(std::size_t entry_bytes, std::size_t total, std::size_t batch) {
    Config config;
    config.max_inflight_msgs = 256;
    config.max_msg_bytes = 1 << 20;
    sim::Cluster cluster(1, config);
    const Membership m{{1, 2, 3}, {}};
    for (NodeId id = 1; id <= 3; ++id)
        cluster.add_node(id, m);
    cluster.core(1).campaign();
    cluster.deliver_all();
    const std::string payload(entry_bytes, 'x');
    const auto start = std::chrono::steady_clock::now();
    for (std::size_t done = 0; done < total; done += batch) {
        for (std::size_t i = 0; i < batch; ++i) {
            // Unique payloads keep the checker's duplicate detection meaningful.
            std::string p = payload;
            const std::string tag = std::to_string(done + i);
            p.replace(0, std::min(tag.size(), p.size()), tag.substr(0, p.size()));
            if (p.size() < tag.size())
                p = tag;
            cluster.propose(1, std::move(p));
        }
        cluster.deliver_all();
    }
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (cluster.failed() || !cluster.all_applied(m, total)) {
        std::fprintf(stderr, "benchmark run failed: %s\n", cluster.failure().c_str());
        std::exit(1);
    }
    return static_cast<double>(total) / seconds;
}

}  // namespace

int main(int argc, char** argv) {
    const std::size_t total = argc > 1 ? std::strtoull(argv[1], nullptr, 10) : 200000;
    std::printf("3-node cluster, core only, zero-latency network, instant storage\n");
    std::printf("%10s %8s %16s %12s\n", "entry B", "batch", "entries/s", "MB/s");
    for (std::size_t bytes : {16, 256, 4096}) {
        for (std::size_t batch : {1, 64}) {
            // The simulator keeps every payload (logs, history): bound the bytes per run.
            const std::size_t n = std::min(total, (std::size_t{64} << 20) / bytes);
            const double rate = run(bytes, n, batch);
            std::printf("%10zu %8zu %16.0f %12.1f\n", bytes, batch, rate, rate * bytes / 1e6);
        }
    }
    return 0;
}
