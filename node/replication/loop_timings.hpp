// Where an append's time goes in the replication loop and the log writer, for /metrics. A
// replicated append waits in turn for: the loop to take it (input wait), the log writes
// (the leader's and the followers', in parallel) and the quorum's acknowledgements
// (together: propose -> commit), then its apply (commit -> reply); the lazy commit of
// applied entries blocks the loop now and then (apply commit). Comparing these across
// cluster sizes is how the cost of replication is attributed (docs/benchmarks.cluster.md).
// All values are microseconds in power-of-two buckets; recorded by the loop and the log
// writer threads, read by anyone.
#pragma once

#include "storage/event_store.hpp"
#include "storage/histogram.hpp"

namespace annal::replication {

struct LoopTimingStats {
    storage::Histogram input_wait_us;         // first input queued -> the cycle that takes it
    storage::Histogram persist_us;            // the Raft write-ahead log: one batch + fdatasync
    storage::Histogram apply_commit_us;       // the lazy LMDB commit of applied entries
    storage::Histogram propose_to_commit_us;  // leader: append queued -> commit learned
    storage::Histogram commit_to_reply_us;    // leader: commit learned -> append completed
};

class LoopTimings {
  public:
    storage::AtomicHistogram input_wait_us;
    storage::AtomicHistogram persist_us;
    storage::AtomicHistogram apply_commit_us;
    storage::AtomicHistogram propose_to_commit_us;
    storage::AtomicHistogram commit_to_reply_us;

    LoopTimingStats snapshot() const {
        return {input_wait_us.snapshot(), persist_us.snapshot(), apply_commit_us.snapshot(),
                propose_to_commit_us.snapshot(), commit_to_reply_us.snapshot()};
    }
};

}  // namespace annal::replication
