// annal_raft_sim: runs the randomized fault simulator over many seeds.
//
//   annal_raft_sim [--seeds N] [--first S] [--jobs J]   run seeds S .. S+N-1 (default 1..1000)
//   annal_raft_sim --seed N                             replay one seed, print its result
//   annal_raft_sim --bug commit-on-minority --expect-failure [--seeds N]
//       inject a bug into the core (its own invariant checks off) and succeed only if the
//       simulator catches it within the seeds: proves the checker can fail.
// ANNAL_RAFT_SEEDS=N in the environment overrides the default seed count.

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "sim/random_run.hpp"

namespace {

using annal::raft::BugInjection;
using annal::raft::sim::run_random;
using annal::raft::sim::RunOptions;
using annal::raft::sim::RunResult;

int usage() {
    std::fprintf(stderr,
                 "usage: annal_raft_sim [--seeds N] [--first S] [--jobs J] [--seed N]\n"
                 "                      [--bug commit-on-minority --expect-failure]\n");
    return 2;
}

}  // namespace

int main(int argc, char** argv) {
    std::uint64_t seeds = 1000;
    if (const char* env = std::getenv("ANNAL_RAFT_SEEDS"))
        seeds = std::strtoull(env, nullptr, 10);
    std::uint64_t first = 1;
    std::uint64_t jobs = 1;
    bool single = false;
    bool expect_failure = false;
    BugInjection bug = BugInjection::None;
    for (int i = 1; i < argc; ++i) {
        const std::string arg = argv[i];
        auto value = [&]() -> std::uint64_t {
            if (i + 1 >= argc)
                std::exit(usage());
            return std::strtoull(argv[++i], nullptr, 10);
        };
        if (arg == "--seeds") {
            seeds = value();
        } else if (arg == "--first") {
            first = value();
        } else if (arg == "--jobs") {
            jobs = std::max<std::uint64_t>(1, value());
        } else if (arg == "--seed") {
            first = value();
            seeds = 1;
            single = true;
        } else if (arg == "--bug" && i + 1 < argc &&
                   std::strcmp(argv[i + 1], "commit-on-minority") == 0) {
            bug = BugInjection::CommitOnMinority;
            ++i;
        } else if (arg == "--expect-failure") {
            expect_failure = true;
        } else {
            return usage();
        }
    }

    const auto start = std::chrono::steady_clock::now();
    std::atomic<std::uint64_t> next{first};
    std::atomic<std::uint64_t> failures{0};
    std::atomic<std::uint64_t> acked{0};
    std::atomic<std::uint64_t> ran{0};
    std::atomic<std::uint64_t> leaders{0}, crashes{0}, installs{0}, configs{0}, reads{0};
    std::atomic<bool> stop{false};
    std::mutex print_mutex;
    std::string first_failure;
    auto worker = [&] {
        for (;;) {
            if (stop.load())
                return;
            const std::uint64_t seed = next.fetch_add(1);
            if (seed >= first + seeds)
                return;
            RunOptions options;
            options.seed = seed;
            options.bug = bug;
            options.core_invariants = bug == BugInjection::None;
            const RunResult r = run_random(options);
            ran.fetch_add(1);
            acked.fetch_add(r.acked);
            leaders.fetch_add(r.leaders);
            crashes.fetch_add(r.crashes);
            installs.fetch_add(r.snapshots_installed);
            configs.fetch_add(r.config_changes_applied);
            reads.fetch_add(r.reads_served);
            if (single) {
                std::printf("seed %llu: %s, %llu acknowledged, %llu applied, %llu messages\n",
                            static_cast<unsigned long long>(seed), r.ok ? "ok" : "FAILED",
                            static_cast<unsigned long long>(r.acked),
                            static_cast<unsigned long long>(r.applied),
                            static_cast<unsigned long long>(r.messages));
            }
            if (!r.ok) {
                failures.fetch_add(1);
                std::lock_guard lock(print_mutex);
                if (first_failure.empty())
                    first_failure = r.failure;
                std::printf("FAIL %s\n", r.failure.c_str());
                // With an injected bug one catch is the point; stop early.
                if (expect_failure)
                    stop.store(true);
            }
        }
    };
    std::vector<std::thread> threads;
    for (std::uint64_t j = 1; j < jobs; ++j)
        threads.emplace_back(worker);
    worker();
    for (auto& t : threads)
        t.join();
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    std::printf("%llu seeds from %llu, %llu failed, %llu proposals acknowledged, %.1f s\n",
                static_cast<unsigned long long>(ran.load()), static_cast<unsigned long long>(first),
                static_cast<unsigned long long>(failures.load()),
                static_cast<unsigned long long>(acked.load()), seconds);
    std::printf(
        "coverage: %llu leaders elected, %llu crashes, %llu snapshots installed, "
        "%llu config entries applied, %llu reads served\n",
        static_cast<unsigned long long>(leaders.load()),
        static_cast<unsigned long long>(crashes.load()),
        static_cast<unsigned long long>(installs.load()),
        static_cast<unsigned long long>(configs.load()),
        static_cast<unsigned long long>(reads.load()));
    if (expect_failure) {
        if (failures.load() == 0) {
            std::printf("injected bug was NOT caught\n");
            return 1;
        }
        std::printf("injected bug caught as expected: %s\n", first_failure.c_str());
        return 0;
    }
    return failures.load() == 0 ? 0 : 1;
}
