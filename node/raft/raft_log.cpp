#include "raft/raft_log.hpp"

#include <algorithm>

#include "raft/invariant.hpp"

namespace annal::raft {

RaftLog::RaftLog(const Storage& storage, Index committed, Index applied)
    : storage_(storage),
      offset_(storage.last_index() + 1),
      in_progress_(storage.last_index()),
      committed_(committed),
      applied_(applied) {
    ANNAL_RAFT_REQUIRE(committed_ <= storage.last_index(), "stored commit beyond stored log");
    ANNAL_RAFT_REQUIRE(applied_ <= committed_, "applied beyond commit at start");
}

Index RaftLog::first_index() const {
    if (unstable_snapshot_)
        return unstable_snapshot_->meta.index + 1;
    return storage_.first_index();
}

Index RaftLog::last_index() const {
    if (!unstable_.empty())
        return offset_ + unstable_.size() - 1;
    if (unstable_snapshot_)
        return unstable_snapshot_->meta.index;
    return storage_.last_index();
}

std::optional<Term> RaftLog::unstable_term(Index i) const {
    if (i >= offset_ && i < offset_ + unstable_.size())
        return unstable_[i - offset_].term;
    if (unstable_snapshot_ && i == unstable_snapshot_->meta.index) {
        return unstable_snapshot_->meta.term;
    }
    return std::nullopt;
}

std::optional<Term> RaftLog::term(Index i) const {
    if (i + 1 < first_index() || i > last_index())
        return std::nullopt;
    if (auto t = unstable_term(i))
        return t;
    if (unstable_snapshot_ || i >= offset_)
        return std::nullopt;
    return storage_.term(i);
}

bool RaftLog::is_up_to_date(Index index, Term t) const {
    const Term mine = last_term();
    return t > mine || (t == mine && index >= last_index());
}

std::optional<Index> RaftLog::maybe_append(Index prev_index, Term prev_term,
                                           const std::vector<Entry>& entries,
                                           Index& truncated_from) {
    truncated_from = 0;
    if (!match_term(prev_index, prev_term))
        return std::nullopt;
    const Index last_new = prev_index + entries.size();
    // Skip entries we already hold; the first mismatch (or the first entry past our end)
    // is where the new ones start.
    std::size_t skip = 0;
    while (skip < entries.size() && match_term(entries[skip].index, entries[skip].term))
        ++skip;
    if (skip < entries.size()) {
        const Index from = entries[skip].index;
        ANNAL_RAFT_REQUIRE(from > committed_, "leader asked to overwrite a committed entry");
        if (from <= last_index())
            truncated_from = from;
        append(
            std::vector<Entry>(entries.begin() + static_cast<std::ptrdiff_t>(skip), entries.end()));
    }
    return last_new;
}

void RaftLog::append(const std::vector<Entry>& entries) {
    if (entries.empty())
        return;
    const Index after = entries.front().index;
    ANNAL_RAFT_REQUIRE(after > committed_, "append would overwrite committed entries");
    ANNAL_RAFT_REQUIRE(after <= last_index() + 1, "append leaves a gap");
    if (after == offset_ + unstable_.size()) {
        unstable_.insert(unstable_.end(), entries.begin(), entries.end());
    } else if (after <= offset_) {
        // Replaces durable entries too: the application truncates them when it persists.
        offset_ = after;
        unstable_ = entries;
        in_progress_ = after - 1;
    } else {
        unstable_.resize(after - offset_);
        unstable_.insert(unstable_.end(), entries.begin(), entries.end());
        in_progress_ = std::min(in_progress_, after - 1);
    }
}

Index RaftLog::find_conflict_by_term(Index index, Term t) const {
    index = std::min(index, last_index());
    while (index > 0) {
        auto ours = term(index);
        if (!ours || *ours <= t)
            break;
        --index;
    }
    return index;
}

std::vector<Entry> RaftLog::slice(Index lo, Index hi, std::uint64_t max_bytes) const {
    std::vector<Entry> out;
    if (lo >= hi || lo < first_index())
        return out;
    hi = std::min(hi, last_index() + 1);
    std::uint64_t bytes = 0;
    if (lo < offset_) {
        out = storage_.entries(lo, std::min(hi, offset_), max_bytes);
        for (const Entry& e : out)
            bytes += entry_bytes(e);
        if (out.size() < std::min(hi, offset_) - lo)
            return out;  // byte limit reached
    }
    for (Index i = std::max(lo, offset_); i < hi; ++i) {
        const Entry& e = unstable_[i - offset_];
        bytes += entry_bytes(e);
        if (!out.empty() && bytes > max_bytes)
            break;
        out.push_back(e);
    }
    return out;
}

void RaftLog::commit_to(Index index) {
    if (index <= committed_)
        return;
    ANNAL_RAFT_REQUIRE(index <= last_index(), "commit beyond the end of the log");
    committed_ = index;
}

void RaftLog::restore(const Snapshot& snapshot) {
    unstable_snapshot_ = snapshot;
    snapshot_in_progress_ = false;
    unstable_.clear();
    offset_ = snapshot.meta.index + 1;
    in_progress_ = snapshot.meta.index;
    committed_ = snapshot.meta.index;
    applied_ = snapshot.meta.index;
}

bool RaftLog::has_entries_to_persist() const {
    return !unstable_.empty() && in_progress_ < last_index();
}

std::vector<Entry> RaftLog::take_entries_to_persist() {
    std::vector<Entry> out;
    const Index from = std::max(in_progress_ + 1, offset_);
    for (Index i = from; i <= last_index(); ++i)
        out.push_back(unstable_[i - offset_]);
    in_progress_ = last_index();
    return out;
}

Snapshot RaftLog::take_snapshot_to_persist() {
    snapshot_in_progress_ = true;
    return *unstable_snapshot_;
}

void RaftLog::stable_to(Index index, Term t) {
    if (index < offset_ || index > in_progress_ || unstable_term(index) != t)
        return;
    unstable_.erase(unstable_.begin(),
                    unstable_.begin() + static_cast<std::ptrdiff_t>(index + 1 - offset_));
    offset_ = index + 1;
}

void RaftLog::stable_snapshot_to(Index index) {
    if (unstable_snapshot_ && snapshot_in_progress_ && unstable_snapshot_->meta.index == index) {
        unstable_snapshot_.reset();
        snapshot_in_progress_ = false;
    }
}

Index RaftLog::durable_last_index() const {
    if (unstable_snapshot_)
        return 0;
    return offset_ - 1;
}

Index RaftLog::apply_limit() const {
    // Only what has been handed out for persistence: the application applies after the
    // Ready carrying those entries is durable.
    const Index handed_out = unstable_.empty() ? last_index() : std::max(in_progress_, offset_ - 1);
    return std::min(committed_, handed_out);
}

std::vector<Entry> RaftLog::take_entries_to_apply(std::uint64_t max_bytes) {
    const Index limit = apply_limit();
    if (limit <= applied_)
        return {};
    std::vector<Entry> out =
        slice(applied_ + 1, limit + 1, max_bytes == 0 ? UINT64_MAX : max_bytes);
    if (!out.empty())
        applied_ = out.back().index;
    return out;
}

}  // namespace annal::raft
