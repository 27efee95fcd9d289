// The event store's tables without a writer thread of their own: reads, the committed
// state the next write continues from, commit listeners and statistics. LmdbEventStore
// drives them from its committer thread; the replicated store (node/replication) drives
// them from its replication loop, applying committed Raft entries with a BatchWriter in
// the same write transaction that persists the log.
//
// Threading: reads, stats() and the listener registry are safe from any thread. The
// writer side (committed(), record_commit(), notify_listeners() and the count_* calls)
// belongs to one writer thread at a time.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "storage/batch_writer.hpp"
#include "storage/event_store.hpp"
#include "storage/histogram.hpp"
#include "storage/lmdb_environment.hpp"
#include "storage/store_reader.hpp"

namespace annal::storage {

class EventTables {
  public:
    using Clock = std::chrono::steady_clock;

    // Loads the committed state from `environment` (which must outlive the tables).
    static std::unique_ptr<EventTables> open(LmdbEnvironment& environment, bool durable,
                                             std::string& error);
    EventTables(LmdbEnvironment& environment, CommittedState committed, bool durable);
    EventTables(const EventTables&) = delete;
    EventTables& operator=(const EventTables&) = delete;

    // --- reads (any thread) ---
    ReadResult read_stream(const std::string& stream, std::uint64_t from_version,
                           Direction direction, std::size_t limit) const;
    ReadResult read_all(std::uint64_t from_position, Direction direction, std::size_t limit) const;
    ReadResult read_time_range(std::int64_t from_us, std::int64_t to_us, std::size_t limit) const;
    ReadResult read_time_range_after(std::int64_t after_us, std::uint64_t after_position,
                                     std::int64_t to_us, std::size_t limit) const;
    std::optional<std::uint64_t> stream_version(const std::string& stream) const;
    std::uint64_t head_position() const { return head_position_.load(std::memory_order_acquire); }
    StoreStats stats() const;

    std::uint64_t add_commit_listener(EventStore::CommitListener listener);
    void remove_commit_listener(std::uint64_t token);

    // --- writer side (one writer thread) ---
    LmdbEnvironment& environment() const { return environment_; }
    const CommittedState& committed() const { return committed_; }
    // After a successful durable commit that contained `writer`'s work.
    void record_commit(const BatchWriter& writer, Clock::duration commit_time);
    // After a durable commit that installed `events` copied from another replica (a
    // snapshot): they count as written like applied ones. Call before record_commit of
    // the same transaction, so stats never show the new head with the events uncounted.
    void record_installed(std::uint64_t events, std::uint64_t payload_bytes);
    // Counts one completed append (its status) and its latency since it was taken.
    void record_result(const AppendResult& result, Clock::time_point enqueued);
    void notify_listeners(std::uint64_t head) noexcept;
    void count_map_full_retry() { map_full_retries_.fetch_add(1, std::memory_order_relaxed); }
    void add_queued(std::int64_t delta) {
        queued_.fetch_add(static_cast<std::uint64_t>(delta), std::memory_order_relaxed);
    }

  private:
    LmdbEnvironment& environment_;
    StoreReader reader_;
    const bool durable_;
    CommittedState committed_;  // writer thread only
    std::atomic<std::uint64_t> head_position_;

    std::mutex listeners_mutex_;
    std::vector<std::pair<std::uint64_t, EventStore::CommitListener>> listeners_;
    std::uint64_t next_listener_token_ = 1;

    std::atomic<std::uint64_t> appends_{0};
    std::atomic<std::uint64_t> events_{0};
    std::atomic<std::uint64_t> bytes_{0};
    std::atomic<std::uint64_t> commits_{0};
    std::atomic<std::uint64_t> map_full_retries_{0};
    std::atomic<std::uint64_t> deduplicated_{0};
    std::atomic<std::uint64_t> wrong_expected_version_{0};
    std::atomic<std::uint64_t> invalid_requests_{0};
    std::atomic<std::uint64_t> storage_full_{0};
    std::atomic<std::uint64_t> io_errors_{0};
    std::atomic<std::uint64_t> shutting_down_{0};
    std::atomic<std::uint64_t> queued_{0};
    AtomicHistogram batch_events_;
    AtomicHistogram commit_latency_us_;
    AtomicHistogram append_latency_us_;
};

}  // namespace annal::storage
