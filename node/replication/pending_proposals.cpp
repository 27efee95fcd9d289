#include "replication/pending_proposals.hpp"

namespace annal::replication {

void PendingProposals::add(raft::Index index, PendingProposal proposal) {
    by_index_.insert_or_assign(index, std::move(proposal));
}

std::optional<PendingProposal> PendingProposals::take(raft::Index index) {
    auto it = by_index_.find(index);
    if (it == by_index_.end()) {
        return std::nullopt;
    }
    PendingProposal proposal = std::move(it->second);
    by_index_.erase(it);
    return proposal;
}

std::map<raft::Index, PendingProposal> PendingProposals::take_through(raft::Index index) {
    std::map<raft::Index, PendingProposal> out;
    auto end = by_index_.upper_bound(index);
    for (auto it = by_index_.begin(); it != end;) {
        out.insert(by_index_.extract(it++));
    }
    return out;
}

std::map<raft::Index, PendingProposal> PendingProposals::take_all() {
    std::map<raft::Index, PendingProposal> out;
    out.swap(by_index_);
    return out;
}

}  // namespace annal::replication
