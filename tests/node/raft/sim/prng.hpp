#pragma once
// The simulator's only source of randomness. splitmix64 with an explicit range mapping, so
// a seed replays identically on every platform and standard library (std::*_distribution
// output is implementation-defined and is therefore not used).

#include <cstdint>

namespace annal::raft::sim {

class Prng {
  public:
    explicit Prng(std::uint64_t seed) : state_(seed) {}

    std::uint64_t next() {
        std::uint64_t z = (state_ += 0x9e3779b97f4a7c15ULL);
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
        return z ^ (z >> 31);
    }
    // Uniform in [0, n) for n > 0 (modulo bias is below 2^-40 for the small n used here).
    std::uint64_t below(std::uint64_t n) { return n == 0 ? 0 : next() % n; }
    // Uniform in [lo, hi].
    std::uint64_t between(std::uint64_t lo, std::uint64_t hi) { return lo + below(hi - lo + 1); }
    // True with probability num / den.
    bool chance(std::uint64_t num, std::uint64_t den) { return below(den) < num; }

  private:
    std::uint64_t state_;
};

}  // namespace annal::raft::sim
