#pragma once
// What the core reads from durable storage. The application implements it (LMDB in the
// node, MemoryStorage in tests) and is the only writer: it writes what each Ready hands
// out, then reports durability with Core::advance. The core never writes through it.
//
// The durable log is [first_index(), last_index()]; the entry just before it is covered by
// the snapshot, whose (index, term) term(first_index() - 1) must report. An empty log has
// last_index() == first_index() - 1.

#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

#include "raft/types.hpp"

namespace annal::raft {

class Storage {
  public:
    virtual ~Storage() = default;

    // Term, vote and commit as last persisted (all zero for a new node).
    virtual HardState initial_state() const = 0;
    // Entries [lo, hi) with first_index() <= lo < hi <= last_index() + 1. Stops once the
    // total entry_bytes() would exceed max_bytes, but always returns at least one entry.
    virtual std::vector<Entry> entries(Index lo, Index hi, std::uint64_t max_bytes) const = 0;
    // Term of entry i for first_index() - 1 <= i <= last_index(); nullopt otherwise.
    virtual std::optional<Term> term(Index i) const = 0;
    virtual Index first_index() const = 0;
    virtual Index last_index() const = 0;
    // Latest snapshot; its index is >= first_index() - 1. A new node's storage holds an
    // empty snapshot at index 0 carrying the bootstrap membership (empty when joining).
    virtual std::shared_ptr<const Snapshot> snapshot() const = 0;
};

}  // namespace annal::raft
