#include "storage/lmdb_environment.hpp"

#include <sys/statvfs.h>

#include <algorithm>
#include <filesystem>
#include <system_error>

namespace annal::storage {
namespace {

constexpr unsigned kDatabaseCount = 9;
constexpr std::string_view kFormatKey = "format";
// 2: records chain to their stream's previous event; the stream index is sparse.
constexpr std::string_view kFormatValue = "annal-store-2";
constexpr std::string_view kRaftFormatValue = "annal-raft-log-1";

// Writes the format marker into `dbi` on first use; refuses a different one.
int check_format(MDB_txn* txn, MDB_dbi dbi, std::string_view expected, std::string& found) {
    MDB_val key = to_val(kFormatKey);
    MDB_val value{};
    int rc = mdb_get(txn, dbi, &key, &value);
    if (rc == 0 && to_view(value) != expected) {
        found = std::string(to_view(value));
        return MDB_INCOMPATIBLE;
    }
    if (rc == MDB_NOTFOUND) {
        value = to_val(expected);
        rc = mdb_put(txn, dbi, &key, &value, 0);
    }
    return rc;
}

std::uint64_t round_up(std::uint64_t value, std::uint64_t unit) {
    return (value + unit - 1) / unit * unit;
}

}  // namespace

std::string lmdb_error(int rc) {
    return mdb_strerror(rc);
}

Transaction& Transaction::operator=(Transaction&& other) noexcept {
    if (this != &other) {
        abort();
        txn_ = other.release();
    }
    return *this;
}

int Transaction::commit() {
    MDB_txn* txn = release();
    return txn == nullptr ? EINVAL : mdb_txn_commit(txn);
}

void Transaction::abort() {
    if (MDB_txn* txn = release(); txn != nullptr) {
        mdb_txn_abort(txn);
    }
}

std::unique_ptr<LmdbEnvironment> LmdbEnvironment::open(const StoreOptions& options,
                                                       std::string& error) {
    std::error_code ec;
    std::filesystem::create_directories(options.directory, ec);
    if (ec) {
        error = "cannot create " + options.directory + ": " + ec.message();
        return nullptr;
    }
    auto environment = std::make_unique<LmdbEnvironment>();
    LmdbEnvironment& self = *environment;
    self.directory_ = options.directory;
    auto fail = [&](const std::string& what, int rc) {
        error = what + " (" + options.directory + "): " + lmdb_error(rc);
        return nullptr;
    };
    int rc = mdb_env_create(&self.env_);
    if (rc != 0) {
        return fail("mdb_env_create", rc);
    }
    self.page_bytes_ = 4096;
    self.max_map_bytes_ = std::max<std::uint64_t>(
        options.max_map_bytes / self.page_bytes_ * self.page_bytes_, self.page_bytes_ * 64);
    const std::uint64_t initial =
        std::min(round_up(std::max<std::uint64_t>(options.initial_map_bytes, 1), self.page_bytes_),
                 self.max_map_bytes_);
    if ((rc = mdb_env_set_mapsize(self.env_, initial)) != 0 ||
        (rc = mdb_env_set_maxreaders(self.env_, std::max(options.max_readers, 1u))) != 0 ||
        (rc = mdb_env_set_maxdbs(self.env_, kDatabaseCount)) != 0) {
        return fail("configuring LMDB", rc);
    }
    // MDB_NOTLS: reads run on many threads (HTTP workers, subscribers) and a transaction
    // may end on another thread than it began on, so slots belong to transactions.
    unsigned flags = MDB_NOTLS;
    if (!options.durable) {
        flags |= MDB_NOSYNC;
    } else if (!options.sync_meta) {
        flags |= MDB_NOMETASYNC;
    }
    if ((rc = mdb_env_open(self.env_, options.directory.c_str(), flags, 0644)) != 0) {
        return fail("mdb_env_open", rc);
    }
    int dead_readers = 0;
    mdb_reader_check(self.env_, &dead_readers);  // slots left by crashed processes

    MDB_stat stat{};
    mdb_env_stat(self.env_, &stat);
    self.page_bytes_ = stat.ms_psize;
    MDB_envinfo info{};
    mdb_env_info(self.env_, &info);
    self.map_bytes_.store(info.me_mapsize);
    if (!self.open_databases(error)) {
        return nullptr;
    }
    self.refresh_used_bytes();
    return environment;
}

LmdbEnvironment::~LmdbEnvironment() {
    if (env_ != nullptr) {
        mdb_env_close(env_);
    }
}

bool LmdbEnvironment::open_databases(std::string& error) {
    Transaction txn;
    if (int rc = begin_write(txn); rc != 0) {
        error = "cannot begin the first write transaction: " + lmdb_error(rc);
        return false;
    }
    struct Named {
        const char* name;
        MDB_dbi* dbi;
    };
    const Named named[] = {{"events", &databases_.events},
                           {"stream_index", &databases_.stream_index},
                           {"stream_heads", &databases_.stream_heads},
                           {"time_index", &databases_.time_index},
                           {"event_ids", &databases_.event_ids},
                           {"meta", &databases_.meta},
                           {"raft_entries", &databases_.raft_entries},
                           {"raft_state", &databases_.raft_state},
                           {"snapshot_staging", &databases_.snapshot_staging}};
    for (const Named& entry : named) {
        if (int rc = mdb_dbi_open(txn.get(), entry.name, MDB_CREATE, entry.dbi); rc != 0) {
            error = std::string("cannot open database ") + entry.name + ": " + lmdb_error(rc);
            return false;
        }
    }
    std::string found;
    int rc = check_format(txn.get(), databases_.meta, kFormatValue, found);
    if (rc == MDB_INCOMPATIBLE) {
        error = "unsupported store format '" + found + "' (this build reads '" +
                std::string(kFormatValue) +
                "'; move away or empty a data directory written by an older build)";
        return false;
    }
    if (rc == 0) {
        rc = check_format(txn.get(), databases_.raft_state, kRaftFormatValue, found);
        if (rc == MDB_INCOMPATIBLE) {
            error = "unsupported Raft log format '" + found + "' in " + directory_;
            return false;
        }
    }
    if (rc == 0) {
        rc = txn.commit();
    }
    if (rc != 0) {
        error = "cannot initialise the store: " + lmdb_error(rc);
        return false;
    }
    return true;
}

ReadTransaction::ReadTransaction(const LmdbEnvironment& environment) : hold_(environment.gate()) {
    MDB_txn* txn = nullptr;
    rc_ = mdb_txn_begin(environment.env(), nullptr, MDB_RDONLY, &txn);
    if (rc_ == 0) {
        txn_ = Transaction(txn);
    }
}

int LmdbEnvironment::begin_write(Transaction& out) {
    MDB_txn* txn = nullptr;
    const int rc = mdb_txn_begin(env_, nullptr, 0, &txn);
    if (rc == 0) {
        out = Transaction(txn);
    }
    return rc;
}

bool LmdbEnvironment::disk_space_below(std::uint64_t needed_bytes) const {
    struct statvfs fs {};
    if (::statvfs(directory_.c_str(), &fs) != 0) {
        return false;
    }
    return static_cast<std::uint64_t>(fs.f_bavail) * fs.f_frsize < needed_bytes;
}

void LmdbEnvironment::refresh_used_bytes() {
    MDB_envinfo info{};
    mdb_env_info(env_, &info);
    used_bytes_.store((info.me_last_pgno + 1) * page_bytes_, std::memory_order_relaxed);
}

LmdbEnvironment::Growth LmdbEnvironment::ensure_room(std::uint64_t incoming_bytes,
                                                     std::string& error) {
    const std::uint64_t map = map_bytes();
    const std::uint64_t needed = used_bytes() + incoming_bytes;
    if (needed <= map / 4 * 3) {
        return Growth::NotNeeded;
    }
    if (map >= max_map_bytes_) {
        return Growth::AtMaximum;
    }
    // Double, or more when one batch alone needs it, so growth stays rare.
    return resize_to(std::max(map * 2, round_up(needed * 2, page_bytes_)), error);
}

LmdbEnvironment::Growth LmdbEnvironment::grow_after_map_full(std::string& error) {
    const std::uint64_t map = map_bytes();
    if (map >= max_map_bytes_) {
        return Growth::AtMaximum;
    }
    return resize_to(map * 2, error);
}

LmdbEnvironment::Growth LmdbEnvironment::resize_to(std::uint64_t target, std::string& error) {
    target = std::min(target, max_map_bytes_);
    const int rc = gate_.exclusive([&] { return mdb_env_set_mapsize(env_, target); });
    if (rc != 0) {
        error = "cannot grow the map to " + std::to_string(target) + " bytes: " + lmdb_error(rc);
        return Growth::Failed;
    }
    MDB_envinfo info{};
    mdb_env_info(env_, &info);
    map_bytes_.store(info.me_mapsize, std::memory_order_relaxed);
    map_grows_.fetch_add(1, std::memory_order_relaxed);
    return Growth::Grown;
}

}  // namespace annal::storage
