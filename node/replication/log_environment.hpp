// The LMDB environment holding the Raft state of every group of a node: two named
// databases (see log_records.hpp), RAII transactions from annal_storage, and the map
// policy (grow ahead of need, only while no transaction is open, never past a maximum).
//
// Why not storage::LmdbEnvironment: it opens the event store's fixed set of databases.
// This class reuses its pieces (Transaction, ResizeGate, lmdb_error) instead.
#pragma once

#include <lmdb.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>

#include "storage/lmdb_environment.hpp"
#include "storage/resize_gate.hpp"

namespace annal::replication {

struct LogEnvironmentOptions {
    std::string directory;                          // created if missing
    std::uint64_t initial_map_bytes = 64ull << 20;  // LMDB map size at open
    std::uint64_t max_map_bytes = 1ull << 40;       // growth stops here -> StorageFull
    bool durable = true;                            // false: no fsync (tests/bench only)
    unsigned max_readers = 512;
};

class LogEnvironment {
  public:
    static std::unique_ptr<LogEnvironment> open(const LogEnvironmentOptions& options,
                                                std::string& error);
    LogEnvironment() = default;
    ~LogEnvironment();
    LogEnvironment(const LogEnvironment&) = delete;
    LogEnvironment& operator=(const LogEnvironment&) = delete;

    MDB_env* env() const { return env_; }
    MDB_dbi entries() const { return entries_; }
    MDB_dbi state() const { return state_; }

    int begin_write(storage::Transaction& out);
    // Read transaction plus a shared hold on the resize gate (declared first: released last).
    struct Reader {
        explicit Reader(const LogEnvironment& environment);
        storage::ResizeGate::SharedHold hold;
        storage::Transaction txn;
        int status = 0;
    };

    enum class Growth : std::uint8_t { NotNeeded, Grown, AtMaximum, Failed };
    // With no transaction open in this process: grows when the pages in use plus
    // `incoming_bytes` would pass 3/4 of the map, or unconditionally (`force`, after
    // MDB_MAP_FULL).
    Growth ensure_room(std::uint64_t incoming_bytes, bool force, std::string& error);
    void refresh_used_bytes();
    std::uint64_t map_bytes() const { return map_bytes_.load(std::memory_order_relaxed); }
    std::uint64_t used_bytes() const { return used_bytes_.load(std::memory_order_relaxed); }
    std::uint64_t map_grows() const { return map_grows_.load(std::memory_order_relaxed); }

  private:
    MDB_env* env_ = nullptr;
    MDB_dbi entries_ = 0;
    MDB_dbi state_ = 0;
    std::uint64_t page_bytes_ = 4096;
    std::uint64_t max_map_bytes_ = 0;
    std::atomic<std::uint64_t> map_bytes_{0};
    std::atomic<std::uint64_t> used_bytes_{0};
    std::atomic<std::uint64_t> map_grows_{0};
    mutable storage::ResizeGate gate_;
};

}  // namespace annal::replication
