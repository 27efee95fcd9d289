// Durable Raft state of every group of a node in one LMDB environment: log entries,
// term/vote/commit, snapshot (metadata and data) and the compaction point, keyed by group
// (layout in log_records.hpp). Each group is served to its core as a raft::Storage.
//
// Writing follows the core's persistence contract (node/raft/README.md): persist() writes
// one Ready's snapshot, then its entries (dropping a conflicting stored suffix first), then
// its hard state, in ONE write transaction; the batched persist() does that for the Readys
// of many groups (and several Readys of one group, in order) in one transaction with ONE
// durable commit, so every group on the node shares each fsync (group commit across
// groups). Nothing becomes visible to readers before the commit succeeds; a failed persist
// leaves both disk and memory as they were.
//
// Compaction never deletes a large range in one transaction: it moves the log base (an
// O(1) record), and the entries behind it are deleted at most `compaction_step_entries`
// per commit, piggybacked on later persists or run by collect_garbage(). Large deletions
// in a copy-on-write B-tree bloat the free list (see shared notes on LMDB).
//
// Threading: writers (persist, create_group, create_snapshot, compact, collect_garbage)
// are serialized internally; Storage reads may run on any thread concurrently with them.
// term(), first_index(), last_index(), initial_state() and snapshot() are served from
// memory; entries() reads LMDB in a short read transaction.
//
// The environment is either the store's own (open) or shared with the event tables
// (open_shared: the node's one environment); persist() can then run the caller's writes
// (applying committed entries to the event tables) in the same transaction.
//
// A stored record that fails its checksum is a corrupt replica: Storage reads have no
// error channel and a Raft replica must not vote or acknowledge from damaged data, so a
// read that meets one stops the process with a message (fail-stop). verify() checks a
// whole group without stopping, for tools and tests.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <vector>

#include "raft/ready.hpp"
#include "raft/storage.hpp"
#include "raft/types.hpp"
#include "storage/lmdb_environment.hpp"

namespace annal::replication {

struct LogStoreOptions {
    std::string directory;
    std::uint64_t initial_map_bytes = 64ull << 20;
    std::uint64_t max_map_bytes = 1ull << 40;
    bool durable = true;  // false: no fsync (tests and benchmarks only)
    // Entries behind the log base deleted per commit at most (free-list friendly steps).
    std::size_t compaction_step_entries = 1024;
};

enum class PersistStatus : std::uint8_t {
    Ok,
    UnknownGroup,  // no create_group() for this group
    InvalidInput,  // violates the contract (gap, rewriting compacted entries, decreasing term)
    StorageFull,   // the map cannot grow: nothing was written
    IoError,       // the commit failed: nothing was written
};
const char* to_string(PersistStatus status);

struct PersistResult {
    PersistStatus status = PersistStatus::Ok;
    std::string message;
    bool ok() const { return status == PersistStatus::Ok; }
};

// One group's Ready within a batched persist. Readys of the same group must appear in the
// order the core handed them out.
struct GroupReady {
    raft::GroupId group = 0;
    const raft::Ready* ready = nullptr;
};

struct LogStoreStats {
    std::uint64_t commits = 0;          // write transactions committed (fsyncs when durable)
    std::uint64_t entries_written = 0;  // entries put
    std::uint64_t bytes_written = 0;    // key + record bytes put (before LMDB's page overhead)
    std::uint64_t entries_deleted = 0;  // truncated suffixes and compacted entries
    std::uint64_t map_bytes = 0;
    std::uint64_t map_used_bytes = 0;
    std::uint64_t map_grows = 0;
};

class GroupLog;

class RaftLogStore {
    struct PassKey {
        explicit PassKey() = default;
    };

  public:
    explicit RaftLogStore(PassKey);
    // Opens (or creates) the store and restores every group found in it. On failure
    // returns nullptr and sets `error` (also for a damaged state record).
    static std::unique_ptr<RaftLogStore> open(const LogStoreOptions& options, std::string& error);
    // Opens the store on an environment that outlives it (the node's one environment; only
    // options.compaction_step_entries is used). All writes to `environment` must then go
    // through this store (one writer, and the map is grown only between its transactions).
    static std::unique_ptr<RaftLogStore> open_shared(storage::LmdbEnvironment& environment,
                                                     const LogStoreOptions& options,
                                                     std::string& error);
    ~RaftLogStore();
    RaftLogStore(const RaftLogStore&) = delete;
    RaftLogStore& operator=(const RaftLogStore&) = delete;

    // Creates the group if absent: empty log, snapshot at index 0 holding `bootstrap` (empty
    // for a node that will join as a learner), zero hard state; durable on return. An
    // existing group is returned unchanged. nullptr (and `error`) if the write fails.
    raft::Storage* create_group(raft::GroupId group, const raft::Membership& bootstrap,
                                std::string& error);
    // The group's storage, or nullptr if it does not exist. Stable until the store closes.
    raft::Storage* group(raft::GroupId group) const;
    std::vector<raft::GroupId> groups() const;

    PersistResult persist(raft::GroupId group, const raft::Ready& ready);
    PersistResult persist(std::span<const GroupReady> batch);
    // As above, and runs `also_write` in the same transaction after the Readys (before the
    // commit). A non-zero return (an LMDB code) aborts everything; MDB_MAP_FULL grows the
    // map and runs the whole transaction again, so `also_write` must be repeatable.
    // `before_commit`, if set, runs after everything is written and just before the commit
    // (again if the transaction is retried): for work that may rely on the writes being
    // computed but not on their being durable.
    PersistResult persist(std::span<const GroupReady> batch,
                          const std::function<int(MDB_txn*)>& also_write,
                          const std::function<void()>& before_commit = {});

    // Records an application snapshot of the group's state up to `index` (between the log
    // base and last_index(), not older than the current snapshot). Does not drop entries.
    PersistResult create_snapshot(raft::GroupId group, raft::Index index,
                                  raft::Membership membership, std::string data);
    // Drops entries up to and including `index` (<= the snapshot index): first_index()
    // becomes index + 1 at once; the deletions themselves happen in steps.
    PersistResult compact(raft::GroupId group, raft::Index index);
    // Deletes one step of compacted entries (all groups). `remaining` tells whether more
    // are left (call again when idle).
    PersistResult collect_garbage(bool& remaining);

    // Reads the whole group from LMDB and checks every record (checksums, contiguous
    // indexes, non-decreasing terms, agreement with the in-memory view). Empty if sound.
    std::string verify(raft::GroupId group) const;

    LogStoreStats stats() const;
    const storage::LmdbEnvironment& environment() const { return *environment_; }

    class WriteContext;  // implementation detail of the write path (raft_log_store.cpp)

  private:
    friend class GroupLog;

    bool load_groups(std::string& error);
    // Runs `mutate` in one write transaction and commits it; on success installs the
    // group states it staged. Retries once the map has grown after MDB_MAP_FULL.
    PersistResult run_write(std::uint64_t estimated_bytes,
                            const std::function<PersistResult(WriteContext&)>& mutate,
                            const std::function<void()>& before_commit = {});

    LogStoreOptions options_;
    std::unique_ptr<storage::LmdbEnvironment> owned_environment_;  // open() only
    storage::LmdbEnvironment* environment_ = nullptr;
    std::mutex write_mutex_;          // one writer at a time
    mutable std::mutex state_mutex_;  // guards groups_ and every GroupLog's cached state
    std::map<raft::GroupId, std::unique_ptr<GroupLog>> groups_;
    LogStoreStats stats_;  // under state_mutex_
};

}  // namespace annal::replication
