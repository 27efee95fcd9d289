// annal_raft_log_bench: what durable Raft state costs on LMDB, and the two candidate
// designs for issue 4 (is the Raft log the event log, or is it copied into the event
// store on apply?). A command that reports numbers, not a test. Usage:
//   annal_raft_log_bench [--dir D] [--seconds S] [--repeat N] [--event-bytes B] [--replicas R]
// Every case runs single-threaded, one batch at a time, with fsync on, in a fresh
// directory under D (default: the system temp dir), for S seconds (default 2), N times
// (default 3, interleaved with the other cases); the median run is reported.
// "physical" bytes are the process's block-device writes from /proc/self/io (write_bytes),
// i.e. what LMDB actually wrote, page overhead and both meta pages included.
// "raft WAL persist" is RaftWal (raft_wal.hpp), the segmented write-ahead log.
// --replicas R (default 1) adds the "raft log persist", "append-only file" and "raft WAL
// persist" cases with R replicas persisting at the same time, each in its own directory and
// thread: what one replica's commit costs when R replicas of a local cluster share this
// machine's disk (their events/s and us/batch are per replica).
// --wal-segment-bytes B: instead of the table above, the latency of each RaftWal persist
// (batches of 16 and 256 events, percentiles over every persist of all runs) with segments
// of B bytes -- small enough that a run starts new segments -- and with the default 64 MiB,
// each with the next segment prepared ahead (the default) and zero-filled on the persist
// path that needs it (WalOptions::prepare_segments_ahead = false, the WAL's first design).
#include <fcntl.h>
#include <lmdb.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "raft/types.hpp"
#include "replication/log_records.hpp"
#include "replication/raft_log_store.hpp"
#include "replication/raft_wal.hpp"
#include "storage/byte_order.hpp"
#include "storage/event_id.hpp"
#include "storage/event_store.hpp"
#include "storage/index_keys.hpp"
#include "storage/lmdb_environment.hpp"

namespace {

using namespace annal;
using Clock = std::chrono::steady_clock;

struct Options {
    std::filesystem::path directory = std::filesystem::temp_directory_path();
    double seconds = 2.0;
    std::size_t event_bytes = 256;
    int repeat = 3;
    int replicas = 1;
    std::uint64_t wal_segment_bytes = 0;  // > 0: the persist latency table instead
};

std::uint64_t physical_write_bytes() {
    std::ifstream io("/proc/self/io");
    std::string key;
    std::uint64_t value = 0;
    while (io >> key >> value) {
        if (key == "write_bytes:") {
            return value;
        }
    }
    return 0;
}

struct Result {
    std::uint64_t events = 0;
    std::uint64_t batches = 0;
    std::uint64_t fsyncs = 0;  // durable commits (LMDB: data flush + meta flush each)
    std::uint64_t logical_bytes = 0;
    std::uint64_t physical_bytes = 0;
    double seconds = 0;
};

// One line per case: the median run by events/s, with the range over all runs.
void print(const char* name, std::size_t batch, std::vector<Result> runs) {
    auto rate = [](const Result& r) { return static_cast<double>(r.events) / r.seconds; };
    std::sort(runs.begin(), runs.end(),
              [&](const Result& a, const Result& b) { return rate(a) < rate(b); });
    const Result& r = runs[runs.size() / 2];
    const double events = static_cast<double>(r.events);
    std::printf(
        "| %s | %zu | %.0f | %.0f-%.0f | %.0f | %.3f | %.0f | %.0f |\n", name, batch, rate(r),
        rate(runs.front()), rate(runs.back()), r.seconds * 1e6 / static_cast<double>(r.batches),
        static_cast<double>(r.fsyncs) / events, static_cast<double>(r.logical_bytes) / events,
        static_cast<double>(r.physical_bytes) / events);
    std::fflush(stdout);
}

// Runs `one_batch` (which returns logical bytes written) until the time is up.
Result run_for(double seconds, std::size_t batch, std::uint64_t fsyncs_per_batch,
               const std::function<std::uint64_t(std::uint64_t first_event)>& one_batch) {
    Result r;
    const std::uint64_t physical_start = physical_write_bytes();
    const auto start = Clock::now();
    const auto deadline = start + std::chrono::duration<double>(seconds);
    while (Clock::now() < deadline) {
        r.logical_bytes += one_batch(r.events + 1);
        r.events += batch;
        ++r.batches;
        r.fsyncs += fsyncs_per_batch;
    }
    r.seconds = std::chrono::duration<double>(Clock::now() - start).count();
    r.physical_bytes = physical_write_bytes() - physical_start;
    return r;
}

class Workspace {
  public:
    Workspace(const std::filesystem::path& root, const std::string& name)
        : path_(root / ("annal-raft-log-bench-" + name + "-" + std::to_string(::getpid()) + "-" +
                        std::to_string(next_id_.fetch_add(1)))) {
        std::filesystem::remove_all(path_);
    }
    ~Workspace() {
        std::error_code ec;
        std::filesystem::remove_all(path_, ec);
    }
    Workspace(const Workspace&) = delete;
    Workspace& operator=(const Workspace&) = delete;
    std::string str() const { return path_.string(); }

  private:
    static inline std::atomic<std::uint64_t> next_id_{0};  // replicas run at once
    std::filesystem::path path_;
};

std::string event_id(std::uint64_t n) {
    char text[40];
    std::snprintf(text, sizeof text, "%08x-%04x-4%03x-8%03x-%012llx",
                  static_cast<unsigned>(n >> 32), static_cast<unsigned>((n >> 16) & 0xFFFF),
                  static_cast<unsigned>(n & 0xFFF), static_cast<unsigned>((n >> 12) & 0xFFF),
                  static_cast<unsigned long long>(n));
    return text;
}

// The command a Raft entry carries for one appended event: what both designs replicate.
std::string encode_command(std::uint64_t n, const std::string& data) {
    std::string out;
    out += event_id(n);
    out += "|bench-stream|BenchEvent|";
    storage::put_u64_be(out, n);
    out += data;
    return out;
}

std::unique_ptr<replication::RaftLogStore> open_log(const std::string& dir) {
    replication::LogStoreOptions options;
    options.directory = dir;
    options.durable = true;
    std::string error;
    auto store = replication::RaftLogStore::open(options, error);
    if (!store) {
        std::fprintf(stderr, "cannot open the Raft log: %s\n", error.c_str());
        std::exit(1);
    }
    if (store->create_group(1, raft::Membership{{1}, {}}, error) == nullptr) {
        std::fprintf(stderr, "cannot create group: %s\n", error.c_str());
        std::exit(1);
    }
    return store;
}

raft::Ready make_ready(std::uint64_t first_event, std::size_t batch, const std::string& data,
                       raft::Index first_index) {
    raft::Ready ready;
    for (std::size_t i = 0; i < batch; ++i) {
        ready.entries.push_back(raft::Entry{1, first_index + i, raft::EntryType::Normal,
                                            encode_command(first_event + i, data)});
    }
    ready.hard_state = raft::HardState{1, 1, first_index + batch - 1};
    return ready;
}

void check(const replication::PersistResult& r) {
    if (!r.ok()) {
        std::fprintf(stderr, "persist failed: %s\n", r.message.c_str());
        std::exit(1);
    }
}

// 1. RaftLogStore::persist alone.
Result bench_log_store(const Options& o, std::size_t batch) {
    Workspace ws(o.directory, "log");
    auto store = open_log(ws.str());
    const std::string data(o.event_bytes, 'e');
    raft::Index next = 1;
    const Result r = run_for(o.seconds, batch, 1, [&](std::uint64_t first) {
        const auto before = store->stats().bytes_written;
        check(store->persist(1, make_ready(first, batch, data, next)));
        next += batch;
        return store->stats().bytes_written - before;
    });
    return r;
}

// The alternative to an LMDB log for the Raft entries: an append-only file, ONE
// fdatasync per batch (an LMDB commit flushes twice: data pages, then the meta page). The
// file is extended with zeros 16 MiB at a time, as a segmented write-ahead log would
// preallocate, so most flushes carry no size change. Records: length, CRC-less header
// stand-in (8 bytes), command bytes -- the cost floor of a WAL, not a finished one.
Result bench_wal_file(const Options& o, std::size_t batch) {
    Workspace ws(o.directory, "wal");
    std::filesystem::create_directories(ws.str());
    const std::string path = ws.str() + "/log";
    const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) {
        std::fprintf(stderr, "cannot open %s\n", path.c_str());
        std::exit(1);
    }
    constexpr std::uint64_t kChunk = 16ull << 20;
    const std::string zeros(1 << 20, '\0');
    std::uint64_t allocated = 0;
    std::uint64_t offset = 0;
    const std::string data(o.event_bytes, 'e');
    std::string buffer;
    const auto write_all = [fd](const char* bytes, std::size_t size, std::uint64_t at) {
        while (size > 0) {
            const ssize_t n = ::pwrite(fd, bytes, size, static_cast<off_t>(at));
            if (n <= 0) {
                std::fprintf(stderr, "wal write failed\n");
                std::exit(1);
            }
            bytes += n;
            size -= static_cast<std::size_t>(n);
            at += static_cast<std::uint64_t>(n);
        }
    };
    const Result r = run_for(o.seconds, batch, 1, [&](std::uint64_t first) {
        buffer.clear();
        for (std::size_t i = 0; i < batch; ++i) {
            const std::string command = encode_command(first + i, data);
            storage::put_u32_be(buffer, static_cast<std::uint32_t>(command.size()));
            storage::put_u64_be(buffer, first + i);
            buffer += command;
        }
        while (offset + buffer.size() > allocated) {
            for (std::uint64_t done = 0; done < kChunk; done += zeros.size()) {
                write_all(zeros.data(), zeros.size(), allocated + done);
            }
            allocated += kChunk;
        }
        write_all(buffer.data(), buffer.size(), offset);
        offset += buffer.size();
        if (::fdatasync(fd) != 0) {
            std::fprintf(stderr, "fdatasync failed\n");
            std::exit(1);
        }
        return static_cast<std::uint64_t>(buffer.size());
    });
    ::close(fd);
    return r;
}

// RaftWal::persist alone: the segmented write-ahead log meant to replace case 1 (one
// fdatasync per batch; 64 MiB segments preallocated with zeros, the next one prepared on
// the log's own thread while the timed loop runs, as a node's would).
// A durable RaftWal in `directory` with group 1 created (exits on failure).
std::unique_ptr<replication::RaftWal> open_wal(const std::string& directory,
                                               replication::WalOptions options = {}) {
    options.directory = directory;
    options.durable = true;
    std::string error;
    auto wal = replication::RaftWal::open(options, error);
    if (!wal || wal->create_group(1, raft::Membership{{1}, {}}, error) == nullptr) {
        std::fprintf(stderr, "cannot open the Raft WAL: %s\n", error.c_str());
        std::exit(1);
    }
    return wal;
}

Result bench_raft_wal(const Options& o, std::size_t batch) {
    Workspace ws(o.directory, "raft-wal");
    auto wal = open_wal(ws.str());
    const std::string data(o.event_bytes, 'e');
    raft::Index next = 1;
    return run_for(o.seconds, batch, 1, [&](std::uint64_t first) {
        const auto before = wal->stats().bytes_written;
        check(wal->persist(1, make_ready(first, batch, data, next)));
        next += batch;
        return wal->stats().bytes_written - before;
    });
}

using Case = Result (*)(const Options&, std::size_t);

// `run` on o.replicas threads at once, each in its own directory: what one replica's
// batch costs when the replicas of a local cluster share this machine's disk. The result
// is per replica (events and batches averaged over the replicas).
Result concurrently(const Options& o, std::size_t batch, Case run) {
    if (o.replicas <= 1) {
        return run(o, batch);
    }
    std::vector<Result> results(static_cast<std::size_t>(o.replicas));
    std::vector<std::thread> threads;
    for (Result& result : results) {
        threads.emplace_back([&o, batch, run, &result] { result = run(o, batch); });
    }
    for (std::thread& thread : threads) {
        thread.join();
    }
    Result total;
    for (const Result& r : results) {
        total.events += r.events;
        total.batches += r.batches;
        total.fsyncs += r.fsyncs;
        total.logical_bytes += r.logical_bytes;
        total.seconds = std::max(total.seconds, r.seconds);
    }
    const auto replicas = static_cast<std::uint64_t>(o.replicas);
    total.events /= replicas;
    total.batches /= replicas;
    total.fsyncs /= replicas;
    total.logical_bytes /= replicas;
    total.physical_bytes = 0;  // /proc/self/io cannot tell the threads' writes apart
    return total;
}

Result bench_log_store_replicas(const Options& o, std::size_t batch) {
    return concurrently(o, batch, bench_log_store);
}

Result bench_wal_file_replicas(const Options& o, std::size_t batch) {
    return concurrently(o, batch, bench_wal_file);
}

Result bench_raft_wal_replicas(const Options& o, std::size_t batch) {
    return concurrently(o, batch, bench_raft_wal);
}

// A raw LMDB environment standing in for "the event store's databases in the Raft log's
// environment": the Raft entries plus the indexes the event store keeps per event.
class CombinedEnv {
  public:
    explicit CombinedEnv(const std::string& dir) {
        std::filesystem::create_directories(dir);
        mdb_env_create(&env_);
        mdb_env_set_mapsize(env_, 8ull << 30);
        mdb_env_set_maxdbs(env_, 4);
        if (mdb_env_open(env_, dir.c_str(), MDB_NOTLS, 0644) != 0) {
            std::fprintf(stderr, "cannot open %s\n", dir.c_str());
            std::exit(1);
        }
        MDB_txn* txn = nullptr;
        mdb_txn_begin(env_, nullptr, 0, &txn);
        mdb_dbi_open(txn, "raft_entries", MDB_CREATE, &entries_);
        mdb_dbi_open(txn, "stream_index", MDB_CREATE, &stream_index_);
        mdb_dbi_open(txn, "time_index", MDB_CREATE, &time_index_);
        mdb_dbi_open(txn, "event_ids", MDB_CREATE, &event_ids_);
        mdb_txn_commit(txn);
    }
    ~CombinedEnv() { mdb_env_close(env_); }
    CombinedEnv(const CombinedEnv&) = delete;
    CombinedEnv& operator=(const CombinedEnv&) = delete;

    void set_sync(bool on) { mdb_env_set_flags(env_, MDB_NOSYNC, on ? 0 : 1); }
    MDB_txn* begin() {
        MDB_txn* txn = nullptr;
        mdb_txn_begin(env_, nullptr, 0, &txn);
        return txn;
    }
    static void commit(MDB_txn* txn) {
        if (mdb_txn_commit(txn) != 0) {
            std::fprintf(stderr, "commit failed\n");
            std::exit(1);
        }
    }
    std::uint64_t put(MDB_txn* txn, MDB_dbi dbi, const std::string& key, const std::string& value) {
        MDB_val k = storage::to_val(key);
        MDB_val v = storage::to_val(value);
        mdb_put(txn, dbi, &k, &v, 0);
        return key.size() + value.size();
    }
    // The Raft entries of one batch (the events themselves, written once).
    std::uint64_t put_entries(MDB_txn* txn, std::uint64_t first, std::size_t batch,
                              const std::string& data) {
        std::uint64_t bytes = 0;
        for (std::size_t i = 0; i < batch; ++i) {
            const raft::Entry e{1, first + i, raft::EntryType::Normal,
                                encode_command(first + i, data)};
            bytes += put(txn, entries_, replication::entry_key(1, e.index),
                         replication::encode_entry_record(1, e));
        }
        return bytes;
    }
    // What applying the batch adds: the indexes pointing at Raft indexes (no event copy).
    std::uint64_t put_indexes(MDB_txn* txn, std::uint64_t first, std::size_t batch) {
        std::uint64_t bytes = 0;
        for (std::size_t i = 0; i < batch; ++i) {
            const std::uint64_t position = first + i;
            const std::string pos = storage::position_key(position);
            bytes += put(txn, stream_index_,
                         storage::stream_index_key("bench-stream", position - 1), pos);
            bytes += put(txn, time_index_,
                         storage::time_key(static_cast<std::int64_t>(position), position), {});
            bytes += put(txn, event_ids_, *storage::event_id_to_bytes(event_id(position)), pos);
        }
        return bytes;
    }

  private:
    MDB_env* env_ = nullptr;
    MDB_dbi entries_ = 0;
    MDB_dbi stream_index_ = 0;
    MDB_dbi time_index_ = 0;
    MDB_dbi event_ids_ = 0;
};

// 2a. The log is the database, indexes of the previous (now committed) batch written in the
// same transaction as the next batch's entries: one fsync per batch.
Result bench_log_is_db_same_txn(const Options& o, std::size_t batch) {
    Workspace ws(o.directory, "a1");
    CombinedEnv env(ws.str());
    const std::string data(o.event_bytes, 'e');
    const Result r = run_for(o.seconds, batch, 1, [&](std::uint64_t first) {
        MDB_txn* txn = env.begin();
        std::uint64_t bytes = env.put_entries(txn, first, batch, data);
        bytes += env.put_indexes(txn, first, batch);  // the same count, one batch behind
        CombinedEnv::commit(txn);
        return bytes;
    });
    return r;
}

// 2b. The log is the database, indexes in a second transaction without fsync (made durable
// by the next batch's fsync, or rebuilt from the log after a crash).
Result bench_log_is_db_second_txn(const Options& o, std::size_t batch) {
    Workspace ws(o.directory, "a2");
    CombinedEnv env(ws.str());
    const std::string data(o.event_bytes, 'e');
    const Result r = run_for(o.seconds, batch, 1, [&](std::uint64_t first) {
        env.set_sync(true);
        MDB_txn* txn = env.begin();
        std::uint64_t bytes = env.put_entries(txn, first, batch, data);
        CombinedEnv::commit(txn);
        env.set_sync(false);
        txn = env.begin();
        bytes += env.put_indexes(txn, first, batch);
        CombinedEnv::commit(txn);
        return bytes;
    });
    env.set_sync(true);
    return r;
}

// 3. Separate Raft log, events copied into the event store on apply: two durable writes.
Result bench_copy_on_apply(const Options& o, std::size_t batch) {
    Workspace log_ws(o.directory, "b-log");
    Workspace store_ws(o.directory, "b-store");
    auto log = open_log(log_ws.str());
    storage::StoreOptions store_options;
    store_options.directory = store_ws.str();
    store_options.durable = true;
    std::string error;
    auto store = storage::EventStore::open(store_options, error);
    if (!store) {
        std::fprintf(stderr, "cannot open the event store: %s\n", error.c_str());
        std::exit(1);
    }
    const std::string data(o.event_bytes, 'e');
    raft::Index next = 1;
    std::mutex mutex;
    std::condition_variable done_cv;
    const Result r = run_for(o.seconds, batch, 2, [&](std::uint64_t first) {
        const auto log_before = log->stats().bytes_written;
        check(log->persist(1, make_ready(first, batch, data, next)));
        next += batch;
        storage::AppendRequest request;
        request.stream = "bench-stream";
        for (std::size_t i = 0; i < batch; ++i) {
            storage::ProposedEvent event;
            event.id = event_id(first + i);
            event.type = "BenchEvent";
            event.timestamp_us = static_cast<std::int64_t>(first + i);
            event.data = data;
            event.data_is_json = false;
            request.events.push_back(std::move(event));
        }
        bool done = false;
        storage::AppendStatus status = storage::AppendStatus::Ok;
        store->append(std::move(request), [&](storage::AppendResult result) {
            std::lock_guard lock(mutex);
            status = result.status;
            done = true;
            done_cv.notify_one();
        });
        std::unique_lock lock(mutex);
        done_cv.wait(lock, [&] { return done; });
        if (status != storage::AppendStatus::Ok) {
            std::fprintf(stderr, "event store append failed\n");
            std::exit(1);
        }
        // Logical bytes of the event store: its payload count is data only, so count the
        // event once more at the size the Raft entry carried (a lower bound for its record).
        return log->stats().bytes_written - log_before + batch * encode_command(first, data).size();
    });
    return r;
}

// Every persist's duration, and what the WAL did meanwhile.
struct LatencyRun {
    std::vector<std::uint64_t> persist_us;
    std::vector<std::uint64_t> rollover_us;  // of the persists that started a new segment
    std::uint64_t events = 0;
    double seconds = 0;
    replication::WalStats stats;
};

LatencyRun wal_latency_run(const Options& o, std::size_t batch, std::uint64_t segment_bytes,
                           bool ahead) {
    Workspace ws(o.directory, "raft-wal-latency");
    replication::WalOptions options;
    options.segment_bytes = segment_bytes;
    options.prepare_segments_ahead = ahead;
    auto wal = open_wal(ws.str(), options);
    const std::string data(o.event_bytes, 'e');
    raft::Index next = 1;
    LatencyRun run;
    const auto start = Clock::now();
    const auto deadline = start + std::chrono::duration<double>(o.seconds);
    for (auto now = start; now < deadline;) {
        const raft::Ready ready = make_ready(run.events + 1, batch, data, next);
        const std::uint64_t segments = wal->stats().segments_created;
        check(wal->persist(1, ready));
        const auto done = Clock::now();
        const auto us = static_cast<std::uint64_t>(
            std::chrono::duration_cast<std::chrono::microseconds>(done - now).count());
        run.persist_us.push_back(us);
        if (wal->stats().segments_created != segments) {
            run.rollover_us.push_back(us);
        }
        now = done;
        next += batch;
        run.events += batch;
    }
    run.seconds = std::chrono::duration<double>(Clock::now() - start).count();
    run.stats = wal->stats();
    return run;
}

int wal_latency_table(const Options& o) {
    std::printf(
        "RaftWal persist latency: events of %zu bytes, fsync on, %.1f s per run, %d "
        "interleaved runs per case (percentiles over all their persists), directory %s\n\n",
        o.event_bytes, o.seconds, o.repeat, o.directory.c_str());
    struct LatencyCase {
        std::uint64_t segment_bytes;
        bool ahead;
        std::size_t batch;
        std::vector<LatencyRun> runs;
    };
    std::vector<LatencyCase> cases;
    for (const std::size_t batch : {std::size_t{16}, std::size_t{256}}) {
        for (const std::uint64_t segment : {o.wal_segment_bytes, std::uint64_t{64} << 20}) {
            for (const bool ahead : {false, true}) {
                cases.push_back(LatencyCase{segment, ahead, batch, {}});
            }
        }
    }
    for (int round = 0; round < o.repeat; ++round) {
        for (LatencyCase& c : cases) {
            c.runs.push_back(wal_latency_run(o, c.batch, c.segment_bytes, c.ahead));
        }
    }
    std::printf(
        "| segment bytes | next segment | batch | events/s | persists | p50 us | p99 us | p99.9 us "
        "| max us | new segments | waits for the spare | their persists: median us | max us "
        "|\n|---|---|---|---|---|---|---|---|---|---|---|---|---|\n");
    for (const LatencyCase& c : cases) {
        std::vector<std::uint64_t> all;
        std::vector<std::uint64_t> rollovers;
        std::uint64_t events = 0;
        std::uint64_t segments = 0;
        std::uint64_t waits = 0;
        double seconds = 0;
        for (const LatencyRun& run : c.runs) {
            all.insert(all.end(), run.persist_us.begin(), run.persist_us.end());
            rollovers.insert(rollovers.end(), run.rollover_us.begin(), run.rollover_us.end());
            events += run.events;
            seconds += run.seconds;
            segments += run.stats.segments_created - 1;  // the first is made at open
            waits += run.stats.spare_waits;
        }
        const auto at = [](std::vector<std::uint64_t>& v, double q) -> unsigned long long {
            if (v.empty()) {
                return 0;
            }
            std::sort(v.begin(), v.end());
            return v[std::min(v.size() - 1,
                              static_cast<std::size_t>(q * static_cast<double>(v.size())))];
        };
        std::printf(
            "| %llu | %s | %zu | %.0f | %zu | %llu | %llu | %llu | %llu | %llu | %llu | %llu | "
            "%llu |\n",
            static_cast<unsigned long long>(c.segment_bytes),
            c.ahead ? "prepared ahead" : "filled on the persist path", c.batch,
            static_cast<double>(events) / seconds, all.size(), at(all, 0.5), at(all, 0.99),
            at(all, 0.999), at(all, 1.0), static_cast<unsigned long long>(segments),
            static_cast<unsigned long long>(waits), at(rollovers, 0.5), at(rollovers, 1.0));
        std::fflush(stdout);
    }
    return 0;
}

bool parse(int argc, char** argv, Options& o) {
    for (int i = 1; i < argc; ++i) {
        const std::string arg = argv[i];
        if (i + 1 >= argc) {
            return false;
        }
        if (arg == "--dir") {
            o.directory = argv[++i];
        } else if (arg == "--seconds") {
            o.seconds = std::atof(argv[++i]);
        } else if (arg == "--repeat") {
            o.repeat = std::max(1, std::atoi(argv[++i]));
        } else if (arg == "--event-bytes") {
            o.event_bytes = static_cast<std::size_t>(std::atol(argv[++i]));
        } else if (arg == "--replicas") {
            o.replicas = std::max(1, std::atoi(argv[++i]));
        } else if (arg == "--wal-segment-bytes") {
            o.wal_segment_bytes = std::strtoull(argv[++i], nullptr, 10);
        } else {
            return false;
        }
    }
    return o.seconds > 0;
}

}  // namespace

int main(int argc, char** argv) {
    Options options;
    if (!parse(argc, argv, options)) {
        std::fprintf(stderr,
                     "usage: annal_raft_log_bench [--dir D] [--seconds S] [--repeat N] "
                     "[--event-bytes B] [--replicas R] [--wal-segment-bytes B]\n");
        return 2;
    }
    if (options.wal_segment_bytes > 0) {
        return wal_latency_table(options);
    }
    std::printf(
        "events of %zu bytes, fsync on, %.1f s per run, %d interleaved runs per case, "
        "directory %s\n\n",
        options.event_bytes, options.seconds, options.repeat, options.directory.c_str());
    std::vector<std::pair<const char*, Case>> cases{
        {"raft log persist", bench_log_store},
        {"(a) log is the db, indexes in the same txn", bench_log_is_db_same_txn},
        {"(a) log is the db, indexes in a 2nd txn without fsync", bench_log_is_db_second_txn},
        {"(b) separate log, copied into the event store on apply", bench_copy_on_apply},
        {"append-only file, one fdatasync per batch (WAL floor)", bench_wal_file},
        {"raft WAL persist", bench_raft_wal}};
    static std::string log_replicas_case;
    static std::string wal_replicas_case;
    static std::string raft_wal_replicas_case;
    if (options.replicas > 1) {
        const std::string suffix =
            ", " + std::to_string(options.replicas) + " replicas at once (per replica)";
        log_replicas_case = "raft log persist" + suffix;
        wal_replicas_case = "append-only file" + suffix;
        cases.push_back({log_replicas_case.c_str(), bench_log_store_replicas});
        cases.push_back({wal_replicas_case.c_str(), bench_wal_file_replicas});
        raft_wal_replicas_case = "raft WAL persist" + suffix;
        cases.push_back({raft_wal_replicas_case.c_str(), bench_raft_wal_replicas});
    }
    const std::vector<std::size_t> batches{1, 16, 256};
    // Runs alternate between cases so that load from other processes falls on all of them.
    std::map<std::pair<std::size_t, std::size_t>, std::vector<Result>> results;
    for (int round = 0; round < options.repeat; ++round) {
        for (std::size_t b = 0; b < batches.size(); ++b) {
            for (std::size_t c = 0; c < cases.size(); ++c) {
                results[{c, b}].push_back(cases[c].second(options, batches[b]));
            }
        }
    }
    std::printf(
        "| case | batch | events/s (median) | range | us/batch | durable commits/event "
        "| logical B/event | physical B/event |\n|---|---|---|---|---|---|---|---|\n");
    for (std::size_t c = 0; c < cases.size(); ++c) {
        for (std::size_t b = 0; b < batches.size(); ++b) {
            print(cases[c].first, batches[b], results[{c, b}]);
        }
    }
    return 0;
}
