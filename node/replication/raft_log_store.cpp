#include "replication/raft_log_store.hpp"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <optional>

#include "raft/codec.hpp"
#include "replication/log_records.hpp"
#include "replication/term_cache.hpp"
#include "storage/lmdb_environment.hpp"

namespace annal::replication {
namespace {

using storage::to_val;
using storage::to_view;

[[noreturn]] void fail_stop(const std::string& what) {
    std::fprintf(stderr, "annal: Raft log corrupt, stopping: %s\n", what.c_str());
    std::fflush(stderr);
    std::abort();
}

struct GroupState {
    raft::HardState hard_state;
    std::shared_ptr<const raft::Snapshot> snapshot;
    TermCache terms;  // base = the log base (snapshot or compaction point)
    // Lowest index that may still be stored: [stored_first, base] is garbage to delete.
    raft::Index stored_first = 1;

    bool has_garbage() const { return stored_first <= terms.base_index(); }
};

PersistResult failure(PersistStatus status, std::string message) {
    return PersistResult{status, std::move(message)};
}

std::string group_text(raft::GroupId group) {
    return "group " + std::to_string(group);
}

// Reads and checks one state record; nullopt (with `error`) if missing or damaged.
std::optional<std::string> read_state(MDB_txn* txn, MDB_dbi dbi, raft::GroupId group,
                                      StateKind kind, std::string& error) {
    const std::string key = state_key(group, kind);
    MDB_val k = to_val(key);
    MDB_val v{};
    const int rc = mdb_get(txn, dbi, &k, &v);
    if (rc != 0) {
        error = group_text(group) + ": state record " + std::to_string(static_cast<int>(kind)) +
                " missing: " + storage::lmdb_error(rc);
        return std::nullopt;
    }
    auto payload = open_record(key, to_view(v));
    if (!payload) {
        error = group_text(group) + ": state record " + std::to_string(static_cast<int>(kind)) +
                " fails its checksum";
        return std::nullopt;
    }
    return std::string(*payload);
}

// The entry (group, index) as stored; nullopt if absent or damaged (`error` says which).
std::optional<raft::Entry> read_entry(MDB_txn* txn, MDB_dbi dbi, raft::GroupId group,
                                      raft::Index index, std::string& error) {
    const std::string key = entry_key(group, index);
    MDB_val k = to_val(key);
    MDB_val v{};
    const int rc = mdb_get(txn, dbi, &k, &v);
    if (rc != 0) {
        error = group_text(group) + ": entry " + std::to_string(index) +
                " missing: " + storage::lmdb_error(rc);
        return std::nullopt;
    }
    auto entry = decode_entry_record(group, index, to_view(v));
    if (!entry) {
        error = group_text(group) + ": entry " + std::to_string(index) + " fails its checksum";
    }
    return entry;
}

// Index of the first stored entry of `group` at or after `from`, if any.
std::optional<raft::Index> first_stored_from(MDB_txn* txn, MDB_dbi dbi, raft::GroupId group,
                                             raft::Index from) {
    storage::Cursor cursor(txn, dbi);
    if (cursor.open_status() != 0) {
        return std::nullopt;
    }
    const std::string start = entry_key(group, from);
    MDB_val k = to_val(start);
    MDB_val v{};
    if (cursor.get(k, v, MDB_SET_RANGE) != 0) {
        return std::nullopt;
    }
    const auto key = parse_entry_key(to_view(k));
    if (!key || key->group != group) {
        return std::nullopt;
    }
    return key->index;
}

std::optional<raft::Index> last_stored(MDB_txn* txn, MDB_dbi dbi, raft::GroupId group) {
    storage::Cursor cursor(txn, dbi);
    if (cursor.open_status() != 0) {
        return std::nullopt;
    }
    MDB_val k{};
    MDB_val v{};
    int rc = 0;
    if (group == UINT64_MAX) {
        rc = cursor.get(k, v, MDB_LAST);
    } else {
        const std::string next_group = entry_key(group + 1, 0);
        k = to_val(next_group);
        rc = cursor.get(k, v, MDB_SET_RANGE);
        rc = rc == 0 ? cursor.get(k, v, MDB_PREV) : cursor.get(k, v, MDB_LAST);
    }
    if (rc != 0) {
        return std::nullopt;
    }
    const auto key = parse_entry_key(to_view(k));
    if (!key || key->group != group) {
        return std::nullopt;
    }
    return key->index;
}

// Restores the term runs of [lo, hi] by bisection: terms never decrease along the log, so
// equal terms at both ends cover the range and only O(runs * log n) entries are read.
bool restore_runs(MDB_txn* txn, MDB_dbi dbi, raft::GroupId group, raft::Index lo,
                  raft::Term lo_term, raft::Index hi, raft::Term hi_term, TermCache& terms,
                  std::string& error) {
    if (lo_term == hi_term) {
        if (!terms.append_through(hi, hi_term)) {
            error = group_text(group) + ": terms decrease around entry " + std::to_string(lo);
            return false;
        }
        return true;
    }
    if (hi == lo + 1) {
        if (!terms.append_through(lo, lo_term) || !terms.append_through(hi, hi_term)) {
            error = group_text(group) + ": terms decrease around entry " + std::to_string(lo);
            return false;
        }
        return true;
    }
    const raft::Index mid = lo + (hi - lo) / 2;
    const auto middle = read_entry(txn, dbi, group, mid, error);
    if (!middle) {
        return false;
    }
    return restore_runs(txn, dbi, group, lo, lo_term, mid, middle->term, terms, error) &&
           restore_runs(txn, dbi, group, mid, middle->term, hi, hi_term, terms, error);
}

}  // namespace

const char* to_string(PersistStatus status) {
    switch (status) {
        case PersistStatus::Ok:
            return "ok";
        case PersistStatus::UnknownGroup:
            return "unknown group";
        case PersistStatus::InvalidInput:
            return "invalid input";
        case PersistStatus::StorageFull:
            return "storage full";
        case PersistStatus::IoError:
            return "I/O error";
    }
    return "?";
}

// ---------------------------------------------------------------------------------------
// One group as the core sees it. Its state is read under the store's state mutex and
// replaced wholesale after each successful commit.
class GroupLog final : public raft::Storage {
  public:
    GroupLog(const RaftLogStore& store, raft::GroupId group, GroupState state)
        : store_(store), group_(group), state_(std::move(state)) {}

    raft::HardState initial_state() const override {
        std::lock_guard lock(store_.state_mutex_);
        return state_.hard_state;
    }
    std::vector<raft::Entry> entries(raft::Index lo, raft::Index hi,
                                     std::uint64_t max_bytes) const override;
    std::optional<raft::Term> term(raft::Index i) const override {
        std::lock_guard lock(store_.state_mutex_);
        return state_.terms.term(i);
    }
    raft::Index first_index() const override {
        std::lock_guard lock(store_.state_mutex_);
        return state_.terms.base_index() + 1;
    }
    raft::Index last_index() const override {
        std::lock_guard lock(store_.state_mutex_);
        return state_.terms.last_index();
    }
    std::shared_ptr<const raft::Snapshot> snapshot() const override {
        std::lock_guard lock(store_.state_mutex_);
        return state_.snapshot;
    }

    // Writer thread only (writers are serialized): reads without the lock are safe
    // because only the writer changes the state.
    const GroupState& writer_view() const { return state_; }
    // Under state_mutex_.
    void install(GroupState state) { state_ = std::move(state); }

  private:
    const RaftLogStore& store_;
    raft::GroupId group_;
    GroupState state_;
};

std::vector<raft::Entry> GroupLog::entries(raft::Index lo, raft::Index hi,
                                           std::uint64_t max_bytes) const {
    {
        std::lock_guard lock(store_.state_mutex_);
        if (lo <= state_.terms.base_index() || hi > state_.terms.last_index() + 1 || lo > hi) {
            fail_stop(group_text(group_) + ": entries [" + std::to_string(lo) + ", " +
                      std::to_string(hi) + ") requested outside the stored log");
        }
    }
    std::vector<raft::Entry> out;
    if (lo == hi) {
        return out;
    }
    const storage::LmdbEnvironment& env = *store_.environment_;
    storage::ReadTransaction reader(env);
    if (reader.status() != 0) {
        fail_stop("cannot begin a read transaction: " + storage::lmdb_error(reader.status()));
    }
    storage::Cursor cursor(reader.get(), env.databases().raft_entries);
    const std::string first = entry_key(group_, lo);
    MDB_val k = to_val(first);
    MDB_val v{};
    int rc = cursor.open_status() == 0 ? cursor.get(k, v, MDB_SET_KEY) : cursor.open_status();
    std::uint64_t bytes = 0;
    for (raft::Index i = lo; i < hi; ++i) {
        if (i != lo) {
            rc = cursor.get(k, v, MDB_NEXT);
        }
        const auto key = rc == 0 ? parse_entry_key(to_view(k)) : std::nullopt;
        if (!key || key->group != group_ || key->index != i) {
            fail_stop(group_text(group_) + ": entry " + std::to_string(i) + " missing");
        }
        auto entry = decode_entry_record(group_, i, to_view(v));
        if (!entry) {
            fail_stop(group_text(group_) + ": entry " + std::to_string(i) + " fails its checksum");
        }
        bytes += raft::entry_bytes(*entry);
        if (!out.empty() && bytes > max_bytes) {
            break;
        }
        out.push_back(std::move(*entry));
    }
    return out;
}

// ---------------------------------------------------------------------------------------
// What one write transaction sees: the transaction and the group states it has changed so
// far (copies; installed only after the commit succeeds).
class RaftLogStore::WriteContext {
  public:
    WriteContext(RaftLogStore& store, MDB_txn* txn) : store_(store), txn_(txn) {}

    MDB_txn* txn() const { return txn_; }
    MDB_dbi entries_dbi() const { return store_.environment_->databases().raft_entries; }
    MDB_dbi state_dbi() const { return store_.environment_->databases().raft_state; }
    const LogStoreOptions& options() const { return store_.options_; }

    // The staged state of `group`, copied from the live one on first use; nullptr if the
    // group does not exist (and is not being created).
    GroupState* state(raft::GroupId group) {
        if (auto it = staged_.find(group); it != staged_.end()) {
            return &it->second;
        }
        auto live = store_.groups_.find(group);
        if (live == store_.groups_.end()) {
            return nullptr;
        }
        return &staged_.emplace(group, live->second->writer_view()).first->second;
    }
    GroupState& create(raft::GroupId group, GroupState state) {
        return staged_.insert_or_assign(group, std::move(state)).first->second;
    }
    std::map<raft::GroupId, GroupState>& staged() { return staged_; }

    int put_state(raft::GroupId group, StateKind kind, std::string_view payload) {
        const std::string key = state_key(group, kind);
        return put(state_dbi(), key, seal_record(key, payload));
    }
    int put_entry(raft::GroupId group, const raft::Entry& entry) {
        ++stats.entries_written;
        return put(entries_dbi(), entry_key(group, entry.index), encode_entry_record(group, entry));
    }
    int delete_entry(raft::GroupId group, raft::Index index) {
        const std::string key = entry_key(group, index);
        MDB_val k = to_val(key);
        const int rc = mdb_del(txn_, entries_dbi(), &k, nullptr);
        if (rc == 0) {
            ++stats.entries_deleted;
        }
        return rc == MDB_NOTFOUND ? 0 : rc;
    }

    LogStoreStats stats;  // this transaction's contribution

  private:
    int put(MDB_dbi dbi, std::string_view key, const std::string& value) {
        stats.bytes_written += key.size() + value.size();
        MDB_val k = to_val(key);
        MDB_val v = to_val(value);
        return mdb_put(txn_, dbi, &k, &v, 0);
    }

    RaftLogStore& store_;
    MDB_txn* txn_;
    std::map<raft::GroupId, GroupState> staged_;
};

namespace {

using WriteContext = RaftLogStore::WriteContext;

PersistResult lmdb_failure(int rc, const std::string& what) {
    if (rc == MDB_MAP_FULL) {
        return failure(PersistStatus::StorageFull, what + ": " + storage::lmdb_error(rc));
    }
    return failure(PersistStatus::IoError, what + ": " + storage::lmdb_error(rc));
}

PersistResult write_base(WriteContext& ctx, raft::GroupId group, const GroupState& st) {
    const int rc =
        ctx.put_state(group, StateKind::LogBase,
                      encode_log_base(LogBase{st.terms.base_index(), st.terms.base_term()}));
    return rc == 0 ? PersistResult{} : lmdb_failure(rc, "writing the log base");
}

PersistResult write_snapshot(WriteContext& ctx, raft::GroupId group, const raft::Snapshot& snap) {
    int rc = ctx.put_state(group, StateKind::SnapshotMeta, raft::encode(snap.meta));
    if (rc == 0) {
        rc = ctx.put_state(group, StateKind::SnapshotData, snap.data);
    }
    return rc == 0 ? PersistResult{} : lmdb_failure(rc, "writing the snapshot");
}

// A snapshot from the leader replaces the log: entries after it are deleted now (they may
// conflict), entries up to it become garbage for later steps.
PersistResult install_snapshot(WriteContext& ctx, raft::GroupId group, GroupState& st,
                               const raft::Snapshot& snap) {
    if (auto r = write_snapshot(ctx, group, snap); !r.ok()) {
        return r;
    }
    const raft::Index last = st.terms.last_index();
    for (raft::Index i = std::max(snap.meta.index + 1, st.stored_first); i <= last; ++i) {
        if (int rc = ctx.delete_entry(group, i); rc != 0) {
            return lmdb_failure(rc, "deleting entries replaced by a snapshot");
        }
    }
    if (st.stored_first > std::min(last, snap.meta.index)) {
        st.stored_first = snap.meta.index + 1;
    }
    st.terms.reset(snap.meta.index, snap.meta.term);
    st.snapshot = std::make_shared<const raft::Snapshot>(snap);
    return write_base(ctx, group, st);
}

PersistResult append_entries(WriteContext& ctx, raft::GroupId group, GroupState& st,
                             const std::vector<raft::Entry>& entries) {
    const raft::Index from = entries.front().index;
    const raft::Index old_last = st.terms.last_index();
    if (from <= st.terms.base_index()) {
        return failure(PersistStatus::InvalidInput, group_text(group) + ": entry " +
                                                        std::to_string(from) +
                                                        " is at or behind the log base " +
                                                        std::to_string(st.terms.base_index()));
    }
    if (from > old_last + 1) {
        return failure(PersistStatus::InvalidInput,
                       group_text(group) + ": entry " + std::to_string(from) +
                           " leaves a gap after " + std::to_string(old_last));
    }
    st.terms.truncate_after(from - 1);
    for (const raft::Entry& entry : entries) {
        if (!st.terms.append(entry.index, entry.term)) {
            return failure(PersistStatus::InvalidInput,
                           group_text(group) + ": entry " + std::to_string(entry.index) +
                               " is out of sequence or lowers the term");
        }
        // A put over an existing key replaces it: only the stored suffix beyond the new
        // last entry needs deleting.
        if (int rc = ctx.put_entry(group, entry); rc != 0) {
            return lmdb_failure(rc, "writing entries");
        }
    }
    for (raft::Index i = st.terms.last_index() + 1; i <= old_last; ++i) {
        if (int rc = ctx.delete_entry(group, i); rc != 0) {
            return lmdb_failure(rc, "truncating a conflicting suffix");
        }
    }
    return {};
}

PersistResult apply_ready(WriteContext& ctx, raft::GroupId group, const raft::Ready& ready) {
    GroupState* st = ctx.state(group);
    if (st == nullptr) {
        return failure(PersistStatus::UnknownGroup, group_text(group) + " does not exist");
    }
    if (ready.snapshot) {
        if (auto r = install_snapshot(ctx, group, *st, *ready.snapshot); !r.ok()) {
            return r;
        }
    }
    if (!ready.entries.empty()) {
        if (auto r = append_entries(ctx, group, *st, ready.entries); !r.ok()) {
            return r;
        }
    }
    if (ready.hard_state) {
        if (int rc = ctx.put_state(group, StateKind::HardState, raft::encode(*ready.hard_state));
            rc != 0) {
            return lmdb_failure(rc, "writing the hard state");
        }
        st->hard_state = *ready.hard_state;
    }
    return {};
}

// Deletes up to `budget` garbage entries of the group, finding them with a cursor so that
// gaps (a snapshot far ahead of the old log) cost nothing.
PersistResult collect_step(WriteContext& ctx, raft::GroupId group, GroupState& st,
                           std::size_t& budget) {
    while (budget > 0 && st.has_garbage()) {
        const auto next = first_stored_from(ctx.txn(), ctx.entries_dbi(), group, st.stored_first);
        if (!next || *next > st.terms.base_index()) {
            st.stored_first = st.terms.base_index() + 1;
            break;
        }
        if (int rc = ctx.delete_entry(group, *next); rc != 0) {
            return lmdb_failure(rc, "deleting compacted entries");
        }
        st.stored_first = *next + 1;
        --budget;
    }
    return {};
}

std::uint64_t estimate_bytes(const raft::Ready& ready) {
    std::uint64_t bytes = 256;
    for (const raft::Entry& e : ready.entries) {
        bytes += e.data.size() + 64;
    }
    if (ready.snapshot) {
        bytes += ready.snapshot->data.size() + 256;
    }
    return bytes;
}

}  // namespace

// ---------------------------------------------------------------------------------------

std::unique_ptr<RaftLogStore> RaftLogStore::open(const LogStoreOptions& options,
                                                 std::string& error) {
    storage::StoreOptions env_options;
    env_options.directory = options.directory;
    env_options.initial_map_bytes = options.initial_map_bytes;
    env_options.max_map_bytes = options.max_map_bytes;
    env_options.durable = options.durable;
    env_options.max_readers = 512;
    auto environment = storage::LmdbEnvironment::open(env_options, error);
    if (!environment) {
        return nullptr;
    }
    auto store = open_shared(*environment, options, error);
    if (store) {
        store->owned_environment_ = std::move(environment);
    }
    return store;
}

std::unique_ptr<RaftLogStore> RaftLogStore::open_shared(storage::LmdbEnvironment& environment,
                                                        const LogStoreOptions& options,
                                                        std::string& error) {
    auto store = std::make_unique<RaftLogStore>(PassKey{});
    store->options_ = options;
    store->options_.compaction_step_entries =
        std::max<std::size_t>(options.compaction_step_entries, 1);
    store->environment_ = &environment;
    if (!store->load_groups(error)) {
        return nullptr;
    }
    return store;
}

RaftLogStore::RaftLogStore(PassKey) {}

RaftLogStore::~RaftLogStore() = default;

bool RaftLogStore::load_groups(std::string& error) {
    const storage::LmdbEnvironment& env = *environment_;
    storage::ReadTransaction reader(env);
    if (reader.status() != 0) {
        error = "cannot begin a read transaction: " + storage::lmdb_error(reader.status());
        return false;
    }
    MDB_txn* txn = reader.get();
    const MDB_dbi entries_dbi = env.databases().raft_entries;
    const MDB_dbi state_dbi = env.databases().raft_state;
    std::vector<raft::GroupId> found;
    {
        storage::Cursor cursor(txn, state_dbi);
        MDB_val k{};
        MDB_val v{};
        for (int rc = cursor.get(k, v, MDB_FIRST); rc == 0; rc = cursor.get(k, v, MDB_NEXT)) {
            if (auto group = parse_state_key(to_view(k), StateKind::HardState)) {
                found.push_back(*group);
            }
        }
    }
    for (raft::GroupId group : found) {
        GroupState st;
        const auto hard = read_state(txn, state_dbi, group, StateKind::HardState, error);
        const auto meta_bytes = read_state(txn, state_dbi, group, StateKind::SnapshotMeta, error);
        const auto data = read_state(txn, state_dbi, group, StateKind::SnapshotData, error);
        const auto base_bytes = read_state(txn, state_dbi, group, StateKind::LogBase, error);
        if (!hard || !meta_bytes || !data || !base_bytes) {
            return false;
        }
        const auto hard_state = raft::decode_hard_state(*hard);
        const auto meta = raft::decode_snapshot_meta(*meta_bytes);
        const auto base = decode_log_base(*base_bytes);
        if (!hard_state || !meta || !base) {
            error = group_text(group) + ": undecodable state record";
            return false;
        }
        st.hard_state = *hard_state;
        st.snapshot = std::make_shared<const raft::Snapshot>(raft::Snapshot{*meta, *data});
        st.terms.reset(base->index, base->term);
        st.stored_first = first_stored_from(txn, entries_dbi, group, 0).value_or(base->index + 1);
        const auto last = last_stored(txn, entries_dbi, group);
        if (last && *last > base->index) {
            const auto first_entry = read_entry(txn, entries_dbi, group, base->index + 1, error);
            const auto last_entry = read_entry(txn, entries_dbi, group, *last, error);
            if (!first_entry || !last_entry ||
                !restore_runs(txn, entries_dbi, group, first_entry->index, first_entry->term,
                              last_entry->index, last_entry->term, st.terms, error)) {
                return false;
            }
        }
        groups_.emplace(group, std::make_unique<GroupLog>(*this, group, std::move(st)));
    }
    return true;
}

PersistResult RaftLogStore::run_write(std::uint64_t estimated_bytes,
                                      const std::function<PersistResult(WriteContext&)>& mutate,
                                      const std::function<void()>& before_commit) {
    std::lock_guard writer(write_mutex_);
    storage::LmdbEnvironment& env = *environment_;
    std::string error;
    bool force_growth = false;
    for (int attempt = 0;; ++attempt) {
        const auto growth = force_growth ? env.grow_after_map_full(error)
                                         : env.ensure_room(estimated_bytes * 2, error);
        if (growth == storage::LmdbEnvironment::Growth::Failed) {
            return failure(PersistStatus::IoError, error);
        }
        if (force_growth && growth == storage::LmdbEnvironment::Growth::AtMaximum) {
            return failure(PersistStatus::StorageFull, "the Raft log map is at its maximum size");
        }
        storage::Transaction txn;
        if (int rc = env.begin_write(txn); rc != 0) {
            return lmdb_failure(rc, "beginning a write transaction");
        }
        WriteContext ctx(*this, txn.get());
        PersistResult result = mutate(ctx);
        int rc = 0;
        if (result.ok()) {
            if (before_commit) {
                before_commit();
            }
            rc = txn.commit();
        }
        if (!result.ok() || rc != 0) {
            txn.abort();
            const bool map_full = rc == MDB_MAP_FULL || result.status == PersistStatus::StorageFull;
            if (map_full && attempt < 8) {
                force_growth = true;
                continue;
            }
            return result.ok() ? lmdb_failure(rc, "committing") : result;
        }
        env.refresh_used_bytes();
        std::lock_guard lock(state_mutex_);
        for (auto& [group, st] : ctx.staged()) {
            auto it = groups_.find(group);
            if (it == groups_.end()) {
                groups_.emplace(group, std::make_unique<GroupLog>(*this, group, std::move(st)));
            } else {
                it->second->install(std::move(st));
            }
        }
        ++stats_.commits;
        stats_.entries_written += ctx.stats.entries_written;
        stats_.bytes_written += ctx.stats.bytes_written;
        stats_.entries_deleted += ctx.stats.entries_deleted;
        return {};
    }
}

raft::Storage* RaftLogStore::create_group(raft::GroupId group, const raft::Membership& bootstrap,
                                          std::string& error) {
    if (raft::Storage* existing = this->group(group)) {
        return existing;
    }
    const PersistResult result = run_write(1024, [&](WriteContext& ctx) -> PersistResult {
        if (ctx.state(group) != nullptr) {
            return {};  // created meanwhile by another thread
        }
        GroupState st;
        auto snap = std::make_shared<raft::Snapshot>();
        snap->meta.membership = bootstrap;
        st.snapshot = snap;
        st.terms.reset(0, 0);
        GroupState& staged = ctx.create(group, std::move(st));
        if (int rc = ctx.put_state(group, StateKind::HardState, raft::encode(raft::HardState{}));
            rc != 0) {
            return lmdb_failure(rc, "creating " + group_text(group));
        }
        if (auto r = write_snapshot(ctx, group, *staged.snapshot); !r.ok()) {
            return r;
        }
        return write_base(ctx, group, staged);
    });
    if (!result.ok()) {
        error = result.message;
        return nullptr;
    }
    return this->group(group);
}

raft::Storage* RaftLogStore::group(raft::GroupId group) const {
    std::lock_guard lock(state_mutex_);
    auto it = groups_.find(group);
    return it == groups_.end() ? nullptr : it->second.get();
}

std::vector<raft::GroupId> RaftLogStore::groups() const {
    std::lock_guard lock(state_mutex_);
    std::vector<raft::GroupId> out;
    for (const auto& [group, log] : groups_) {
        out.push_back(group);
    }
    return out;
}

PersistResult RaftLogStore::persist(raft::GroupId group, const raft::Ready& ready) {
    const GroupReady one{group, &ready};
    return persist(std::span<const GroupReady>(&one, 1));
}

PersistResult RaftLogStore::persist(std::span<const GroupReady> batch) {
    return persist(batch, {});
}

PersistResult RaftLogStore::persist(std::span<const GroupReady> batch,
                                    const std::function<int(MDB_txn*)>& also_write,
                                    const std::function<void()>& before_commit) {
    std::uint64_t estimate = 0;
    for (const GroupReady& item : batch) {
        if (item.ready == nullptr) {
            return failure(PersistStatus::InvalidInput, "null Ready in a batch");
        }
        estimate += estimate_bytes(*item.ready);
    }
    return run_write(
        estimate,
        [&](WriteContext& ctx) -> PersistResult {
            for (const GroupReady& item : batch) {
                if (auto r = apply_ready(ctx, item.group, *item.ready); !r.ok()) {
                    return r;
                }
            }
            if (also_write) {
                if (const int rc = also_write(ctx.txn()); rc != 0) {
                    return lmdb_failure(rc, "writing the applied entries");
                }
            }
            // Compacted entries are deleted a step at a time, riding on commits that happen
            // anyway, so compaction costs no fsync of its own.
            std::size_t budget = ctx.options().compaction_step_entries;
            for (auto& [group, st] : ctx.staged()) {
                if (auto r = collect_step(ctx, group, st, budget); !r.ok()) {
                    return r;
                }
            }
            return {};
        },
        before_commit);
}

PersistResult RaftLogStore::create_snapshot(raft::GroupId group, raft::Index index,
                                            raft::Membership membership, std::string data) {
    return run_write(data.size() + 1024, [&](WriteContext& ctx) -> PersistResult {
        GroupState* st = ctx.state(group);
        if (st == nullptr) {
            return failure(PersistStatus::UnknownGroup, group_text(group) + " does not exist");
        }
        const auto term = st->terms.term(index);
        if (!term || index < st->snapshot->meta.index) {
            return failure(PersistStatus::InvalidInput,
                           group_text(group) + ": cannot snapshot at " + std::to_string(index));
        }
        raft::Snapshot snap{raft::SnapshotMeta{index, *term, membership}, data};
        if (auto r = write_snapshot(ctx, group, snap); !r.ok()) {
            return r;
        }
        st->snapshot = std::make_shared<const raft::Snapshot>(std::move(snap));
        return {};
    });
}

PersistResult RaftLogStore::compact(raft::GroupId group, raft::Index index) {
    return run_write(1024, [&](WriteContext& ctx) -> PersistResult {
        GroupState* st = ctx.state(group);
        if (st == nullptr) {
            return failure(PersistStatus::UnknownGroup, group_text(group) + " does not exist");
        }
        if (index <= st->terms.base_index()) {
            return {};
        }
        if (index > st->snapshot->meta.index || index > st->terms.last_index()) {
            return failure(PersistStatus::InvalidInput,
                           group_text(group) + ": cannot compact through " + std::to_string(index) +
                               " beyond the snapshot or the log");
        }
        st->terms.compact(index);
        if (auto r = write_base(ctx, group, *st); !r.ok()) {
            return r;
        }
        std::size_t budget = ctx.options().compaction_step_entries;
        return collect_step(ctx, group, *st, budget);
    });
}

PersistResult RaftLogStore::collect_garbage(bool& remaining) {
    remaining = false;
    PersistResult result = run_write(1024, [&](WriteContext& ctx) -> PersistResult {
        std::size_t budget = ctx.options().compaction_step_entries;
        for (raft::GroupId group : groups()) {
            GroupState* st = ctx.state(group);
            if (st == nullptr || !st->has_garbage()) {
                continue;
            }
            if (auto r = collect_step(ctx, group, *st, budget); !r.ok()) {
                return r;
            }
        }
        return {};
    });
    std::lock_guard lock(state_mutex_);
    for (const auto& [group, log] : groups_) {
        remaining = remaining || log->writer_view().has_garbage();
    }
    return result;
}

std::string RaftLogStore::verify(raft::GroupId group) const {
    std::optional<GroupState> st;
    {
        std::lock_guard lock(state_mutex_);
        if (auto it = groups_.find(group); it != groups_.end()) {
            st = it->second->writer_view();
        }
    }
    if (!st) {
        return group_text(group) + " does not exist";
    }
    const storage::LmdbEnvironment& env = *environment_;
    storage::ReadTransaction reader(env);
    if (reader.status() != 0) {
        return "cannot begin a read transaction: " + storage::lmdb_error(reader.status());
    }
    const MDB_dbi entries_dbi = env.databases().raft_entries;
    const MDB_dbi state_dbi = env.databases().raft_state;
    std::string error;
    for (StateKind kind : {StateKind::HardState, StateKind::SnapshotMeta, StateKind::SnapshotData,
                           StateKind::LogBase}) {
        if (!read_state(reader.get(), state_dbi, group, kind, error)) {
            return error;
        }
    }
    raft::Term previous = st->terms.base_term();
    for (raft::Index i = st->terms.base_index() + 1; i <= st->terms.last_index(); ++i) {
        const auto entry = read_entry(reader.get(), entries_dbi, group, i, error);
        if (!entry) {
            return error;
        }
        if (entry->term < previous || st->terms.term(i) != entry->term) {
            return group_text(group) + ": entry " + std::to_string(i) +
                   " has a term that disagrees with the log";
        }
        previous = entry->term;
    }
    if (const auto after =
            first_stored_from(reader.get(), entries_dbi, group, st->terms.last_index() + 1)) {
        return group_text(group) + ": stray entry " + std::to_string(*after) +
               " after the last index";
    }
    return {};
}

LogStoreStats RaftLogStore::stats() const {
    std::lock_guard lock(state_mutex_);
    LogStoreStats out = stats_;
    out.map_bytes = environment_->map_bytes();
    out.map_used_bytes = environment_->used_bytes();
    out.map_grows = environment_->map_grows();
    return out;
}

}  // namespace annal::replication
