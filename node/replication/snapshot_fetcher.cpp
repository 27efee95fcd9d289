#include "replication/snapshot_fetcher.hpp"

#include <pthread.h>

#include <algorithm>
#include <cstdio>
#include <exception>

namespace annal::replication {

SnapshotFetcher::SnapshotFetcher(SnapshotSource& source, StageChunk stage,
                                 SnapshotFetcherOptions options)
    : source_(source), stage_(std::move(stage)), options_(options) {}

SnapshotFetcher::~SnapshotFetcher() {
    stop();
}

void SnapshotFetcher::fetch(const SnapshotDescriptor& target, std::string address,
                            std::uint64_t after) {
    std::lock_guard lock(mutex_);
    if (stopping_) {
        return;
    }
    if (job_ && job_->target.same_point(target)) {
        if (!address.empty()) {
            job_->address = std::move(address);
        }
        return;
    }
    job_ = Job{target, std::move(address), after, ++generation_, after >= target.head_position};
    if (!thread_.joinable()) {
        thread_ = std::thread([this] {
            pthread_setname_np(pthread_self(), "annal-snapfetch");
            run();
        });
    }
    changed_.notify_all();
}

bool SnapshotFetcher::has_job_for(const SnapshotDescriptor& target) const {
    std::lock_guard lock(mutex_);
    return job_ && job_->target.same_point(target);
}

bool SnapshotFetcher::complete(const SnapshotDescriptor& target) const {
    std::lock_guard lock(mutex_);
    return job_ && job_->target.same_point(target) && job_->complete;
}

void SnapshotFetcher::cancel() {
    std::lock_guard stage_lock(stage_mutex_);
    std::lock_guard lock(mutex_);
    job_.reset();
    ++generation_;
    changed_.notify_all();
}

void SnapshotFetcher::stop() {
    {
        std::lock_guard lock(mutex_);
        stopping_ = true;
        job_.reset();
        ++generation_;
    }
    changed_.notify_all();
    source_.stop();  // a fetch in flight would otherwise hold the join for its timeout
    if (thread_.joinable() && thread_.get_id() != std::this_thread::get_id()) {
        thread_.join();
    }
}

std::string SnapshotFetcher::step(const Job& job, std::uint64_t& staged_through,
                                  std::uint64_t& bytes) {
    const FetchResult fetched =
        source_.fetch(job.address, job.after, job.target.head_position, options_.chunk_bytes);
    if (!fetched.ok) {
        return fetched.error.empty() ? std::string("the fetch failed") : fetched.error;
    }
    std::vector<storage::RawRecordView> records;
    if (!storage::decode_raw_records(fetched.body, records)) {
        return "the peer sent a malformed chunk";
    }
    if (records.empty() || records.back().position <= job.after) {
        return "the peer has no events after position " + std::to_string(job.after);
    }
    std::lock_guard stage_lock(stage_mutex_);
    {
        std::lock_guard lock(mutex_);
        if (stopping_ || generation_ != job.generation) {
            return {};  // cancelled meanwhile: not staged, not an error
        }
    }
    std::string error = stage_(job.target, records, staged_through);
    if (error.empty()) {
        bytes = fetched.body.size();
    }
    return error;
}

void SnapshotFetcher::run() {
    std::chrono::milliseconds backoff = options_.min_backoff;
    std::unique_lock lock(mutex_);
    while (!stopping_) {
        if (!job_ || job_->complete) {
            changed_.wait(lock);
            continue;
        }
        const Job job = *job_;
        lock.unlock();
        std::uint64_t staged_through = job.after;
        std::uint64_t bytes = 0;
        std::string error;
        try {
            error = step(job, staged_through, bytes);
        } catch (const std::exception& e) {
            error = e.what();  // nothing may escape the thread
        }
        lock.lock();
        if (stopping_ || !job_ || job_->generation != job.generation) {
            continue;
        }
        if (!error.empty()) {
            retries_.fetch_add(1, std::memory_order_relaxed);
            std::fprintf(stderr,
                         "annal: snapshot fetch of events (%llu, %llu] from %s: %s; retrying in "
                         "%lld ms\n",
                         static_cast<unsigned long long>(job.after),
                         static_cast<unsigned long long>(job.target.head_position),
                         job.address.c_str(), error.c_str(),
                         static_cast<long long>(backoff.count()));
            const std::uint64_t generation = job.generation;
            changed_.wait_for(lock, backoff,
                              [&] { return stopping_ || generation_ != generation; });
            backoff = std::min(backoff * 2, options_.max_backoff);
            continue;
        }
        if (bytes > 0) {
            backoff = options_.min_backoff;
            chunks_.fetch_add(1, std::memory_order_relaxed);
            bytes_.fetch_add(bytes, std::memory_order_relaxed);
            job_->after = std::max(job_->after, staged_through);
            job_->complete = job_->after >= job_->target.head_position;
        }
    }
}

}  // namespace annal::replication
