#include "replication/raft_wal.hpp"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <filesystem>
#include <optional>

#include "raft/codec.hpp"
#include "replication/log_records.hpp"
#include "replication/term_cache.hpp"
#include "replication/wal_records.hpp"
#include "replication/wal_segment.hpp"
#include "replication/wal_segment_preparer.hpp"

namespace annal::replication {
namespace {

[[noreturn]] void fail_stop(const std::string& what) {
    std::fprintf(stderr, "annal: Raft write-ahead log corrupt, stopping: %s\n", what.c_str());
    std::fflush(stderr);
    std::abort();
}

PersistResult failure(PersistStatus status, std::string message) {
    return PersistResult{status, std::move(message)};
}

std::string group_text(raft::GroupId group) {
    return "group " + std::to_string(group);
}

// Where one entry's record lives.
struct Location {
    std::uint64_t segment = 0;
    std::uint64_t offset = 0;
    std::uint32_t length = 0;
};

// What a group's state is apart from its entry locations: small, so the write path stages
// copies of it and installs them once the batch is durable.
struct GroupMeta {
    raft::HardState hard_state;
    std::shared_ptr<const raft::Snapshot> snapshot;
    TermCache terms;  // base = the log base (snapshot or compaction point)
};

// A change to a group's entry locations, applied in batch order after the sync.
struct LocationOp {
    enum class Kind : std::uint8_t { Reset, Append, Compact };
    Kind kind = Kind::Append;
    raft::GroupId group = 0;
    raft::Index index = 0;  // Reset: the new base; Append: the entry; Compact: through
    Location location;      // Append: offset relative to the batch until written
};

// Upper bound of a record's size beyond its entry's data, so that raft::entry_bytes() >=
// record length - kRecordOverheadBound (used to copy no more locations than needed).
constexpr std::uint64_t kRecordOverheadBound =
    kWalRecordHeaderBytes + kWalBodyPrefixBytes + 1 + 3 * 10 + 1 - raft::kEntryOverheadBytes;

// Decodes the entry record at the start of `bytes`; nullopt unless it is a sound entry
// record of (group, index).
std::optional<raft::Entry> decode_entry_at(std::string_view bytes, raft::GroupId group,
                                           raft::Index index, std::size_t& size) {
    WalRecord record;
    if (parse_wal_record(bytes, record) != WalParse::Ok || record.type != WalRecordType::Entry ||
        record.group != group) {
        return std::nullopt;
    }
    auto entry = raft::decode_entry(record.payload);
    if (!entry || entry->index != index) {
        return std::nullopt;
    }
    size = record.size;
    return entry;
}

}  // namespace

// ---------------------------------------------------------------------------------------
// One group as the core sees it.
class WalGroup final : public raft::Storage {
  public:
    WalGroup(const RaftWal& wal, raft::GroupId group, GroupMeta meta,
             std::deque<Location> locations)
        : wal_(wal),
          group_(group),
          meta_(std::move(meta)),
          locations_(std::move(locations)),
          locations_base_(meta_.terms.base_index()) {}

    raft::HardState initial_state() const override {
        std::lock_guard lock(wal_.state_mutex_);
        return meta_.hard_state;
    }
    std::vector<raft::Entry> entries(raft::Index lo, raft::Index hi,
                                     std::uint64_t max_bytes) const override;
    std::optional<raft::Term> term(raft::Index i) const override {
        std::lock_guard lock(wal_.state_mutex_);
        return meta_.terms.term(i);
    }
    raft::Index first_index() const override {
        std::lock_guard lock(wal_.state_mutex_);
        return meta_.terms.base_index() + 1;
    }
    raft::Index last_index() const override {
        std::lock_guard lock(wal_.state_mutex_);
        return meta_.terms.last_index();
    }
    std::shared_ptr<const raft::Snapshot> snapshot() const override {
        std::lock_guard lock(wal_.state_mutex_);
        return meta_.snapshot;
    }

    // Writer thread only: only the writer changes the state, so reading without the lock
    // is safe there.
    const GroupMeta& writer_meta() const { return meta_; }

    // Under state_mutex_.
    void install(GroupMeta meta) { meta_ = std::move(meta); }
    void apply(const LocationOp& op) {
        switch (op.kind) {
            case LocationOp::Kind::Reset:
                locations_.clear();
                locations_base_ = op.index;
                break;
            case LocationOp::Kind::Append:
                locations_.resize(static_cast<std::size_t>(op.index - 1 - locations_base_));
                locations_.push_back(op.location);
                break;
            case LocationOp::Kind::Compact:
                while (locations_base_ < op.index && !locations_.empty()) {
                    locations_.pop_front();
                    ++locations_base_;
                }
                locations_base_ = std::max(locations_base_, op.index);
                break;
        }
    }
    // Entries read back for verify(): fills `out` with the locations of [first, last].
    void copy_locations(raft::Index lo, std::size_t count, std::vector<Location>& out) const {
        const auto begin =
            locations_.begin() + static_cast<std::ptrdiff_t>(lo - 1 - locations_base_);
        out.assign(begin, begin + static_cast<std::ptrdiff_t>(count));
    }
    bool locations_match_terms() const {
        return locations_base_ == meta_.terms.base_index() &&
               locations_.size() == meta_.terms.last_index() - meta_.terms.base_index();
    }

  private:
    const RaftWal& wal_;
    raft::GroupId group_;
    GroupMeta meta_;
    std::deque<Location> locations_;  // entry locations_base_ + 1 + k at k
    raft::Index locations_base_ = 0;
};

std::vector<raft::Entry> WalGroup::entries(raft::Index lo, raft::Index hi,
                                           std::uint64_t max_bytes) const {
    std::vector<Location> wanted;
    std::map<std::uint64_t, std::shared_ptr<WalSegment>> files;
    {
        std::lock_guard lock(wal_.state_mutex_);
        if (lo <= meta_.terms.base_index() || hi > meta_.terms.last_index() + 1 || lo > hi) {
            fail_stop(group_text(group_) + ": entries [" + std::to_string(lo) + ", " +
                      std::to_string(hi) + ") requested outside the stored log");
        }
        // Copy no more locations than can fit in max_bytes (at least one).
        std::uint64_t lower_bound_bytes = 0;
        for (raft::Index i = lo; i < hi; ++i) {
            const Location& loc = locations_[static_cast<std::size_t>(i - 1 - locations_base_)];
            const std::uint64_t at_least =
                loc.length > kRecordOverheadBound ? loc.length - kRecordOverheadBound : 0;
            lower_bound_bytes += at_least;
            if (!wanted.empty() && lower_bound_bytes > max_bytes) {
                break;
            }
            wanted.push_back(loc);
            if (!files.contains(loc.segment)) {
                files.emplace(loc.segment, wal_.segment_for_read(loc.segment));
            }
        }
    }
    std::vector<raft::Entry> out;
    std::uint64_t bytes = 0;
    std::string buffer;
    std::size_t k = 0;
    while (k < wanted.size()) {
        // One pread for each run of records that lie back to back in one segment.
        std::size_t run_end = k + 1;
        std::uint64_t run_bytes = wanted[k].length;
        while (run_end < wanted.size() && wanted[run_end].segment == wanted[k].segment &&
               wanted[run_end].offset == wanted[k].offset + run_bytes && run_bytes < (4u << 20)) {
            run_bytes += wanted[run_end].length;
            ++run_end;
        }
        const std::shared_ptr<WalSegment>& file = files.at(wanted[k].segment);
        if (!file ||
            !file->read_at(wanted[k].offset, static_cast<std::size_t>(run_bytes), buffer) ||
            buffer.size() != run_bytes) {
            fail_stop(group_text(group_) + ": cannot read entry " + std::to_string(lo + k));
        }
        std::size_t at = 0;
        for (std::size_t j = k; j < run_end; ++j) {
            const raft::Index index = lo + j;
            std::size_t size = 0;
            auto entry = decode_entry_at(std::string_view(buffer).substr(at, wanted[j].length),
                                         group_, index, size);
            if (!entry) {
                fail_stop(group_text(group_) + ": entry " + std::to_string(index) + " in " +
                          file->path() + " fails its checksum");
            }
            at += wanted[j].length;
            bytes += raft::entry_bytes(*entry);
            if (!out.empty() && bytes > max_bytes) {
                return out;
            }
            out.push_back(std::move(*entry));
        }
        k = run_end;
    }
    return out;
}

// ---------------------------------------------------------------------------------------
// One batch being built: its records, and the group states and location changes it makes
// (installed only after the batch is durable).
struct RaftWal::Staging {
    explicit Staging(const RaftWal& wal) : wal_(wal) {}

    // The staged state of `group`, copied from the live one on first use; nullptr if the
    // group does not exist (and is not being created).
    GroupMeta* meta(raft::GroupId group) {
        if (auto it = metas.find(group); it != metas.end()) {
            return &it->second;
        }
        auto live = wal_.groups_.find(group);
        if (live == wal_.groups_.end()) {
            return nullptr;
        }
        return &metas.emplace(group, live->second->writer_meta()).first->second;
    }
    void add(WalRecordType type, raft::GroupId group, std::string_view payload) {
        append_wal_record(records, type, group, payload);
        ++record_count;
    }

    std::map<raft::GroupId, GroupMeta> metas;
    std::vector<LocationOp> ops;
    std::string records;
    std::uint32_t record_count = 0;
    std::uint64_t entries = 0;

  private:
    const RaftWal& wal_;
};

namespace {

using Staging = RaftWal::Staging;

void stage_snapshot_install(Staging& s, raft::GroupId group, GroupMeta& meta,
                            const raft::Snapshot& snap) {
    s.add(WalRecordType::SnapshotInstall, group, encode_wal_snapshot(snap));
    meta.terms.reset(snap.meta.index, snap.meta.term);
    meta.snapshot = std::make_shared<const raft::Snapshot>(snap);
    s.ops.push_back(LocationOp{LocationOp::Kind::Reset, group, snap.meta.index, {}});
}

PersistResult stage_entries(Staging& s, raft::GroupId group, GroupMeta& meta,
                            const std::vector<raft::Entry>& entries) {
    const raft::Index from = entries.front().index;
    if (from <= meta.terms.base_index()) {
        return failure(PersistStatus::InvalidInput, group_text(group) + ": entry " +
                                                        std::to_string(from) +
                                                        " is at or behind the log base " +
                                                        std::to_string(meta.terms.base_index()));
    }
    if (from > meta.terms.last_index() + 1) {
        return failure(PersistStatus::InvalidInput,
                       group_text(group) + ": entry " + std::to_string(from) +
                           " leaves a gap after " + std::to_string(meta.terms.last_index()));
    }
    meta.terms.truncate_after(from - 1);
    for (const raft::Entry& entry : entries) {
        if (!meta.terms.append(entry.index, entry.term)) {
            return failure(PersistStatus::InvalidInput,
                           group_text(group) + ": entry " + std::to_string(entry.index) +
                               " is out of sequence or lowers the term");
        }
        const std::uint64_t offset = s.records.size();
        s.add(WalRecordType::Entry, group, raft::encode(entry));
        s.ops.push_back(
            LocationOp{LocationOp::Kind::Append, group, entry.index,
                       Location{0, offset, static_cast<std::uint32_t>(s.records.size() - offset)}});
        ++s.entries;
    }
    return {};
}

PersistResult stage_ready(Staging& s, raft::GroupId group, const raft::Ready& ready) {
    GroupMeta* meta = s.meta(group);
    if (meta == nullptr) {
        return failure(PersistStatus::UnknownGroup, group_text(group) + " does not exist");
    }
    if (ready.snapshot) {
        stage_snapshot_install(s, group, *meta, *ready.snapshot);
    }
    if (!ready.entries.empty()) {
        if (auto r = stage_entries(s, group, *meta, ready.entries); !r.ok()) {
            return r;
        }
    }
    if (ready.hard_state) {
        s.add(WalRecordType::HardState, group, raft::encode(*ready.hard_state));
        meta->hard_state = *ready.hard_state;
    }
    return {};
}

// ---------------------------------------------------------------------------------------
// Replay: a group as rebuilt from the records.
struct ReplayEntry {
    raft::Term term = 0;
    Location location;
};

struct ReplayGroup {
    raft::HardState hard_state;
    std::shared_ptr<const raft::Snapshot> snapshot;
    raft::Index base = 0;
    raft::Term base_term = 0;
    bool base_term_known = true;
    // Highest index whose entry replay skipped because its segment was deleted; the final
    // compaction point must cover it.
    raft::Index hole = 0;
    std::deque<ReplayEntry> entries;  // base + 1 + k at k

    raft::Index last() const { return base + entries.size(); }
};

class Replayer {
  public:
    explicit Replayer(std::map<raft::GroupId, ReplayGroup>& groups) : groups_(groups) {}

    // Applies one committed record; false (with `error`) if it cannot be part of a valid log.
    bool apply(const WalRecord& record, std::uint64_t segment, std::uint64_t offset,
               std::map<raft::GroupId, raft::Index>& max_entry_index, std::string& error) {
        ReplayGroup& g = groups_[record.group];
        switch (record.type) {
            case WalRecordType::Entry: {
                const auto entry = raft::decode_entry(record.payload);
                if (!entry) {
                    return bad(record, "undecodable entry", error);
                }
                add_entry(g, entry->index, entry->term,
                          Location{segment, offset, static_cast<std::uint32_t>(record.size)});
                auto& max = max_entry_index[record.group];
                max = std::max(max, entry->index);
                return true;
            }
            case WalRecordType::HardState: {
                const auto state = raft::decode_hard_state(record.payload);
                if (!state) {
                    return bad(record, "undecodable hard state", error);
                }
                g.hard_state = *state;
                return true;
            }
            case WalRecordType::SnapshotInstall:
            case WalRecordType::Snapshot: {
                auto snap = decode_wal_snapshot(record.payload);
                if (!snap) {
                    return bad(record, "undecodable snapshot", error);
                }
                if (record.type == WalRecordType::SnapshotInstall) {
                    g.entries.clear();
                    g.base = snap->meta.index;
                    g.base_term = snap->meta.term;
                    g.base_term_known = true;
                    g.hole = 0;
                }
                g.snapshot = std::make_shared<const raft::Snapshot>(std::move(*snap));
                return true;
            }
            case WalRecordType::LogBase: {
                const auto base = decode_log_base(record.payload);
                if (!base) {
                    return bad(record, "undecodable log base", error);
                }
                return set_base(g, *base, record, error);
            }
            case WalRecordType::Commit:
                break;
        }
        return bad(record, "unexpected record", error);
    }

  private:
    static bool bad(const WalRecord& record, const char* what, std::string& error) {
        error = group_text(record.group) + ": " + what;
        return false;
    }

    static void add_entry(ReplayGroup& g, raft::Index index, raft::Term term, Location loc) {
        if (index <= g.base || index > g.last() + 1) {
            // Its predecessors were in deleted segments (checked against the final base).
            g.entries.clear();
            g.base = index - 1;
            g.base_term_known = false;
            g.hole = std::max(g.hole, index - 1);
        } else {
            g.entries.resize(static_cast<std::size_t>(index - 1 - g.base));
        }
        g.entries.push_back(ReplayEntry{term, loc});
    }

    static bool set_base(ReplayGroup& g, const LogBase& base, const WalRecord& record,
                         std::string& error) {
        if (base.index < g.base) {
            return true;  // an older checkpoint than what replay already knows
        }
        if (base.index == g.base) {
            if (g.base_term_known && g.base_term != base.term) {
                return bad(record, "log base term disagrees", error);
            }
        } else if (base.index <= g.last()) {
            const raft::Term at = g.entries[static_cast<std::size_t>(base.index - 1 - g.base)].term;
            if (at != base.term) {
                return bad(record, "log base term disagrees with its entry", error);
            }
            g.entries.erase(g.entries.begin(),
                            g.entries.begin() + static_cast<std::ptrdiff_t>(base.index - g.base));
        } else {
            g.entries.clear();
        }
        g.base = base.index;
        g.base_term = base.term;
        g.base_term_known = true;
        return true;
    }

    std::map<raft::GroupId, ReplayGroup>& groups_;
};

}  // namespace

// ---------------------------------------------------------------------------------------

RaftWal::RaftWal(PassKey) {}

RaftWal::~RaftWal() = default;

std::unique_ptr<RaftWal> RaftWal::open(const WalOptions& options, std::string& error) {
    auto wal = std::make_unique<RaftWal>(PassKey{});
    wal->options_ = options;
    wal->options_.segment_bytes = std::max<std::uint64_t>(options.segment_bytes, 4096);
    std::error_code ec;
    std::filesystem::create_directories(options.directory, ec);
    if (ec) {
        error = "cannot create " + options.directory + ": " + ec.message();
        return nullptr;
    }
    if (!wal->replay(error)) {
        return nullptr;
    }
    // A spare left by a crash or a close may be partly filled: never trust it, refill it.
    const std::string spare = options.directory + "/" + wal_spare_name();
    if (::unlink(spare.c_str()) != 0 && errno != ENOENT) {
        // Harmless for the log (replay never reads it); the preparer will fail on it too,
        // and new segments are then filled on the persist path.
        std::fprintf(stderr, "annal: cannot delete %s: %s\n", spare.c_str(), std::strerror(errno));
    }
    if (wal->options_.prepare_segments_ahead) {
        wal->preparer_ = std::make_unique<WalSegmentPreparer>(
            wal->options_.directory, wal->options_.segment_bytes, wal->options_.durable);
        wal->preparer_->request();
    }
    return wal;
}

bool RaftWal::replay(std::string& error) {
    std::vector<std::uint64_t> sequences;
    std::error_code ec;
    for (std::filesystem::directory_iterator it(options_.directory, ec), end; !ec && it != end;
         it.increment(ec)) {
        if (auto sequence = parse_wal_segment_name(it->path().filename().string())) {
            sequences.push_back(*sequence);
        }
    }
    if (ec) {
        error = "cannot list " + options_.directory + ": " + ec.message();
        return false;
    }
    std::sort(sequences.begin(), sequences.end());
    if (sequences.empty()) {
        auto file = WalSegment::create(options_.directory, 0, options_.segment_bytes,
                                       options_.durable, error);
        if (!file) {
            return false;
        }
        segments_.emplace(0, SegmentInfo{std::move(file), {}});
        current_segment_ = 0;
        write_offset_ = 0;
        segment_capacity_ = options_.segment_bytes;
        stats_.segments_created = 1;
        stats_.live_segments = 1;
        return true;
    }

    std::map<raft::GroupId, ReplayGroup> replayed;
    Replayer replayer(replayed);
    std::string content;
    for (std::size_t n = 0; n < sequences.size(); ++n) {
        const bool last = n + 1 == sequences.size();
        auto file = WalSegment::open(options_.directory, sequences[n], error);
        if (!file || !file->read_all(content, error)) {
            return false;
        }
        SegmentInfo info{file, {}};
        const std::string_view bytes(content);
        std::vector<std::pair<WalRecord, std::uint64_t>> pending;  // the open batch
        std::uint64_t committed_end = 0;
        std::uint64_t at = 0;
        std::string problem;
        while (at < bytes.size()) {
            WalRecord record;
            const WalParse parsed = parse_wal_record(bytes.substr(at), record);
            if (parsed == WalParse::Unwritten) {
                // Only preallocated zeros may follow, unless this is the torn tail.
                if (content.find_first_not_of('\0', at) != std::string::npos) {
                    problem = "a zero length before written data";
                }
                break;
            }
            if (parsed != WalParse::Ok) {
                problem = parsed == WalParse::Truncated ? "a record runs past the end"
                                                        : "a damaged record";
                break;
            }
            if (record.type == WalRecordType::Commit) {
                const auto count = decode_wal_commit(record.payload);
                if (!count || *count != pending.size()) {
                    problem = "a commit record that does not match its batch";
                    break;
                }
                for (const auto& [r, offset] : pending) {
                    if (!replayer.apply(r, sequences[n], offset, info.max_entry_index, error)) {
                        error =
                            file->path() + " at offset " + std::to_string(offset) + ": " + error;
                        return false;
                    }
                }
                pending.clear();
                committed_end = at + record.size;
            } else {
                pending.emplace_back(record, at);
            }
            at += record.size;
        }
        if (!last && (!problem.empty() || !pending.empty())) {
            error = "corrupt Raft write-ahead log segment " + file->path() + ": " +
                    (problem.empty() ? "a batch without its commit record" : problem) +
                    " at offset " + std::to_string(problem.empty() ? pending.front().second : at);
            return false;
        }
        if (last) {
            // Stale bytes of a torn write must never be read as records once new batches
            // are written from committed_end: zero them, and the missing preallocation.
            const std::size_t stale_end = content.find_last_not_of('\0');
            const std::uint64_t capacity =
                std::max<std::uint64_t>(options_.segment_bytes, content.size());
            std::uint64_t zero_to = committed_end;
            if (stale_end != std::string::npos && stale_end >= committed_end) {
                zero_to = stale_end + 1;
                stats_.zeroed_tail_bytes = zero_to - committed_end;
            }
            if (content.size() < capacity) {
                zero_to = capacity;  // a file cut short: restore the preallocation too
            }
            if (zero_to > committed_end && (!file->zero_range(committed_end, zero_to, error) ||
                                            (options_.durable && !file->sync_data(error)))) {
                return false;
            }
            current_segment_ = sequences[n];
            write_offset_ = committed_end;
            segment_capacity_ = capacity;
        }
        segments_.emplace(sequences[n], std::move(info));
    }
    stats_.live_segments = segments_.size();

    for (auto& [group, g] : replayed) {
        if (g.hole > g.base || !g.base_term_known || !g.snapshot) {
            error = "Raft write-ahead log in " + options_.directory + ": " + group_text(group) +
                    " misses entries up to " + std::to_string(std::max(g.hole, g.base)) +
                    " (a deleted or lost segment)";
            return false;
        }
        GroupMeta meta;
        meta.hard_state = g.hard_state;
        meta.snapshot = g.snapshot;
        meta.terms.reset(g.base, g.base_term);
        std::deque<Location> locations;
        raft::Index index = g.base;
        for (const ReplayEntry& e : g.entries) {
            if (!meta.terms.append(++index, e.term)) {
                error = "Raft write-ahead log in " + options_.directory + ": " + group_text(group) +
                        ": terms decrease at entry " + std::to_string(index);
                return false;
            }
            locations.push_back(e.location);
        }
        groups_.emplace(
            group, std::make_unique<WalGroup>(*this, group, std::move(meta), std::move(locations)));
    }
    return true;
}

std::string RaftWal::checkpoint_batch() const {
    std::string out;
    std::uint32_t count = 0;
    for (const auto& [group, log] : groups_) {
        const GroupMeta& meta = log->writer_meta();
        append_wal_record(out, WalRecordType::Snapshot, group, encode_wal_snapshot(*meta.snapshot));
        append_wal_record(out, WalRecordType::HardState, group, raft::encode(meta.hard_state));
        append_wal_record(
            out, WalRecordType::LogBase, group,
            encode_log_base(LogBase{meta.terms.base_index(), meta.terms.base_term()}));
        count += 3;
    }
    append_wal_record(out, WalRecordType::Commit, 0, encode_wal_commit(count));
    return out;
}

PersistResult RaftWal::write_batch(Staging& staging) {
    if (failed_) {
        return failure(PersistStatus::IoError, "the write-ahead log failed earlier");
    }
    append_wal_record(staging.records, WalRecordType::Commit, 0,
                      encode_wal_commit(staging.record_count));
    std::string error;
    std::shared_ptr<WalSegment> new_segment;
    std::uint64_t segment = current_segment_;
    std::uint64_t offset = write_offset_;
    if (offset > 0 && offset + staging.records.size() > segment_capacity_) {
        segment = current_segment_ + 1;
        new_segment = start_segment(segment, error);
        if (!new_segment) {
            failed_ = true;
            return failure(PersistStatus::IoError, error);
        }
        offset = 0;
    }
    std::string checkpoint = offset == 0 ? checkpoint_batch() : std::string();
    const std::shared_ptr<WalSegment>& file =
        new_segment ? new_segment : segments_.at(segment).file;
    bool ok = false;
    if (checkpoint.empty()) {
        ok = file->write_at(offset, staging.records, error);
    } else {
        checkpoint += staging.records;  // still one write
        ok = file->write_at(offset, checkpoint, error);
    }
    if (ok && options_.durable && batch_sync_.load(std::memory_order_relaxed)) {
        ok = file->sync_data(error);
    }
    if (!ok) {
        failed_ = true;
        return failure(PersistStatus::IoError, error);
    }
    const std::uint64_t records_at =
        offset + checkpoint.size() - (checkpoint.empty() ? 0 : staging.records.size());
    current_segment_ = segment;
    write_offset_ = offset + (checkpoint.empty() ? staging.records.size() : checkpoint.size());
    if (new_segment) {
        segment_capacity_ = options_.segment_bytes;
    }

    std::lock_guard lock(state_mutex_);
    if (new_segment) {
        segments_.emplace(segment, SegmentInfo{new_segment, {}});
        ++stats_.segments_created;
    }
    SegmentInfo& info = segments_.at(segment);
    for (auto& [group, meta] : staging.metas) {
        auto it = groups_.find(group);
        if (it == groups_.end()) {
            groups_.emplace(group, std::make_unique<WalGroup>(*this, group, std::move(meta),
                                                              std::deque<Location>{}));
        } else {
            it->second->install(std::move(meta));
        }
    }
    for (LocationOp& op : staging.ops) {
        if (op.kind == LocationOp::Kind::Append) {
            op.location.segment = segment;
            op.location.offset += records_at;
            auto& max = info.max_entry_index[op.group];
            max = std::max(max, op.index);
        }
        groups_.at(op.group)->apply(op);
    }
    ++stats_.commits;
    if (options_.durable) {
        ++stats_.data_syncs;
    }
    stats_.entries_written += staging.entries;
    stats_.bytes_written += write_offset_ - offset;
    stats_.checkpoint_bytes += checkpoint.empty() ? 0 : checkpoint.size() - staging.records.size();
    stats_.live_segments = segments_.size();
    if (new_segment && preparer_) {
        preparer_->request();  // the one after this, while this one fills
    }
    return {};
}

std::shared_ptr<WalSegment> RaftWal::start_segment(std::uint64_t sequence, std::string& error) {
    if (!preparer_) {
        return WalSegment::create(options_.directory, sequence, options_.segment_bytes,
                                  options_.durable, error);
    }
    const WalSegmentPreparer::Taken spare = preparer_->take();
    if (spare.waited) {
        std::lock_guard lock(state_mutex_);
        ++stats_.spare_waits;
        stats_.spare_wait_us += spare.waited_us;
    }
    std::string spare_error = spare.error;
    if (spare.ok) {
        if (auto segment = WalSegment::adopt(options_.directory, preparer_->spare_path(), sequence,
                                             options_.durable, spare_error)) {
            return segment;
        }
    }
    // The preparer's failure may have been passing (a full disk since freed): retry here.
    auto segment = WalSegment::create(options_.directory, sequence, options_.segment_bytes,
                                      options_.durable, error);
    if (!segment) {
        error = spare_error + "; filling the segment on the persist path failed too: " + error;
        return nullptr;
    }
    std::fprintf(stderr, "annal: %s; filled %s on the persist path instead\n", spare_error.c_str(),
                 segment->path().c_str());
    std::lock_guard lock(state_mutex_);
    ++stats_.spare_fallbacks;
    return segment;
}

void RaftWal::delete_obsolete_segments() {
    std::vector<std::shared_ptr<WalSegment>> doomed;
    {
        std::lock_guard lock(state_mutex_);
        while (segments_.size() > 1 && segments_.begin()->first != current_segment_) {
            const SegmentInfo& oldest = segments_.begin()->second;
            const bool obsolete = std::all_of(
                oldest.max_entry_index.begin(), oldest.max_entry_index.end(), [&](const auto& kv) {
                    auto it = groups_.find(kv.first);
                    return it == groups_.end() ||
                           kv.second <= it->second->writer_meta().terms.base_index();
                });
            if (!obsolete) {
                break;
            }
            doomed.push_back(oldest.file);
            segments_.erase(segments_.begin());
            ++stats_.segments_deleted;
        }
        stats_.live_segments = segments_.size();
    }
    if (doomed.empty()) {
        return;
    }
    // Oldest first, so that a crash in between leaves a suffix of the segments, which
    // replays (readers still holding a segment keep its descriptor open).
    std::string error;
    for (const auto& file : doomed) {
        if (!file->remove_file(error)) {
            std::fprintf(stderr, "annal: %s\n", error.c_str());
            return;
        }
    }
    if (options_.durable && !sync_directory(options_.directory, error)) {
        std::fprintf(stderr, "annal: %s\n", error.c_str());
    }
}

std::shared_ptr<WalSegment> RaftWal::segment_for_read(std::uint64_t sequence) const {
    auto it = segments_.find(sequence);
    return it == segments_.end() ? nullptr : it->second.file;
}

raft::Storage* RaftWal::create_group(raft::GroupId group, const raft::Membership& bootstrap,
                                     std::string& error) {
    std::lock_guard writer(write_mutex_);
    if (raft::Storage* existing = this->group(group)) {
        return existing;
    }
    Staging staging(*this);
    GroupMeta& meta = staging.metas[group];
    auto snap = std::make_shared<raft::Snapshot>();
    snap->meta.membership = bootstrap;
    meta.snapshot = snap;
    meta.terms.reset(0, 0);
    staging.add(WalRecordType::Snapshot, group, encode_wal_snapshot(*snap));
    staging.add(WalRecordType::HardState, group, raft::encode(raft::HardState{}));
    staging.add(WalRecordType::LogBase, group, encode_log_base(LogBase{0, 0}));
    const PersistResult result = write_batch(staging);
    if (!result.ok()) {
        error = result.message;
        return nullptr;
    }
    return this->group(group);
}

raft::Storage* RaftWal::group(raft::GroupId group) const {
    std::lock_guard lock(state_mutex_);
    auto it = groups_.find(group);
    return it == groups_.end() ? nullptr : it->second.get();
}

std::vector<raft::GroupId> RaftWal::groups() const {
    std::lock_guard lock(state_mutex_);
    std::vector<raft::GroupId> out;
    for (const auto& [group, log] : groups_) {
        out.push_back(group);
    }
    return out;
}

PersistResult RaftWal::persist(raft::GroupId group, const raft::Ready& ready) {
    const GroupReady one{group, &ready};
    return persist(std::span<const GroupReady>(&one, 1));
}

PersistResult RaftWal::persist(std::span<const GroupReady> batch) {
    std::lock_guard writer(write_mutex_);
    Staging staging(*this);
    bool base_moved = false;
    for (const GroupReady& item : batch) {
        if (item.ready == nullptr) {
            return failure(PersistStatus::InvalidInput, "null Ready in a batch");
        }
        if (auto r = stage_ready(staging, item.group, *item.ready); !r.ok()) {
            return r;
        }
        base_moved = base_moved || item.ready->snapshot.has_value();
    }
    if (staging.record_count == 0) {
        return {};  // nothing to make durable
    }
    PersistResult result = write_batch(staging);
    if (result.ok() && base_moved) {
        delete_obsolete_segments();
    }
    return result;
}

PersistResult RaftWal::create_snapshot(raft::GroupId group, raft::Index index,
                                       raft::Membership membership, std::string data) {
    std::lock_guard writer(write_mutex_);
    Staging staging(*this);
    GroupMeta* meta = staging.meta(group);
    if (meta == nullptr) {
        return failure(PersistStatus::UnknownGroup, group_text(group) + " does not exist");
    }
    const auto term = meta->terms.term(index);
    if (!term || index < meta->snapshot->meta.index) {
        return failure(PersistStatus::InvalidInput,
                       group_text(group) + ": cannot snapshot at " + std::to_string(index));
    }
    auto snap = std::make_shared<const raft::Snapshot>(
        raft::Snapshot{raft::SnapshotMeta{index, *term, std::move(membership)}, std::move(data)});
    staging.add(WalRecordType::Snapshot, group, encode_wal_snapshot(*snap));
    meta->snapshot = std::move(snap);
    return write_batch(staging);
}

PersistResult RaftWal::compact(raft::GroupId group, raft::Index index) {
    std::lock_guard writer(write_mutex_);
    Staging staging(*this);
    GroupMeta* meta = staging.meta(group);
    if (meta == nullptr) {
        return failure(PersistStatus::UnknownGroup, group_text(group) + " does not exist");
    }
    if (index <= meta->terms.base_index()) {
        return {};
    }
    if (index > meta->snapshot->meta.index || index > meta->terms.last_index()) {
        return failure(PersistStatus::InvalidInput,
                       group_text(group) + ": cannot compact through " + std::to_string(index) +
                           " beyond the snapshot or the log");
    }
    meta->terms.compact(index);
    staging.add(WalRecordType::LogBase, group,
                encode_log_base(LogBase{meta->terms.base_index(), meta->terms.base_term()}));
    staging.ops.push_back(LocationOp{LocationOp::Kind::Compact, group, index, {}});
    PersistResult result = write_batch(staging);
    if (result.ok()) {
        delete_obsolete_segments();
    }
    return result;
}

std::string RaftWal::verify(raft::GroupId group) const {
    std::optional<GroupMeta> meta;
    std::vector<Location> locations;
    std::map<std::uint64_t, std::shared_ptr<WalSegment>> files;
    {
        std::lock_guard lock(state_mutex_);
        auto it = groups_.find(group);
        if (it == groups_.end()) {
            return group_text(group) + " does not exist";
        }
        const WalGroup& log = *it->second;
        if (!log.locations_match_terms()) {
            return group_text(group) + ": entry locations disagree with the log's extent";
        }
        meta = log.writer_meta();
        const raft::Index first = meta->terms.base_index() + 1;
        log.copy_locations(first, static_cast<std::size_t>(meta->terms.last_index() + 1 - first),
                           locations);
        for (const Location& loc : locations) {
            files.emplace(loc.segment, segment_for_read(loc.segment));
        }
    }
    raft::Term previous = meta->terms.base_term();
    std::string buffer;
    for (std::size_t k = 0; k < locations.size(); ++k) {
        const raft::Index index = meta->terms.base_index() + 1 + k;
        const Location& loc = locations[k];
        const auto& file = files.at(loc.segment);
        if (!file || !file->read_at(loc.offset, loc.length, buffer) ||
            buffer.size() != loc.length) {
            return group_text(group) + ": entry " + std::to_string(index) + " cannot be read";
        }
        std::size_t size = 0;
        const auto entry = decode_entry_at(buffer, group, index, size);
        if (!entry) {
            return group_text(group) + ": entry " + std::to_string(index) + " in " + file->path() +
                   " fails its checksum";
        }
        if (entry->term < previous || meta->terms.term(index) != entry->term) {
            return group_text(group) + ": entry " + std::to_string(index) +
                   " has a term that disagrees with the log";
        }
        previous = entry->term;
    }
    return {};
}

WalStats RaftWal::stats() const {
    WalStats out;
    {
        std::lock_guard lock(state_mutex_);
        out = stats_;
    }
    out.spares_prepared = preparer_ ? preparer_->spares_prepared() : 0;
    return out;
}

}  // namespace annal::replication
