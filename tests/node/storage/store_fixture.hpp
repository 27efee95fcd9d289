// Helpers shared by the storage tests: temporary directories, synchronous appends,
// event builders, and a way to hold the committer so requests queue up deterministically.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "storage/event_store.hpp"

namespace annal::storage::test {

class TempDir {
  public:
    TempDir();
    ~TempDir();
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;
    const std::filesystem::path& path() const { return path_; }
    std::string str() const { return path_.string(); }

  private:
    std::filesystem::path path_;
};

StoreOptions test_options(const std::string& directory);
std::unique_ptr<EventStore> open_store(const StoreOptions& options);

// A fresh random UUID (canonical lower-case text).
std::string new_id();

ProposedEvent make_event(std::string type = "TestEvent", std::int64_t timestamp_us = 1000,
                         std::string data = "{}");
AppendRequest make_request(std::string stream, ExpectedVersion expected, std::size_t count,
                           std::int64_t timestamp_us = 1000);

AppendResult append_sync(EventStore& store, AppendRequest request);

// Appends asynchronously; results land in `results[index]`, `wait_all()` waits for them.
class AsyncAppends {
  public:
    explicit AsyncAppends(std::size_t count) : results_(count) {}
    void append(EventStore& store, std::size_t index, AppendRequest request);
    void wait_all();
    const std::vector<AppendResult>& results() const { return results_; }

  private:
    std::mutex mutex_;
    std::condition_variable done_;
    std::vector<AppendResult> results_;
    std::size_t completed_ = 0;
};

// Holds the committer thread inside a commit listener (after its first commit) until
// released, so appends made meanwhile queue up and are committed together.
class CommitterHold {
  public:
    explicit CommitterHold(EventStore& store);
    ~CommitterHold();
    // Appends one event to `stream` and returns once the committer is held.
    void engage(const std::string& stream = "hold");
    void release();

  private:
    EventStore& store_;
    std::uint64_t token_ = 0;
    std::mutex mutex_;
    std::condition_variable changed_;
    bool armed_ = true;
    bool held_ = false;
    bool released_ = false;
};

}  // namespace annal::storage::test
