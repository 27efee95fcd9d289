// The terms of a group's whole durable log, kept in memory as runs of equal terms, so that
// Storage::term(i) — called on every Append the core sends or checks — never touches LMDB.
// Terms never decrease along a Raft log, so a log of millions of entries written in a few
// terms costs a few runs: memory grows with the number of leader changes, not entries.
#pragma once

#include <optional>
#include <vector>

#include "raft/types.hpp"

namespace annal::replication {

class TermCache {
  public:
    // An empty log whose preceding entry (snapshot or compaction point) is (index, term).
    void reset(raft::Index base_index, raft::Term base_term);
    // Appends the entry last_index() + 1. Returns false (and changes nothing) if `term` is
    // lower than the last entry's term, which no valid Raft log contains.
    bool append(raft::Index index, raft::Term term);
    // Appends entries last_index() + 1 .. through, all of `term` (restoring a run at open).
    bool append_through(raft::Index through, raft::Term term);
    // Drops every entry after `index` (base_index() <= index <= last_index()).
    void truncate_after(raft::Index index);
    // Moves the base forward to `index` (<= last_index()); entries up to it are dropped.
    void compact(raft::Index index);

    // Term of entry i for base_index() <= i <= last_index(); nullopt otherwise.
    std::optional<raft::Term> term(raft::Index i) const;
    raft::Index base_index() const { return base_index_; }
    raft::Term base_term() const { return base_term_; }
    raft::Index last_index() const { return last_index_; }
    std::size_t run_count() const { return runs_.size(); }

  private:
    struct Run {
        raft::Index first = 0;  // the run covers [first, next run's first - 1]
        raft::Term term = 0;
    };
    raft::Index base_index_ = 0;
    raft::Term base_term_ = 0;
    raft::Index last_index_ = 0;
    std::vector<Run> runs_;  // entries (base_index_, last_index_]
};

}  // namespace annal::replication
