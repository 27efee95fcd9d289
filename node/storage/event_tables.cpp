#include "storage/event_tables.hpp"

namespace annal::storage {
namespace {

std::uint64_t microseconds(std::chrono::steady_clock::duration elapsed) {
    const auto us = std::chrono::duration_cast<std::chrono::microseconds>(elapsed).count();
    return us < 0 ? 0 : static_cast<std::uint64_t>(us);
}

}  // namespace

std::unique_ptr<EventTables> EventTables::open(LmdbEnvironment& environment, bool durable,
                                               std::string& error) {
    CommittedState committed;
    ReadTransaction txn(environment);
    int rc = txn.status();
    if (rc == 0) {
        rc = load_committed_state(txn.get(), environment.databases(), committed);
    }
    if (rc != 0) {
        error = "cannot read the store's head: " + lmdb_error(rc);
        return nullptr;
    }
    return std::make_unique<EventTables>(environment, std::move(committed), durable);
}

EventTables::EventTables(LmdbEnvironment& environment, CommittedState committed, bool durable)
    : environment_(environment),
      reader_(environment),
      durable_(durable),
      committed_(std::move(committed)),
      head_position_(committed_.head_position) {}

ReadResult EventTables::read_stream(const std::string& stream, std::uint64_t from_version,
                                    Direction direction, std::size_t limit) const {
    return reader_.read_stream(stream, from_version, direction, limit);
}

ReadResult EventTables::read_all(std::uint64_t from_position, Direction direction,
                                 std::size_t limit) const {
    return reader_.read_all(from_position, direction, limit);
}

ReadResult EventTables::read_time_range(std::int64_t from_us, std::int64_t to_us,
                                        std::size_t limit) const {
    return reader_.read_time(from_us, 0, false, to_us, limit);
}

ReadResult EventTables::read_time_range_after(std::int64_t after_us, std::uint64_t after_position,
                                              std::int64_t to_us, std::size_t limit) const {
    return reader_.read_time(after_us, after_position, true, to_us, limit);
}

std::optional<std::uint64_t> EventTables::stream_version(const std::string& stream) const {
    return reader_.stream_version(stream);
}

void EventTables::record_commit(const BatchWriter& writer, Clock::duration commit_time) {
    // Counted before the head is published (release): whoever sees the new head sees
    // its events counted.
    if (writer.events_written() > 0) {
        events_.fetch_add(writer.events_written(), std::memory_order_relaxed);
        bytes_.fetch_add(writer.payload_bytes_written(), std::memory_order_relaxed);
        commits_.fetch_add(1, std::memory_order_relaxed);
        batch_events_.record(writer.events_written());
        commit_latency_us_.record(microseconds(commit_time));
    }
    committed_ = writer.state();
    head_position_.store(committed_.head_position, std::memory_order_release);
    environment_.refresh_used_bytes();
}

void EventTables::record_installed(std::uint64_t events, std::uint64_t payload_bytes) {
    events_.fetch_add(events, std::memory_order_relaxed);
    bytes_.fetch_add(payload_bytes, std::memory_order_relaxed);
}

void EventTables::record_result(const AppendResult& result, Clock::time_point enqueued) {
    append_latency_us_.record(microseconds(Clock::now() - enqueued));
    switch (result.status) {
        case AppendStatus::Ok:
            appends_.fetch_add(1, std::memory_order_relaxed);
            if (result.deduplicated) {
                deduplicated_.fetch_add(1, std::memory_order_relaxed);
            }
            return;
        case AppendStatus::WrongExpectedVersion:
            wrong_expected_version_.fetch_add(1, std::memory_order_relaxed);
            return;
        case AppendStatus::InvalidRequest:
            invalid_requests_.fetch_add(1, std::memory_order_relaxed);
            return;
        case AppendStatus::StorageFull:
            storage_full_.fetch_add(1, std::memory_order_relaxed);
            return;
        case AppendStatus::IoError:
            io_errors_.fetch_add(1, std::memory_order_relaxed);
            return;
        case AppendStatus::ShuttingDown:
            shutting_down_.fetch_add(1, std::memory_order_relaxed);
            return;
        case AppendStatus::NotLeader:
        case AppendStatus::NotCommitted:
            return;  // nothing happened to the tables: the client retries at the leader
    }
}

void EventTables::notify_listeners(std::uint64_t head) noexcept {
    std::lock_guard lock(listeners_mutex_);
    for (auto& [token, listener] : listeners_) {
        try {
            listener(head);
        } catch (...) {
            // Never let a listener take the writer thread down.
        }
    }
}

std::uint64_t EventTables::add_commit_listener(EventStore::CommitListener listener) {
    std::lock_guard lock(listeners_mutex_);
    const std::uint64_t token = next_listener_token_++;
    listeners_.emplace_back(token, std::move(listener));
    return token;
}

void EventTables::remove_commit_listener(std::uint64_t token) {
    // Holding the mutex the writer notifies under: once this returns, the listener is
    // not running and will not be called again.
    std::lock_guard lock(listeners_mutex_);
    std::erase_if(listeners_, [token](const auto& entry) { return entry.first == token; });
}

StoreStats EventTables::stats() const {
    StoreStats stats;
    stats.appends = appends_.load(std::memory_order_relaxed);
    stats.events = events_.load(std::memory_order_relaxed);
    stats.bytes = bytes_.load(std::memory_order_relaxed);
    stats.commits = commits_.load(std::memory_order_relaxed);
    stats.head_position = head_position();
    stats.map_bytes = environment_.map_bytes();
    stats.map_used_bytes = environment_.used_bytes();
    stats.map_grows = environment_.map_grows();  // every resize of the shared map
    stats.map_full_retries = map_full_retries_.load(std::memory_order_relaxed);
    stats.deduplicated = deduplicated_.load(std::memory_order_relaxed);
    stats.wrong_expected_version = wrong_expected_version_.load(std::memory_order_relaxed);
    stats.invalid_requests = invalid_requests_.load(std::memory_order_relaxed);
    stats.storage_full = storage_full_.load(std::memory_order_relaxed);
    stats.io_errors = io_errors_.load(std::memory_order_relaxed);
    stats.shutting_down = shutting_down_.load(std::memory_order_relaxed);
    stats.queued_requests = queued_.load(std::memory_order_relaxed);
    stats.durable = durable_;
    stats.batch_events = batch_events_.snapshot();
    stats.commit_latency_us = commit_latency_us_.snapshot();
    stats.append_latency_us = append_latency_us_.snapshot();
    return stats;
}

}  // namespace annal::storage
