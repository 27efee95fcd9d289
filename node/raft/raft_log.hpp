#pragma once
// The log as the core sees it: the durable part read through Storage, plus an "unstable"
// tail (and possibly a snapshot) that has been accepted but not yet reported durable.
// Unstable entries are handed out once (in a Ready) and stay here until Core::advance
// reports them durable, so reads never depend on the application's in-flight writes.

#include <cstdint>
#include <optional>
#include <vector>

#include "raft/storage.hpp"
#include "raft/types.hpp"

namespace annal::raft {

class RaftLog {
  public:
    RaftLog(const Storage& storage, Index committed, Index applied);

    Index first_index() const;
    Index last_index() const;
    Term last_term() const { return term(last_index()).value_or(0); }
    // Term of entry i, for first_index() - 1 <= i <= last_index(); nullopt otherwise.
    std::optional<Term> term(Index i) const;
    bool match_term(Index i, Term t) const { return term(i) == t; }
    // Raft's election restriction: is a log ending at (index, term) at least as up to date?
    bool is_up_to_date(Index index, Term t) const;

    // Follower append: if the log matches at (prev_index, prev_term), appends `entries`
    // (dropping a conflicting suffix) and returns the index of the last new entry.
    // `truncated_from` receives the first replaced index (0 when nothing was replaced).
    std::optional<Index> maybe_append(Index prev_index, Term prev_term,
                                      const std::vector<Entry>& entries, Index& truncated_from);
    // Appends at entries.front().index, dropping any suffix from there.
    void append(const std::vector<Entry>& entries);
    // Largest index <= index whose term is <= t (fast log backtracking, etcd-raft style).
    Index find_conflict_by_term(Index index, Term t) const;
    // Entries [lo, hi), at most max_bytes (at least one). Empty if lo < first_index().
    std::vector<Entry> slice(Index lo, Index hi, std::uint64_t max_bytes) const;

    Index committed() const { return committed_; }
    void commit_to(Index index);
    // Replaces the log with a snapshot (all entries dropped).
    void restore(const Snapshot& snapshot);

    // --- persistence bookkeeping ---
    bool has_entries_to_persist() const;
    std::vector<Entry> take_entries_to_persist();
    bool has_snapshot_to_persist() const { return unstable_snapshot_ && !snapshot_in_progress_; }
    Snapshot take_snapshot_to_persist();
    // Entries up to (index, t) are durable (ignored if the log changed meanwhile).
    void stable_to(Index index, Term t);
    void stable_snapshot_to(Index index);
    // Last index that is durable and still part of this log (0 if a snapshot is pending).
    Index durable_last_index() const;

    // --- application bookkeeping ---
    Index applied() const { return applied_; }
    bool has_entries_to_apply() const { return apply_limit() > applied_; }
    std::vector<Entry> take_entries_to_apply(std::uint64_t max_bytes);
    const std::optional<Snapshot>& pending_snapshot() const { return unstable_snapshot_; }

  private:
    std::optional<Term> unstable_term(Index i) const;
    Index apply_limit() const;

    const Storage& storage_;
    std::optional<Snapshot> unstable_snapshot_;
    bool snapshot_in_progress_ = false;
    std::vector<Entry> unstable_;  // entries from offset_ on
    Index offset_ = 1;
    Index in_progress_ = 0;  // last unstable index already handed out for persistence
    Index committed_ = 0;
    Index applied_ = 0;  // last index handed out for applying
};

}  // namespace annal::raft
