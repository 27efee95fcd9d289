// The one writer of a cluster member's LMDB environment (event tables, applied index,
// peer addresses, snapshot staging). The Raft log itself lives in the write-ahead log
// (raft_wal.hpp), so LMDB only holds what applying the log produces, and its commits are
// off the replication critical path: the loop keeps one long-lived write transaction open
// across cycles and commits it lazily (replicated_event_store.cpp, "applying"), while the
// snapshot fetcher stages each chunk in a short transaction of its own.
//
// Why a writer object and not just LMDB's writer lock: growing the map
// (mdb_env_set_mapsize) is only safe while no transaction of this process is open, and a
// write transaction must end on the thread that began it. So whoever writes holds
// `writer_mutex_` from before its growth check until its transaction ends, and the map is
// grown only under that mutex with no transaction open (read transactions are kept out by
// the environment's ResizeGate).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>

#include "storage/lmdb_environment.hpp"

namespace annal::replication {

class LmdbWriter {
  public:
    using Clock = std::chrono::steady_clock;

    explicit LmdbWriter(storage::LmdbEnvironment& environment) : environment_(environment) {}
    ~LmdbWriter() { abort(); }
    LmdbWriter(const LmdbWriter&) = delete;
    LmdbWriter& operator=(const LmdbWriter&) = delete;

    // One transaction, committed before returning (any thread except one holding the
    // long-lived transaction): makes room for `estimated_bytes`, runs `write`, commits; after
    // MDB_MAP_FULL grows the map and runs `write` again (it must be repeatable). Returns 0
    // or the LMDB code (`write`'s own, MDB_MAP_FULL once the map is at its maximum), with
    // `error` describing a failed growth.
    int run(std::uint64_t estimated_bytes, const std::function<int(MDB_txn*)>& write,
            std::string& error);

    // --- the long-lived transaction (one thread at a time: the replication loop) ---
    bool is_open() const { return txn_.get() != nullptr; }
    MDB_txn* txn() const { return txn_.get(); }
    Clock::time_point opened_at() const { return opened_at_; }
    // Begins it (after making room for `estimated_bytes`) unless one is open. 0 or an
    // LMDB code.
    int begin(std::uint64_t estimated_bytes, std::string& error);
    // Commits it (durably, as the environment is configured). 0 or an LMDB code; the
    // transaction is gone either way.
    int commit();
    void abort();
    // After MDB_MAP_FULL inside the long-lived transaction: aborts it and grows the map.
    // AtMaximum: the map cannot grow (storage full).
    storage::LmdbEnvironment::Growth abort_and_grow(std::string& error);

  private:
    storage::LmdbEnvironment& environment_;
    std::mutex writer_mutex_;
    std::unique_lock<std::mutex> held_{writer_mutex_, std::defer_lock};  // by the open txn
    storage::Transaction txn_;
    Clock::time_point opened_at_{};
};

}  // namespace annal::replication
