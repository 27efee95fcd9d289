#include "replication/lmdb_writer.hpp"

namespace annal::replication {

using Growth = storage::LmdbEnvironment::Growth;

int LmdbWriter::run(std::uint64_t estimated_bytes, const std::function<int(MDB_txn*)>& write,
                    std::string& error) {
    std::lock_guard writer(writer_mutex_);
    bool map_full = false;
    for (int attempt = 0;; ++attempt) {
        const Growth growth = map_full ? environment_.grow_after_map_full(error)
                                       : environment_.ensure_room(estimated_bytes * 2, error);
        if (growth == Growth::Failed) {
            return MDB_PANIC;
        }
        if (map_full && growth == Growth::AtMaximum) {
            return MDB_MAP_FULL;
        }
        storage::Transaction txn;
        int rc = environment_.begin_write(txn);
        if (rc == 0) {
            rc = write(txn.get());
        }
        if (rc == 0) {
            rc = txn.commit();
        }
        if (rc == 0) {
            environment_.refresh_used_bytes();
            return 0;
        }
        txn.abort();
        if (rc != MDB_MAP_FULL || attempt >= 8) {
            return rc;
        }
        map_full = true;
    }
}

int LmdbWriter::begin(std::uint64_t estimated_bytes, std::string& error) {
    if (is_open()) {
        return 0;
    }
    held_.lock();
    if (environment_.ensure_room(estimated_bytes * 2, error) == Growth::Failed) {
        held_.unlock();
        return MDB_PANIC;
    }
    const int rc = environment_.begin_write(txn_);
    if (rc != 0) {
        held_.unlock();
        return rc;
    }
    opened_at_ = Clock::now();
    return 0;
}

int LmdbWriter::commit() {
    if (!is_open()) {
        return 0;
    }
    const int rc = txn_.commit();
    if (rc == 0) {
        environment_.refresh_used_bytes();
    }
    held_.unlock();
    return rc;
}

void LmdbWriter::abort() {
    if (!is_open()) {
        return;
    }
    txn_.abort();
    held_.unlock();
}

Growth LmdbWriter::abort_and_grow(std::string& error) {
    txn_.abort();
    std::unique_lock writer(writer_mutex_, std::defer_lock);
    if (held_.owns_lock()) {
        writer.swap(held_);  // keep the fetcher out until the map has grown
    } else {
        writer.lock();
    }
    return environment_.grow_after_map_full(error);
}

}  // namespace annal::replication
