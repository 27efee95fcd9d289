// The leader's proposals waiting for their entry to be applied, by log index. A proposal
// completes when the entry at its index is applied: with the apply result if the applied
// entry has the proposal's term, NotCommitted otherwise (another leader's entry replaced
// it). Loop thread only.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <optional>
#include <string>

#include "raft/types.hpp"
#include "storage/event_store.hpp"

namespace annal::replication {

struct PendingProposal {
    raft::Term term = 0;
    std::chrono::steady_clock::time_point enqueued;
    // Exactly one of the two is set: an append's completion, or an admin change's
    // completion (called with true when the entry was applied as proposed).
    storage::EventStore::AppendCallback append_done;
    std::function<void(bool applied)> change_done;
};

class PendingProposals {
  public:
    void add(raft::Index index, PendingProposal proposal);
    // Removes and returns the proposal at `index` if any.
    std::optional<PendingProposal> take(raft::Index index);
    // Removes and returns every proposal with index <= `index` (entries applied without a
    // proposal of this node's term at that index).
    std::map<raft::Index, PendingProposal> take_through(raft::Index index);
    std::map<raft::Index, PendingProposal> take_all();
    std::size_t size() const { return by_index_.size(); }
    bool empty() const { return by_index_.empty(); }

  private:
    std::map<raft::Index, PendingProposal> by_index_;
};

}  // namespace annal::replication
