// The LMDB side of a node: one environment with its named databases (event tables and
// the Raft log), RAII
// transactions and cursors, and the map-size policy (grow before full, never past the
// configured maximum, only while no transaction is open).
#pragma once

#include <lmdb.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "storage/event_store.hpp"
#include "storage/resize_gate.hpp"

namespace annal::storage {

inline MDB_val to_val(std::string_view bytes) {
    return MDB_val{bytes.size(), const_cast<char*>(bytes.data())};
}
inline std::string_view to_view(const MDB_val& val) {
    return {static_cast<const char*>(val.mv_data), val.mv_size};
}
std::string lmdb_error(int rc);

struct Databases {
    MDB_dbi events = 0;
    MDB_dbi stream_index = 0;
    MDB_dbi stream_heads = 0;
    MDB_dbi time_index = 0;
    MDB_dbi event_ids = 0;
    MDB_dbi meta = 0;
    // The Raft log (replication::RaftLogStore) shares the environment, so one commit makes
    // a log entry and its effect on the event tables durable together.
    MDB_dbi raft_entries = 0;
    MDB_dbi raft_state = 0;
    // Events fetched from a peer for a snapshot install (replication/snapshot_staging.hpp):
    // position -> raw record, kept apart from the tables until the install commits.
    MDB_dbi snapshot_staging = 0;
};

// Aborts on destruction unless committed.
class Transaction {
  public:
    Transaction() = default;
    explicit Transaction(MDB_txn* txn) : txn_(txn) {}
    Transaction(Transaction&& other) noexcept : txn_(other.release()) {}
    Transaction& operator=(Transaction&& other) noexcept;
    Transaction(const Transaction&) = delete;
    Transaction& operator=(const Transaction&) = delete;
    ~Transaction() { abort(); }

    MDB_txn* get() const { return txn_; }
    int commit();  // the handle is gone afterwards, whatever the result
    void abort();

  private:
    MDB_txn* release() {
        MDB_txn* txn = txn_;
        txn_ = nullptr;
        return txn;
    }
    MDB_txn* txn_ = nullptr;
};

// Must be destroyed before its transaction ends.
class Cursor {
  public:
    Cursor(MDB_txn* txn, MDB_dbi dbi) { rc_ = mdb_cursor_open(txn, dbi, &cursor_); }
    Cursor(const Cursor&) = delete;
    Cursor& operator=(const Cursor&) = delete;
    ~Cursor() {
        if (cursor_ != nullptr) {
            mdb_cursor_close(cursor_);
        }
    }
    int open_status() const { return rc_; }
    int get(MDB_val& key, MDB_val& value, MDB_cursor_op op) {
        return mdb_cursor_get(cursor_, &key, &value, op);
    }

  private:
    MDB_cursor* cursor_ = nullptr;
    int rc_ = 0;
};

class LmdbEnvironment {
  public:
    LmdbEnvironment() = default;  // unopened; use open()
    static std::unique_ptr<LmdbEnvironment> open(const StoreOptions& options, std::string& error);
    ~LmdbEnvironment();
    LmdbEnvironment(const LmdbEnvironment&) = delete;
    LmdbEnvironment& operator=(const LmdbEnvironment&) = delete;

    const Databases& databases() const { return databases_; }

    MDB_env* env() const { return env_; }
    ResizeGate& gate() const { return gate_; }

    // The one writer thread (LMDB serializes writers; the map policy needs one owner).
    int begin_write(Transaction& out);

    // Map policy (committer thread only, with no write transaction open).
    enum class Growth : std::uint8_t { NotNeeded, Grown, AtMaximum, Failed };
    // Grows ahead of time when the pages in use plus `incoming_bytes` would pass 3/4 of
    // the map.
    Growth ensure_room(std::uint64_t incoming_bytes, std::string& error);
    // After MDB_MAP_FULL: doubles the map (up to the maximum).
    Growth grow_after_map_full(std::string& error);
    // True when the file system holding the store has less than `needed_bytes` free.
    // LMDB reports a short write at commit as EIO, so a full disk is recognised here.
    bool disk_space_below(std::uint64_t needed_bytes) const;
    // Re-reads the pages in use (after a commit).
    void refresh_used_bytes();

    // Safe from any thread (cached values).
    std::uint64_t map_bytes() const { return map_bytes_.load(std::memory_order_relaxed); }
    std::uint64_t used_bytes() const { return used_bytes_.load(std::memory_order_relaxed); }
    std::uint64_t map_grows() const { return map_grows_.load(std::memory_order_relaxed); }

  private:
    bool open_databases(std::string& error);
    Growth resize_to(std::uint64_t target, std::string& error);

    std::string directory_;
    MDB_env* env_ = nullptr;
    Databases databases_;
    std::uint64_t max_map_bytes_ = 0;
    std::uint64_t page_bytes_ = 4096;
    std::atomic<std::uint64_t> map_bytes_{0};
    std::atomic<std::uint64_t> used_bytes_{0};
    std::atomic<std::uint64_t> map_grows_{0};
    mutable ResizeGate gate_;
};

// A read-only transaction that also keeps the map from being resized under it. Check
// status() (an LMDB code) before use.
class ReadTransaction {
  public:
    explicit ReadTransaction(const LmdbEnvironment& environment);
    int status() const { return rc_; }
    MDB_txn* get() const { return txn_.get(); }

  private:
    ResizeGate::SharedHold hold_;  // declared first: released after the transaction
    Transaction txn_;
    int rc_ = 0;
};

}  // namespace annal::storage
