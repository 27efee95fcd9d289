#pragma once
// In-memory Storage: the simulator's "disk" and a reference for the LMDB implementation.
// Writers must follow the persistence contract described in README.md (persist a Ready's
// snapshot, then entries, then hard state, then call Core::advance).

#include <memory>
#include <vector>

#include "raft/ready.hpp"
#include "raft/storage.hpp"

namespace annal::raft {

class MemoryStorage final : public Storage {
  public:
    // A new node: empty log, snapshot at index 0 holding the bootstrap membership.
    explicit MemoryStorage(Membership bootstrap = {});

    HardState initial_state() const override { return hard_state_; }
    std::vector<Entry> entries(Index lo, Index hi, std::uint64_t max_bytes) const override;
    std::optional<Term> term(Index i) const override;
    Index first_index() const override { return entries_.front().index + 1; }
    Index last_index() const override { return entries_.back().index; }
    std::shared_ptr<const Snapshot> snapshot() const override { return snapshot_; }

    // Persists one Ready (snapshot, entries, hard state) as a single atomic step.
    void persist(const Ready& ready);
    void set_hard_state(const HardState& state) { hard_state_ = state; }
    // Replaces the whole log with the snapshot (a follower installing a leader's snapshot).
    void apply_snapshot(Snapshot snapshot);
    // Appends, first dropping any existing suffix from entries.front().index on.
    void append(const std::vector<Entry>& entries);
    // Records an application snapshot of state up to `index` (<= last_index()). Does not
    // drop log entries; call compact() for that.
    void create_snapshot(Index index, Membership membership, std::string data);
    // Drops entries up to and including `index`, which must be <= the snapshot index so
    // that everything before first_index() is covered by the snapshot.
    void compact(Index index);

  private:
    HardState hard_state_;
    std::shared_ptr<const Snapshot> snapshot_;
    // entries_[0] is a sentinel holding the index and term of the entry just before
    // first_index() (the last compacted one), so term(first_index() - 1) needs no special case.
    std::vector<Entry> entries_;
};

}  // namespace annal::raft
