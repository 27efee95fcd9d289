// The next segment of the Raft write-ahead log, prepared ahead of time on a thread of its
// own: zero-filling (and syncing) a whole segment takes far longer than the persist that
// fills the current one, and the Raft loop must not stall for it. The spare is the file
// wal_spare_name() in the log's directory; a rollover takes it and renames it into place.
//
// One spare at a time: request() starts preparing it, take() hands it over (waiting if it
// is still being filled -- the fill is already under way, so waiting costs at most what is
// left of it, where filling a second file at once would only compete for the same disk).
// The fill is written in chunks, each pushed to the disk before the next is written, and
// paced, so that the log's own fdatasyncs never queue behind a backlog of zeros; pacing
// stops as soon as a rollover waits for the spare.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>

namespace annal::replication {

class WalSegmentPreparer {
  public:
    // Prepares spares of `capacity` zero bytes in `directory`: written and synced when
    // `durable`, sparse when not (nothing is synced then).
    WalSegmentPreparer(std::string directory, std::uint64_t capacity, bool durable);
    // Stops the thread, abandoning a fill in progress (the next open deletes the spare).
    ~WalSegmentPreparer();
    WalSegmentPreparer(const WalSegmentPreparer&) = delete;
    WalSegmentPreparer& operator=(const WalSegmentPreparer&) = delete;

    // Starts preparing a spare unless one is ready or being prepared.
    void request();

    struct Taken {
        bool ok = false;
        bool waited = false;          // the spare was still being prepared
        std::uint64_t waited_us = 0;  // for how long
        std::string error;            // when !ok: why there is no spare
    };
    // Waits for the requested spare and hands it over: ok means spare_path() now holds a
    // zero-filled, synced segment for the caller to rename away. Either way nothing is
    // prepared again until the next request().
    Taken take();

    const std::string& spare_path() const { return spare_path_; }
    std::uint64_t spares_prepared() const;

  private:
    enum class State : std::uint8_t { Idle, Requested, Preparing, Ready, Failed };

    void run() noexcept;
    bool prepare(std::string& error);
    // Sleeps for `length`, or less if the log closes or a rollover waits for the spare.
    void pause(std::chrono::steady_clock::duration length);

    const std::string spare_path_;
    const std::uint64_t capacity_;
    const bool durable_;
    std::atomic<bool> stopping_{false};  // also read by a fill in progress, without mutex_
    mutable std::mutex mutex_;
    std::condition_variable changed_;
    State state_ = State::Idle;
    bool urgent_ = false;  // a rollover is waiting for the spare being prepared
    std::string error_;
    std::uint64_t prepared_ = 0;
    std::thread thread_;  // last: starts after every member it uses is initialized
};

}  // namespace annal::replication
