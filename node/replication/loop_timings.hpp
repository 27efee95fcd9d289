// Where an append's time goes inside the replication loop, for /metrics. A replicated
// append waits in turn for: the loop to take it (input wait), the leader's persist
// transaction, the quorum's acknowledgements (the leader holds its next cycle for them:
// ack wait), and the transaction that applies it; comparing these across cluster sizes
// is how the cost of replication is attributed (docs/benchmarks.cluster.md). All values
// are microseconds in power-of-two buckets; recorded by the loop thread, read by anyone.
#pragma once

#include "storage/event_store.hpp"
#include "storage/histogram.hpp"

namespace annal::replication {

struct LoopTimingStats {
    storage::Histogram input_wait_us;         // first input queued -> the cycle that takes it
    storage::Histogram ack_wait_us;           // leader: next cycle held for the quorum's acks
    storage::Histogram persist_us;            // one transaction: log entries + apply + fsync
    storage::Histogram propose_to_commit_us;  // leader: append queued -> commit learned
    storage::Histogram commit_to_reply_us;    // leader: commit learned -> append completed
};

class LoopTimings {
  public:
    storage::AtomicHistogram input_wait_us;
    storage::AtomicHistogram ack_wait_us;
    storage::AtomicHistogram persist_us;
    storage::AtomicHistogram propose_to_commit_us;
    storage::AtomicHistogram commit_to_reply_us;

    LoopTimingStats snapshot() const {
        return {input_wait_us.snapshot(), ack_wait_us.snapshot(), persist_us.snapshot(),
                propose_to_commit_us.snapshot(), commit_to_reply_us.snapshot()};
    }
};

}  // namespace annal::replication
