// The Raft log's writer thread: persists the Readys the replication loop hands it, in order,
// so the loop never waits for an fdatasync. Whatever queued while one batch was being
// written goes into the next one (RaftWal::persist of several Readys: one fdatasync), and
// each batch is reported durable through `on_durable` with the number of its last Ready.
//
// Why: with the loop blocked on its own log write, a leader neither proposes, nor sends,
// nor counts an acknowledgement for the whole write; every input waits for it. With the
// write on this thread, the leader sends a batch to the followers and takes the next one
// while its own copy is being written, and counts the followers' acknowledgements as they
// arrive (the core allows several unadvanced Readys: node/raft/README.md). The loop
// advances the core only on the report, so nothing is counted before it is durable.
//
// The batch's `messages_after_persist` (a follower's acknowledgements, votes) are sent from
// here, right after the fdatasync and before the report: the contract only asks that they
// leave once their Ready and every earlier one are durable, and a follower's
// acknowledgement then does not wait for its loop to come round (a loop busy committing
// applied entries to the tables would hold it back).
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>

#include "raft/ready.hpp"
#include "replication/loop_timings.hpp"
#include "replication/peer_sender.hpp"
#include "replication/raft_wal.hpp"

namespace annal::replication {

class LogWriter {
  public:
    // Runs on the writer thread after each batch (must not block or throw): the number of
    // the batch's last Ready, and how the write went. After a failure nothing more is
    // written (the replica must fail-stop: see raft_wal.hpp).
    using DurableCallback = std::function<void(std::uint64_t through, const PersistResult&)>;

    LogWriter(RaftWal& log, raft::GroupId group, PeerSender& sender, LoopTimings& timings,
              DurableCallback on_durable);
    ~LogWriter() { stop(); }
    LogWriter(const LogWriter&) = delete;
    LogWriter& operator=(const LogWriter&) = delete;

    // Queues a Ready (must_persist()) behind those submitted before. Until it is reported
    // durable the caller must not change it; this thread takes its messages_after_persist.
    void submit(std::shared_ptr<raft::Ready> ready);
    // Finishes the batch being written, drops what is queued, joins. Idempotent.
    void stop();

  private:
    void run() noexcept;

    RaftWal& log_;
    const raft::GroupId group_;
    PeerSender& sender_;
    LoopTimings& timings_;
    DurableCallback on_durable_;
    std::mutex mutex_;
    std::condition_variable queued_;
    std::deque<std::shared_ptr<raft::Ready>> queue_;
    bool stopping_ = false;
    bool failed_ = false;  // writer thread only
    std::thread thread_;
};

}  // namespace annal::replication
