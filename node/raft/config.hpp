#pragma once

#include <cstddef>
#include <cstdint>

#include "raft/types.hpp"

namespace annal::raft {

// Deliberate bugs, for proving that the simulator's checker can fail. Never set in
// production; only the test suite uses anything but None.
enum class BugInjection : std::uint8_t {
    None = 0,
    CommitOnMinority = 1,  // leader commits once fewer than a quorum hold an entry
};

struct Config {
    NodeId id = kNoNode;
    GroupId group = 0;

    // Timing, in ticks. A follower starts an election after a random timeout in
    // [election_tick, 2 * election_tick); a leader sends heartbeats every heartbeat_tick.
    int election_tick = 10;
    int heartbeat_tick = 1;
    // Seeds the core's own deterministic PRNG (election timeouts only).
    std::uint64_t seed = 0;

    bool pre_vote = true;
    bool check_quorum = true;

    // Flow control per follower in the replicate state: at most this many Append messages
    // in flight, each carrying at most max_msg_bytes of entries (at least one entry).
    std::size_t max_inflight_msgs = 64;
    std::uint64_t max_msg_bytes = 1 << 20;
    // Snapshots travel in chunks of at most this many bytes, one chunk in flight.
    std::uint64_t max_snapshot_chunk_bytes = 1 << 20;
    // A snapshot chunk not acknowledged after this many ticks is sent again.
    int snapshot_resend_ticks = 3;
    // Upper bound on committed entry bytes handed out per Ready (0: unlimited).
    std::uint64_t max_committed_bytes_per_ready = 0;

    // Index already applied by the state machine at start (0: the snapshot's index).
    Index applied = 0;

    // Checks invariants after every step and aborts on violation (cheap: O(members)).
    bool check_invariants = true;
    BugInjection bug = BugInjection::None;
};

}  // namespace annal::raft
