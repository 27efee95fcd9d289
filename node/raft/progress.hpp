#pragma once
// The leader's view of one follower, and the flow control built on it (after etcd-raft's
// tracker/progress.go):
//   Probe     - next is a guess; one Append in flight until the follower answers.
//   Replicate - next is known; Appends are pipelined, at most max_inflight_msgs unanswered.
//   Snapshot  - the follower needs a snapshot; chunks flow, no Appends until it is loaded.

#include <cstdint>
#include <deque>
#include <memory>

#include "raft/types.hpp"

namespace annal::raft {

enum class ProgressState : std::uint8_t { Probe = 0, Replicate = 1, Snapshot = 2 };

const char* to_string(ProgressState state);

struct Progress {
    Index match = 0;
    Index next = 1;
    ProgressState state = ProgressState::Probe;
    bool probe_sent = false;     // Probe: an Append is in flight, wait for its answer
    bool recent_active = false;  // heard from since the last check-quorum round
    int inactive_ticks = 0;      // ticks since the leader last heard from this peer
    bool learner = false;
    std::uint64_t read_seq_acked = 0;  // highest heartbeat read_seq this peer echoed
    std::deque<Index> inflight;        // last index of each unanswered Append (Replicate)

    // Snapshot being sent (kept alive here even if the application snapshots again).
    std::shared_ptr<const Snapshot> snapshot;
    std::uint64_t snapshot_acked = 0;  // bytes the follower confirmed holding
    std::uint64_t snapshot_sent = 0;   // bytes sent so far
    int snapshot_idle_ticks = 0;

    void become_probe();
    void become_replicate();
    void become_snapshot(std::shared_ptr<const Snapshot> snap);
    // The follower holds everything up to n; false if that is old news.
    bool maybe_update(Index n);
    // A rejected Append at `rejected`; `hint` is where to probe next. False if stale.
    bool maybe_decrease_to(Index rejected, Index hint);
    // Records an Append just sent (entries up to `last`, or none if last == 0).
    void sent_entries(Index last);
    void free_up_to(Index index);
    bool is_paused(std::size_t max_inflight) const;
};

}  // namespace annal::raft
