// Fetches the events a snapshot stands for from a peer, chunk by chunk, on its own thread,
// and hands each chunk to `stage` (which writes it durably to the staging table). The
// replication loop only starts, queries and cancels jobs: it never waits on the network.
//
// A failed or empty fetch (peer down, connection broken, peer behind) is retried from the
// last staged position after a backoff that doubles up to max_backoff. Staging is durable,
// so after a restart the loop starts a new job from where the staging ends.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "replication/snapshot_descriptor.hpp"
#include "replication/snapshot_source.hpp"
#include "storage/raw_records.hpp"

namespace annal::replication {

struct SnapshotFetcherOptions {
    std::size_t chunk_bytes = 1 << 20;
    std::chrono::milliseconds min_backoff{50};
    std::chrono::milliseconds max_backoff{2000};
};

class SnapshotFetcher {
  public:
    // Writes one chunk for `target`; returns "" or why it could not, and sets
    // `staged_through` to the last staged position. Runs on the fetcher thread.
    using StageChunk = std::function<std::string(const SnapshotDescriptor& target,
                                                 const std::vector<storage::RawRecordView>& records,
                                                 std::uint64_t& staged_through)>;

    SnapshotFetcher(SnapshotSource& source, StageChunk stage, SnapshotFetcherOptions options);
    ~SnapshotFetcher();
    SnapshotFetcher(const SnapshotFetcher&) = delete;
    SnapshotFetcher& operator=(const SnapshotFetcher&) = delete;

    // Fetch (after, target.head_position] from `address`. A job for the same point keeps
    // its progress (and takes the new address); one for another point replaces it.
    void fetch(const SnapshotDescriptor& target, std::string address, std::uint64_t after);
    bool has_job_for(const SnapshotDescriptor& target) const;
    bool complete(const SnapshotDescriptor& target) const;
    // Drops the current job; once this returns no chunk of it will be staged.
    void cancel();
    void stop();

    std::uint64_t chunks() const { return chunks_.load(std::memory_order_relaxed); }
    std::uint64_t bytes() const { return bytes_.load(std::memory_order_relaxed); }
    std::uint64_t retries() const { return retries_.load(std::memory_order_relaxed); }

  private:
    struct Job {
        SnapshotDescriptor target;
        std::string address;
        std::uint64_t after = 0;
        std::uint64_t generation = 0;
        bool complete = false;
    };

    void run();
    // One fetch + stage; "" on progress.
    std::string step(const Job& job, std::uint64_t& staged_through, std::uint64_t& bytes);

    SnapshotSource& source_;
    StageChunk stage_;
    SnapshotFetcherOptions options_;

    std::mutex stage_mutex_;  // held while a chunk is staged; taken before mutex_
    mutable std::mutex mutex_;
    std::condition_variable changed_;
    std::optional<Job> job_;
    std::uint64_t generation_ = 0;
    bool stopping_ = false;
    std::thread thread_;

    std::atomic<std::uint64_t> chunks_{0};
    std::atomic<std::uint64_t> bytes_{0};
    std::atomic<std::uint64_t> retries_{0};
};

}  // namespace annal::replication
