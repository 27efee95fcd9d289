#include "replication/log_writer.hpp"

#include <pthread.h>

#include <chrono>
#include <utility>
#include <vector>

namespace annal::replication {

LogWriter::LogWriter(RaftWal& log, raft::GroupId group, PeerSender& sender, LoopTimings& timings,
                     DurableCallback on_durable)
    : log_(log),
      group_(group),
      sender_(sender),
      timings_(timings),
      on_durable_(std::move(on_durable)) {
    thread_ = std::thread([this] {
        pthread_setname_np(pthread_self(), "annal-raftlog");
        run();
    });
}

void LogWriter::submit(std::shared_ptr<raft::Ready> ready) {
    {
        std::lock_guard lock(mutex_);
        queue_.push_back(std::move(ready));
    }
    queued_.notify_one();
}

void LogWriter::stop() {
    {
        std::lock_guard lock(mutex_);
        stopping_ = true;
    }
    queued_.notify_one();
    if (thread_.joinable()) {
        thread_.join();
    }
}

void LogWriter::run() noexcept {
    std::vector<std::shared_ptr<raft::Ready>> batch;
    std::vector<GroupReady> readys;
    for (;;) {
        batch.clear();
        {
            std::unique_lock lock(mutex_);
            queued_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
            if (stopping_) {
                return;
            }
            batch.assign(std::make_move_iterator(queue_.begin()),
                         std::make_move_iterator(queue_.end()));
            queue_.clear();
        }
        if (failed_) {
            continue;  // the loop is failing the replica; nothing may be written after a failure
        }
        readys.clear();
        for (const auto& ready : batch) {
            readys.push_back({group_, ready.get()});
        }
        const auto started = std::chrono::steady_clock::now();
        const PersistResult result = log_.persist(readys);
        const auto elapsed = std::chrono::duration_cast<std::chrono::microseconds>(
                                 std::chrono::steady_clock::now() - started)
                                 .count();
        timings_.persist_us.record(static_cast<std::uint64_t>(elapsed > 0 ? elapsed : 0));
        failed_ = !result.ok();
        if (!failed_) {
            for (const auto& ready : batch) {
                if (!ready->messages_after_persist.empty()) {
                    sender_.send(std::exchange(ready->messages_after_persist, {}));
                }
            }
        }
        on_durable_(batch.back()->number, result);
    }
}

}  // namespace annal::replication
