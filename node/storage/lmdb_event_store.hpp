// EventStore on LMDB: the append queue and the committer thread (group commit).
// Validation and writing of a batch live in BatchWriter; reads, commit listeners and
// statistics in EventTables; the environment and map policy in LmdbEnvironment.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "storage/batch_writer.hpp"
#include "storage/event_store.hpp"
#include "storage/event_tables.hpp"
#include "storage/lmdb_environment.hpp"

namespace annal::storage {

class LmdbEventStore final : public EventStore {
  public:
    // Use EventStore::open().
    LmdbEventStore(StoreOptions options, std::unique_ptr<LmdbEnvironment> environment,
                   std::unique_ptr<EventTables> tables);
    ~LmdbEventStore() override;
    LmdbEventStore(const LmdbEventStore&) = delete;
    LmdbEventStore& operator=(const LmdbEventStore&) = delete;

    void append(AppendRequest request, AppendCallback done) override;
    ReadResult read_stream(const std::string& stream, std::uint64_t from_version,
                           Direction direction, std::size_t limit) const override;
    ReadResult read_all(std::uint64_t from_position, Direction direction,
                        std::size_t limit) const override;
    ReadResult read_time_range(std::int64_t from_us, std::int64_t to_us,
                               std::size_t limit) const override;
    ReadResult read_time_range_after(std::int64_t after_us, std::uint64_t after_position,
                                     std::int64_t to_us, std::size_t limit) const override;
    std::optional<std::uint64_t> stream_version(const std::string& stream) const override;
    std::uint64_t head_position() const override;
    StoreStats stats() const override;
    std::uint64_t add_commit_listener(CommitListener listener) override;
    void remove_commit_listener(std::uint64_t token) override;
    void close() override;

  private:
    using Clock = std::chrono::steady_clock;
    struct PendingAppend {
        AppendRequest request;
        AppendCallback done;
        Clock::time_point enqueued;
        std::size_t events = 0;
        std::size_t bytes = 0;
        AppendResult result;
    };

    enum class Outcome : std::uint8_t { Committed, NothingWritten, MapFull, Failed };

    void run_committer() noexcept;
    std::vector<PendingAppend> take_batch();
    bool write_batch(std::vector<PendingAppend>& batch);  // true: events were committed
    Outcome try_write_batch(std::vector<PendingAppend>& batch);
    void fail_with_code(std::vector<PendingAppend>& batch, int rc, const std::string& what);
    void fail_all(std::vector<PendingAppend>& batch, AppendStatus status,
                  const std::string& message);
    void complete(PendingAppend& pending) noexcept;

    const StoreOptions options_;
    std::unique_ptr<LmdbEnvironment> environment_;
    std::unique_ptr<EventTables> tables_;
    bool broken_ = false;  // committer thread only: LMDB panicked, appends fail

    std::mutex queue_mutex_;
    std::condition_variable queue_ready_;
    std::deque<PendingAppend> queue_;
    bool stopping_ = false;
    std::mutex close_mutex_;
    std::thread committer_;
};

}  // namespace annal::storage
