#include "replication/log_environment.hpp"

#include <algorithm>
#include <filesystem>
#include <string_view>
#include <system_error>

namespace annal::replication {
namespace {

constexpr std::string_view kFormatKey = "format";
constexpr std::string_view kFormatValue = "annal-raft-log-1";

std::uint64_t round_up(std::uint64_t value, std::uint64_t unit) {
    return (value + unit - 1) / unit * unit;
}

}  // namespace

std::unique_ptr<LogEnvironment> LogEnvironment::open(const LogEnvironmentOptions& options,
                                                     std::string& error) {
    std::error_code ec;
    std::filesystem::create_directories(options.directory, ec);
    if (ec) {
        error = "cannot create " + options.directory + ": " + ec.message();
        return nullptr;
    }
    auto environment = std::make_unique<LogEnvironment>();
    LogEnvironment& self = *environment;
    auto fail = [&](const std::string& what, int rc) {
        error = what + " (" + options.directory + "): " + storage::lmdb_error(rc);
        return nullptr;
    };
    int rc = mdb_env_create(&self.env_);
    if (rc != 0) {
        return fail("mdb_env_create", rc);
    }
    self.max_map_bytes_ = std::max<std::uint64_t>(options.max_map_bytes / 4096 * 4096, 4096 * 64);
    const std::uint64_t initial = std::min(
        round_up(std::max<std::uint64_t>(options.initial_map_bytes, 1), 4096), self.max_map_bytes_);
    if ((rc = mdb_env_set_mapsize(self.env_, initial)) != 0 ||
        (rc = mdb_env_set_maxreaders(self.env_, std::max(options.max_readers, 1u))) != 0 ||
        (rc = mdb_env_set_maxdbs(self.env_, 2)) != 0) {
        return fail("configuring LMDB", rc);
    }
    // MDB_NOTLS: storage reads come from whichever thread runs a group's core.
    unsigned flags = MDB_NOTLS;
    if (!options.durable) {
        flags |= MDB_NOSYNC;
    }
    if ((rc = mdb_env_open(self.env_, options.directory.c_str(), flags, 0644)) != 0) {
        return fail("mdb_env_open", rc);
    }
    int dead_readers = 0;
    mdb_reader_check(self.env_, &dead_readers);

    MDB_stat stat{};
    mdb_env_stat(self.env_, &stat);
    self.page_bytes_ = stat.ms_psize;
    MDB_envinfo info{};
    mdb_env_info(self.env_, &info);
    self.map_bytes_.store(info.me_mapsize);

    storage::Transaction txn;
    if ((rc = self.begin_write(txn)) != 0) {
        return fail("first write transaction", rc);
    }
    if ((rc = mdb_dbi_open(txn.get(), "raft_entries", MDB_CREATE, &self.entries_)) != 0 ||
        (rc = mdb_dbi_open(txn.get(), "raft_state", MDB_CREATE, &self.state_)) != 0) {
        return fail("opening the Raft databases", rc);
    }
    MDB_val key = storage::to_val(kFormatKey);
    MDB_val value{};
    rc = mdb_get(txn.get(), self.state_, &key, &value);
    if (rc == 0 && storage::to_view(value) != kFormatValue) {
        error = "unsupported Raft log format '" + std::string(storage::to_view(value)) + "' in " +
                options.directory;
        return nullptr;
    }
    if (rc == MDB_NOTFOUND) {
        value = storage::to_val(kFormatValue);
        rc = mdb_put(txn.get(), self.state_, &key, &value, 0);
    }
    if (rc == 0) {
        rc = txn.commit();
    }
    if (rc != 0) {
        return fail("initialising the Raft log", rc);
    }
    self.refresh_used_bytes();
    return environment;
}

LogEnvironment::~LogEnvironment() {
    if (env_ != nullptr) {
        mdb_env_close(env_);
    }
}

int LogEnvironment::begin_write(storage::Transaction& out) {
    MDB_txn* txn = nullptr;
    const int rc = mdb_txn_begin(env_, nullptr, 0, &txn);
    if (rc == 0) {
        out = storage::Transaction(txn);
    }
    return rc;
}

LogEnvironment::Reader::Reader(const LogEnvironment& environment) : hold(environment.gate_) {
    MDB_txn* raw = nullptr;
    status = mdb_txn_begin(environment.env_, nullptr, MDB_RDONLY, &raw);
    if (status == 0) {
        txn = storage::Transaction(raw);
    }
}

void LogEnvironment::refresh_used_bytes() {
    MDB_envinfo info{};
    mdb_env_info(env_, &info);
    used_bytes_.store((info.me_last_pgno + 1) * page_bytes_, std::memory_order_relaxed);
}

LogEnvironment::Growth LogEnvironment::ensure_room(std::uint64_t incoming_bytes, bool force,
                                                   std::string& error) {
    const std::uint64_t map = map_bytes();
    const std::uint64_t needed = used_bytes() + incoming_bytes;
    if (!force && needed <= map / 4 * 3) {
        return Growth::NotNeeded;
    }
    if (map >= max_map_bytes_) {
        return Growth::AtMaximum;
    }
    // Double, or more when one batch alone needs it, so growth stays rare.
    const std::uint64_t target =
        std::min(std::max(map * 2, round_up(needed * 2, page_bytes_)), max_map_bytes_);
    const int rc = gate_.exclusive([&] { return mdb_env_set_mapsize(env_, target); });
    if (rc != 0) {
        error = "cannot grow the map to " + std::to_string(target) +
                " bytes: " + storage::lmdb_error(rc);
        return Growth::Failed;
    }
    MDB_envinfo info{};
    mdb_env_info(env_, &info);
    map_bytes_.store(info.me_mapsize, std::memory_order_relaxed);
    map_grows_.fetch_add(1, std::memory_order_relaxed);
    return Growth::Grown;
}

}  // namespace annal::replication
