#include "raft/memory_storage.hpp"

#include "raft/invariant.hpp"

namespace annal::raft {

MemoryStorage::MemoryStorage(Membership bootstrap) {
    auto snap = std::make_shared<Snapshot>();
    snap->meta.membership = std::move(bootstrap);
    snapshot_ = std::move(snap);
    entries_.push_back(Entry{});
}

std::vector<Entry> MemoryStorage::entries(Index lo, Index hi, std::uint64_t max_bytes) const {
    ANNAL_RAFT_REQUIRE(lo >= first_index() && hi <= last_index() + 1 && lo <= hi,
                       "MemoryStorage::entries out of range");
    std::vector<Entry> out;
    std::uint64_t bytes = 0;
    const Index base = entries_.front().index;
    for (Index i = lo; i < hi; ++i) {
        const Entry& e = entries_[i - base];
        bytes += entry_bytes(e);
        if (!out.empty() && bytes > max_bytes)
            break;
        out.push_back(e);
    }
    return out;
}

std::optional<Term> MemoryStorage::term(Index i) const {
    const Index base = entries_.front().index;
    if (i < base || i > last_index())
        return std::nullopt;
    return entries_[i - base].term;
}

void MemoryStorage::persist(const Ready& ready) {
    if (ready.snapshot)
        apply_snapshot(*ready.snapshot);
    if (!ready.entries.empty())
        append(ready.entries);
    if (ready.hard_state)
        hard_state_ = *ready.hard_state;
}

void MemoryStorage::apply_snapshot(Snapshot snapshot) {
    entries_.clear();
    entries_.push_back(Entry{snapshot.meta.term, snapshot.meta.index, EntryType::Noop, {}});
    snapshot_ = std::make_shared<Snapshot>(std::move(snapshot));
}

void MemoryStorage::append(const std::vector<Entry>& entries) {
    if (entries.empty())
        return;
    const Index base = entries_.front().index;
    const Index from = entries.front().index;
    ANNAL_RAFT_REQUIRE(from > base && from <= last_index() + 1,
                       "MemoryStorage::append leaves a gap or rewrites compacted entries");
    entries_.resize(from - base);
    entries_.insert(entries_.end(), entries.begin(), entries.end());
}

void MemoryStorage::create_snapshot(Index index, Membership membership, std::string data) {
    ANNAL_RAFT_REQUIRE(
        index >= snapshot_->meta.index && index <= last_index() && index >= entries_.front().index,
        "MemoryStorage::create_snapshot index out of range");
    auto snap = std::make_shared<Snapshot>();
    snap->meta.index = index;
    snap->meta.term = *term(index);
    snap->meta.membership = std::move(membership);
    snap->data = std::move(data);
    snapshot_ = std::move(snap);
}

void MemoryStorage::compact(Index index) {
    const Index base = entries_.front().index;
    if (index <= base)
        return;
    ANNAL_RAFT_REQUIRE(index <= snapshot_->meta.index && index <= last_index(),
                       "MemoryStorage::compact beyond the snapshot");
    entries_.erase(entries_.begin(), entries_.begin() + static_cast<std::ptrdiff_t>(index - base));
    entries_.front().data.clear();
}

}  // namespace annal::raft
