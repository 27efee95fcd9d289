#include "raft/progress.hpp"

#include <algorithm>

namespace annal::raft {

const char* to_string(ProgressState state) {
    switch (state) {
        case ProgressState::Probe:
            return "probe";
        case ProgressState::Replicate:
            return "replicate";
        case ProgressState::Snapshot:
            return "snapshot";
    }
    return "?";
}

void Progress::become_probe() {
    // After a snapshot, the follower will hold at least the snapshot's index.
    if (state == ProgressState::Snapshot && snapshot) {
        next = std::max(match + 1, snapshot->meta.index + 1);
    } else {
        next = match + 1;
    }
    state = ProgressState::Probe;
    probe_sent = false;
    inflight.clear();
    snapshot.reset();
}

void Progress::become_replicate() {
    next = match + 1;
    state = ProgressState::Replicate;
    probe_sent = false;
    inflight.clear();
    snapshot.reset();
}

void Progress::become_snapshot(std::shared_ptr<const Snapshot> snap) {
    state = ProgressState::Snapshot;
    probe_sent = false;
    inflight.clear();
    snapshot = std::move(snap);
    snapshot_acked = 0;
    snapshot_sent = 0;
    snapshot_idle_ticks = 0;
}

bool Progress::maybe_update(Index n) {
    bool updated = false;
    if (match < n) {
        match = n;
        updated = true;
        probe_sent = false;
    }
    next = std::max(next, n + 1);
    return updated;
}

bool Progress::maybe_decrease_to(Index rejected, Index hint) {
    if (state == ProgressState::Replicate) {
        // Rejections of indexes already matched come from reordered, stale messages.
        if (rejected <= match)
            return false;
        next = match + 1;
        return true;
    }
    // In probe, only the answer to the one outstanding probe counts.
    if (next == 0 || next - 1 != rejected)
        return false;
    next = std::max(std::min(rejected, hint + 1), match + 1);
    probe_sent = false;
    return true;
}

void Progress::sent_entries(Index last) {
    if (state == ProgressState::Replicate) {
        if (last == 0)
            return;
        next = last + 1;
        inflight.push_back(last);
    } else if (state == ProgressState::Probe) {
        probe_sent = true;
    }
}

void Progress::free_up_to(Index index) {
    while (!inflight.empty() && inflight.front() <= index)
        inflight.pop_front();
}

bool Progress::is_paused(std::size_t max_inflight) const {
    switch (state) {
        case ProgressState::Probe:
            return probe_sent;
        case ProgressState::Replicate:
            return inflight.size() >= max_inflight;
        case ProgressState::Snapshot:
            return true;
    }
    return true;
}

}  // namespace annal::raft
