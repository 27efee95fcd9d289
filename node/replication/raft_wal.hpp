// Durable Raft state of every group of a node in one segmented write-ahead log: the same
// contract as RaftLogStore (raft_log_store.hpp), with ONE fdatasync per batch where an LMDB
// commit flushes twice (data pages, then the meta page).
//
// On disk: segment files `wal-<16 hex digits>.log` in one directory, numbered in write
// order. Each is preallocated with zeros (WalOptions::segment_bytes) so that most
// fdatasyncs change no file size, and filled with records (wal_records.hpp):
//   [body length u32][CRC32C u32][type u8][group u64][payload]
// grouped into batches, each closed by a Commit record carrying the batch's record count.
// Everything one persist() writes -- every group's snapshot, entries and hard state, in
// order -- is one batch, written with one pwrite and made durable with one fdatasync.
// Entries are never rewritten in place: a conflicting suffix is replaced by appending the
// new entries (replay lets the later record win), compaction appends a LogBase record.
//
// Every segment starts with a checkpoint batch: each group's current snapshot (as a
// Snapshot record), hard state and compaction point. So an older segment matters only for
// its entries, and is deleted (always the oldest first) once every entry it holds is at or
// behind its group's compaction point. A batch never spans segments: when one does not fit
// in what is left of the current segment, it starts the next segment; a batch larger than
// a whole segment makes that segment longer.
//
// The next segment is prepared ahead, off the persist path (wal_segment_preparer.hpp): as
// soon as a segment becomes current (and at open), a thread zero-fills and syncs a spare
// file `wal-spare.tmp`, whose name replay never takes for a segment. Starting the next
// segment then only renames the spare into place and syncs the directory. If the spare is
// still being filled the writer waits for it (the fill is under way: finishing it is the
// quickest way to a segment); if preparing it failed, the writer creates and fills the
// segment itself, and only a failure of that too fails the persist. A spare left by a
// crash or a close is deleted at open, never read.
//
// Recovery (open) replays the segments in order. In the LAST segment, a zero length
// (preallocated space), a record running past the end of the file or a bad checksum is
// the torn tail of a crashed write: replay stops there, a batch without its Commit record
// is dropped, and every byte after the stop is zeroed (synced) before the next persist
// writes from there -- so stale bytes of the torn write can never be taken for records
// later. In an earlier segment the same damage is corruption and open() fails naming the
// file. Entries whose predecessors lived in deleted segments are accepted at replay only
// if the group's replayed compaction point covers the missing ones.
//
// Threading and failure: writers (persist, create_group, create_snapshot, compact) are
// serialized internally; raft::Storage reads may run on any thread while they do; the spare
// is prepared on a thread the log owns and stops when it closes.
// term(), first_index(), last_index(), initial_state() and snapshot() are served from
// memory; entries() preads the segment files (only entry locations stay in memory).
// Nothing becomes visible to readers before its fdatasync succeeded. A failed write or
// sync leaves memory as it was and makes every later write fail with IoError (after a
// failed fdatasync the page cache can no longer be trusted: the caller must fail-stop).
// A read that meets a damaged record stops the process (Storage has no error channel).
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <vector>

#include "raft/ready.hpp"
#include "raft/storage.hpp"
#include "raft/types.hpp"
#include "replication/raft_log_store.hpp"

namespace annal::replication {

class WalSegment;
class WalSegmentPreparer;

struct WalOptions {
    std::string directory;
    std::uint64_t segment_bytes = 64ull << 20;
    bool durable = true;  // false: no fdatasync/fsync (tests and benchmarks only)
    // false: no spare; each new segment is zero-filled on the persist path that needs it
    // (what the benchmark compares against).
    bool prepare_segments_ahead = true;
};

struct WalStats {
    std::uint64_t commits = 0;            // batches written (each persist and other write)
    std::uint64_t data_syncs = 0;         // fdatasyncs of batches (0 when not durable)
    std::uint64_t entries_written = 0;    // entry records appended
    std::uint64_t bytes_written = 0;      // record bytes appended, checkpoints included
    std::uint64_t checkpoint_bytes = 0;   // of which checkpoints at the start of segments
    std::uint64_t segments_created = 0;   // by this process
    std::uint64_t segments_deleted = 0;   // by this process
    std::uint64_t live_segments = 0;      // segment files in use now
    std::uint64_t zeroed_tail_bytes = 0;  // stale bytes after a torn tail zeroed at open
    std::uint64_t spares_prepared = 0;    // segments zero-filled ahead, off the persist path
    std::uint64_t spare_waits = 0;        // new segments that waited for the spare's fill
    std::uint64_t spare_wait_us = 0;      // time spent in those waits
    std::uint64_t spare_fallbacks = 0;    // new segments filled on the persist path after
                                          // preparing the spare failed
};

class WalGroup;

class RaftWal {
    struct PassKey {
        explicit PassKey() = default;
    };

  public:
    explicit RaftWal(PassKey);
    // Opens (or creates) the log in options.directory and restores every group found in it.
    // On failure returns nullptr and sets `error` (naming the file for a damaged segment).
    static std::unique_ptr<RaftWal> open(const WalOptions& options, std::string& error);
    ~RaftWal();
    RaftWal(const RaftWal&) = delete;
    RaftWal& operator=(const RaftWal&) = delete;

    // Creates the group if absent: empty log, snapshot at index 0 holding `bootstrap`, zero
    // hard state; durable on return. An existing group is returned unchanged. nullptr (and
    // `error`) if the write fails.
    raft::Storage* create_group(raft::GroupId group, const raft::Membership& bootstrap,
                                std::string& error);
    // The group's storage, or nullptr. Stable until the log closes.
    raft::Storage* group(raft::GroupId group) const;
    std::vector<raft::GroupId> groups() const;

    // false: batches are written without their fdatasync (any thread; for the follower
    // ceiling experiment of ReplicatedStoreOptions::Testing only).
    void set_batch_sync(bool sync) { batch_sync_.store(sync, std::memory_order_relaxed); }

    PersistResult persist(raft::GroupId group, const raft::Ready& ready);
    // Every Ready in order (snapshot, entries, hard state), as one batch with one fdatasync.
    PersistResult persist(std::span<const GroupReady> batch);

    // Records an application snapshot of the group's state up to `index` (between the log
    // base and last_index(), not older than the current snapshot). Does not drop entries.
    PersistResult create_snapshot(raft::GroupId group, raft::Index index,
                                  raft::Membership membership, std::string data);
    // Drops entries up to and including `index` (<= the snapshot index): first_index()
    // becomes index + 1 at once; segments holding only dropped entries are deleted.
    PersistResult compact(raft::GroupId group, raft::Index index);

    // Reads every stored entry of the group back from the segment files and checks it
    // (checksum, index, term agreeing with memory, terms not decreasing). Empty if sound.
    std::string verify(raft::GroupId group) const;
    WalStats stats() const;

    struct Staging;  // implementation detail of the write path (raft_wal.cpp)

  private:
    friend class WalGroup;

    bool replay(std::string& error);
    // Appends `staging`'s batch (after a checkpoint when it starts a segment), syncs it,
    // then installs its group states. Caller holds write_mutex_.
    PersistResult write_batch(Staging& staging);
    std::string checkpoint_batch() const;
    // The segment `sequence`, made from the spare (or, failing that, filled here).
    std::shared_ptr<WalSegment> start_segment(std::uint64_t sequence, std::string& error);
    void delete_obsolete_segments();
    std::shared_ptr<WalSegment> segment_for_read(std::uint64_t sequence) const;

    struct SegmentInfo {
        std::shared_ptr<WalSegment> file;
        std::map<raft::GroupId, raft::Index> max_entry_index;  // entries written in it
    };

    WalOptions options_;
    std::atomic<bool> batch_sync_{true};
    std::mutex write_mutex_;          // one writer at a time
    mutable std::mutex state_mutex_;  // guards groups_, segments_, stats_ and group states
    std::map<raft::GroupId, std::unique_ptr<WalGroup>> groups_;
    std::map<std::uint64_t, SegmentInfo> segments_;
    // Writer-only (under write_mutex_):
    std::uint64_t current_segment_ = 0;
    std::uint64_t write_offset_ = 0;
    std::uint64_t segment_capacity_ = 0;
    bool failed_ = false;
    WalStats stats_;
    std::unique_ptr<WalSegmentPreparer> preparer_;  // null unless prepare_segments_ahead
};

}  // namespace annal::replication
