#include "storage/lmdb_event_store.hpp"

#include <pthread.h>

#include <cerrno>
#include <exception>
#include <utility>

#include "storage/record_codec.hpp"

namespace annal::storage {
namespace {

std::size_t request_bytes(const AppendRequest& request) {
    std::size_t bytes = 0;
    for (const ProposedEvent& event : request.events) {
        bytes += encoded_record_size(request.stream.size(), event);
    }
    return bytes;
}

// A commit that fails with EIO while less than this (plus the batch) is free is taken as
// a full disk.
constexpr std::uint64_t kDiskHeadroomBytes = 1ull << 20;

bool is_out_of_space(int rc) {
    return rc == ENOSPC || rc == EDQUOT || rc == EFBIG;
}

}  // namespace

std::unique_ptr<EventStore> EventStore::open(const StoreOptions& options, std::string& error) {
    if (options.directory.empty()) {
        error = "the store needs a data directory";
        return nullptr;
    }
    std::unique_ptr<LmdbEnvironment> environment = LmdbEnvironment::open(options, error);
    if (!environment) {
        return nullptr;
    }
    std::unique_ptr<EventTables> tables = EventTables::open(*environment, options.durable, error);
    if (!tables) {
        return nullptr;
    }
    try {
        return std::make_unique<LmdbEventStore>(options, std::move(environment), std::move(tables));
    } catch (const std::exception& e) {  // the committer thread could not start
        error = std::string("cannot start the committer: ") + e.what();
        return nullptr;
    }
}

LmdbEventStore::LmdbEventStore(StoreOptions options, std::unique_ptr<LmdbEnvironment> environment,
                               std::unique_ptr<EventTables> tables)
    : options_(std::move(options)),
      environment_(std::move(environment)),
      tables_(std::move(tables)) {
    committer_ = std::thread([this] {
        pthread_setname_np(pthread_self(), "annal-committer");
        run_committer();
    });
}

LmdbEventStore::~LmdbEventStore() {
    close();
}

void LmdbEventStore::append(AppendRequest request, AppendCallback done) {
    PendingAppend pending;
    pending.enqueued = Clock::now();
    pending.events = request.events.size();
    pending.bytes = request_bytes(request);
    pending.request = std::move(request);
    pending.done = std::move(done);
    bool accepted = false;
    {
        std::lock_guard lock(queue_mutex_);
        if (!stopping_) {
            queue_.push_back(std::move(pending));
            tables_->add_queued(1);
            accepted = true;
        }
    }
    if (accepted) {
        queue_ready_.notify_one();
        return;
    }
    pending.result.status = AppendStatus::ShuttingDown;
    pending.result.message = "the store is shutting down";
    complete(pending);
}

void LmdbEventStore::run_committer() noexcept {
    for (;;) {
        std::vector<PendingAppend> batch;
        bool written = false;
        try {
            batch = take_batch();
            if (batch.empty()) {
                return;  // stopping, and everything queued has been committed
            }
            written = write_batch(batch);
        } catch (const std::exception& e) {
            // Only allocation failures can get here, always before the commit.
            fail_all(batch, AppendStatus::IoError, std::string("append failed: ") + e.what());
        }
        for (PendingAppend& pending : batch) {
            complete(pending);
        }
        if (written) {
            tables_->notify_listeners(tables_->head_position());
        }
    }
}

std::vector<LmdbEventStore::PendingAppend> LmdbEventStore::take_batch() {
    std::unique_lock lock(queue_mutex_);
    queue_ready_.wait(lock, [this] { return !queue_.empty() || stopping_; });
    std::vector<PendingAppend> batch;
    std::size_t events = 0;
    std::size_t bytes = 0;
    while (!queue_.empty()) {
        PendingAppend& next = queue_.front();
        if (!batch.empty() && (events + next.events > options_.max_batch_events ||
                               bytes + next.bytes > options_.max_batch_bytes)) {
            break;
        }
        events += next.events;
        bytes += next.bytes;
        batch.push_back(std::move(next));
        queue_.pop_front();
    }
    tables_->add_queued(-static_cast<std::int64_t>(batch.size()));
    return batch;
}

bool LmdbEventStore::write_batch(std::vector<PendingAppend>& batch) {
    if (broken_) {
        fail_all(batch, AppendStatus::IoError,
                 "the store hit a fatal LMDB error earlier and must be reopened");
        return false;
    }
    std::uint64_t incoming = 0;
    for (const PendingAppend& pending : batch) {
        incoming += estimated_map_bytes(pending.request);
    }
    std::string error;
    // Growing here, with no transaction open, is what keeps MDB_MAP_FULL rare (a growth
    // that fails here shows up as MDB_MAP_FULL below and is handled there).
    environment_->ensure_room(incoming, error);
    for (;;) {
        switch (try_write_batch(batch)) {
            case Outcome::Committed:
                return true;
            case Outcome::NothingWritten:
            case Outcome::Failed:
                return false;
            case Outcome::MapFull:
                break;
        }
        tables_->count_map_full_retry();
        const auto growth = environment_->grow_after_map_full(error);
        if (growth == LmdbEnvironment::Growth::Grown) {
            continue;
        }
        fail_all(batch, AppendStatus::StorageFull,
                 growth == LmdbEnvironment::Growth::AtMaximum
                     ? "storage full: the store reached its maximum size of " +
                           std::to_string(environment_->map_bytes()) + " bytes"
                     : "storage full: " + error);
        return false;
    }
}

LmdbEventStore::Outcome LmdbEventStore::try_write_batch(std::vector<PendingAppend>& batch) {
    for (PendingAppend& pending : batch) {
        pending.result = AppendResult{};
    }
    const Clock::time_point started = Clock::now();
    Transaction txn;
    if (int rc = environment_->begin_write(txn); rc != 0) {
        fail_with_code(batch, rc, "cannot begin a write transaction");
        return Outcome::Failed;
    }
    BatchWriter writer(txn.get(), environment_->databases(), tables_->committed());
    for (PendingAppend& pending : batch) {
        const int rc = writer.apply(pending.request, pending.result);
        if (rc == MDB_MAP_FULL) {
            return Outcome::MapFull;
        }
        if (rc != 0) {
            fail_with_code(batch, rc, "write failed");
            return Outcome::Failed;
        }
    }
    if (writer.events_written() == 0) {
        return Outcome::NothingWritten;  // all rejected or deduplicated: no commit needed
    }
    const int rc = txn.commit();
    if (rc == MDB_MAP_FULL) {
        return Outcome::MapFull;
    }
    if (rc != 0) {
        std::uint64_t incoming = 0;
        for (const PendingAppend& pending : batch) {
            incoming += estimated_map_bytes(pending.request);
        }
        if (rc == EIO && environment_->disk_space_below(incoming + kDiskHeadroomBytes)) {
            fail_all(batch, AppendStatus::StorageFull,
                     "storage full: the disk holding the store is full (commit failed: " +
                         lmdb_error(rc) + ")");
        } else {
            fail_with_code(batch, rc, "commit failed");
        }
        return Outcome::Failed;
    }
    tables_->record_commit(writer, Clock::now() - started);
    return Outcome::Committed;
}

void LmdbEventStore::fail_with_code(std::vector<PendingAppend>& batch, int rc,
                                    const std::string& what) {
    if (rc == MDB_PANIC) {
        broken_ = true;
    }
    // A failed commit never becomes visible (LMDB writes the meta page last), so every
    // request of the batch can be told that nothing was written.
    fail_all(batch, is_out_of_space(rc) ? AppendStatus::StorageFull : AppendStatus::IoError,
             (is_out_of_space(rc) ? "storage full: " : "") + what + ": " + lmdb_error(rc));
}

void LmdbEventStore::fail_all(std::vector<PendingAppend>& batch, AppendStatus status,
                              const std::string& message) {
    for (PendingAppend& pending : batch) {
        pending.result = AppendResult{};
        pending.result.status = status;
        pending.result.message = message;
    }
}

void LmdbEventStore::complete(PendingAppend& pending) noexcept {
    tables_->record_result(pending.result, pending.enqueued);
    if (!pending.done) {
        return;
    }
    try {
        pending.done(std::move(pending.result));
    } catch (...) {
        // A completion must not throw; if one does, the committer must survive it.
    }
}

ReadResult LmdbEventStore::read_stream(const std::string& stream, std::uint64_t from_version,
                                       Direction direction, std::size_t limit) const {
    return tables_->read_stream(stream, from_version, direction, limit);
}

ReadResult LmdbEventStore::read_all(std::uint64_t from_position, Direction direction,
                                    std::size_t limit) const {
    return tables_->read_all(from_position, direction, limit);
}

ReadResult LmdbEventStore::read_time_range(std::int64_t from_us, std::int64_t to_us,
                                           std::size_t limit) const {
    return tables_->read_time_range(from_us, to_us, limit);
}

ReadResult LmdbEventStore::read_time_range_after(std::int64_t after_us,
                                                 std::uint64_t after_position, std::int64_t to_us,
                                                 std::size_t limit) const {
    return tables_->read_time_range_after(after_us, after_position, to_us, limit);
}

std::optional<std::uint64_t> LmdbEventStore::stream_version(const std::string& stream) const {
    return tables_->stream_version(stream);
}

std::uint64_t LmdbEventStore::head_position() const {
    return tables_->head_position();
}

StoreStats LmdbEventStore::stats() const {
    return tables_->stats();
}

std::uint64_t LmdbEventStore::add_commit_listener(CommitListener listener) {
    return tables_->add_commit_listener(std::move(listener));
}

void LmdbEventStore::remove_commit_listener(std::uint64_t token) {
    tables_->remove_commit_listener(token);
}

void LmdbEventStore::close() {
    std::lock_guard close_lock(close_mutex_);
    {
        std::lock_guard lock(queue_mutex_);
        stopping_ = true;
    }
    queue_ready_.notify_all();
    // From a completion or listener (on the committer itself) joining would deadlock: the
    // committer drains the queue and exits on its own, the destructor joins it.
    if (committer_.joinable() && committer_.get_id() != std::this_thread::get_id()) {
        committer_.join();
    }
}

}  // namespace annal::storage
