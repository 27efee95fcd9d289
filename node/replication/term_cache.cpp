#include "replication/term_cache.hpp"

#include <algorithm>

namespace annal::replication {

void TermCache::reset(raft::Index base_index, raft::Term base_term) {
    base_index_ = base_index;
    base_term_ = base_term;
    last_index_ = base_index;
    runs_.clear();
}

bool TermCache::append(raft::Index index, raft::Term term) {
    const raft::Term last_term = runs_.empty() ? base_term_ : runs_.back().term;
    if (index != last_index_ + 1 || term < last_term) {
        return false;
    }
    if (runs_.empty() || runs_.back().term != term) {
        runs_.push_back(Run{index, term});
    }
    last_index_ = index;
    return true;
}

bool TermCache::append_through(raft::Index through, raft::Term term) {
    if (through == last_index_ && through > base_index_) {
        return runs_.back().term == term;  // already there (bisection meets at a midpoint)
    }
    if (through < last_index_ || !append(last_index_ + 1, term)) {
        return false;
    }
    last_index_ = through;
    return true;
}

void TermCache::truncate_after(raft::Index index) {
    index = std::clamp(index, base_index_, last_index_);
    while (!runs_.empty() && runs_.back().first > index) {
        runs_.pop_back();
    }
    last_index_ = index;
}

void TermCache::compact(raft::Index index) {
    if (index <= base_index_) {
        return;
    }
    index = std::min(index, last_index_);
    const raft::Term term_at = *term(index);
    // Runs entirely at or before the new base go; the one containing index + 1 starts there.
    auto first_kept = std::upper_bound(runs_.begin(), runs_.end(), index,
                                       [](raft::Index i, const Run& run) { return i < run.first; });
    if (first_kept != runs_.begin()) {
        auto containing = std::prev(first_kept);
        if (index < last_index_ && (first_kept == runs_.end() || first_kept->first > index + 1)) {
            containing->first = index + 1;
            first_kept = containing;
        }
    }
    runs_.erase(runs_.begin(), first_kept);
    base_index_ = index;
    base_term_ = term_at;
}

std::optional<raft::Term> TermCache::term(raft::Index i) const {
    if (i < base_index_ || i > last_index_) {
        return std::nullopt;
    }
    if (i == base_index_) {
        return base_term_;
    }
    auto after =
        std::upper_bound(runs_.begin(), runs_.end(), i,
                         [](raft::Index index, const Run& run) { return index < run.first; });
    return std::prev(after)->term;
}

}  // namespace annal::replication
