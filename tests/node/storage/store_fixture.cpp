#include "store_fixture.hpp"

#include <doctest/doctest.h>
#include <stdlib.h>

#include <atomic>
#include <cstdio>
#include <random>

namespace annal::storage::test {

TempDir::TempDir() {
    std::string pattern =
        (std::filesystem::temp_directory_path() / "annal-storage-test-XXXXXX").string();
    REQUIRE(::mkdtemp(pattern.data()) != nullptr);
    path_ = pattern;
}

TempDir::~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
}

StoreOptions test_options(const std::string& directory) {
    StoreOptions options;
    options.directory = directory;
    options.durable = false;  // tests that need fsync turn it on
    options.initial_map_bytes = 8ull << 20;
    options.max_map_bytes = 1ull << 30;
    return options;
}

std::unique_ptr<EventStore> open_store(const StoreOptions& options) {
    std::string error;
    std::unique_ptr<EventStore> store = EventStore::open(options, error);
    INFO("open error: " << error);
    REQUIRE(store != nullptr);
    return store;
}

std::string new_id() {
    static std::mutex mutex;
    static std::mt19937_64 random{std::random_device{}()};
    std::uint64_t high = 0;
    std::uint64_t low = 0;
    {
        std::lock_guard lock(mutex);
        high = random();
        low = random();
    }
    char text[37];
    std::snprintf(text, sizeof text, "%08x-%04x-%04x-%04x-%012llx",
                  static_cast<unsigned>(high >> 32), static_cast<unsigned>((high >> 16) & 0xFFFF),
                  static_cast<unsigned>(high & 0xFFFF), static_cast<unsigned>(low >> 48),
                  static_cast<unsigned long long>(low & 0xFFFFFFFFFFFFull));
    return text;
}

ProposedEvent make_event(std::string type, std::int64_t timestamp_us, std::string data) {
    ProposedEvent event;
    event.id = new_id();
    event.type = std::move(type);
    event.timestamp_us = timestamp_us;
    event.data = std::move(data);
    return event;
}

AppendRequest make_request(std::string stream, ExpectedVersion expected, std::size_t count,
                           std::int64_t timestamp_us) {
    AppendRequest request;
    request.stream = std::move(stream);
    request.expected = expected;
    for (std::size_t i = 0; i < count; ++i) {
        request.events.push_back(make_event("TestEvent", timestamp_us));
    }
    return request;
}

AppendResult append_sync(EventStore& store, AppendRequest request) {
    AsyncAppends appends(1);
    appends.append(store, 0, std::move(request));
    appends.wait_all();
    return appends.results()[0];
}

void AsyncAppends::append(EventStore& store, std::size_t index, AppendRequest request) {
    store.append(std::move(request), [this, index](AppendResult result) {
        std::lock_guard lock(mutex_);
        results_[index] = std::move(result);
        ++completed_;
        done_.notify_all();
    });
}

void AsyncAppends::wait_all() {
    std::unique_lock lock(mutex_);
    done_.wait(lock, [this] { return completed_ == results_.size(); });
}

CommitterHold::CommitterHold(EventStore& store) : store_(store) {
    token_ = store_.add_commit_listener([this](std::uint64_t) {
        std::unique_lock lock(mutex_);
        if (!armed_) {
            return;
        }
        armed_ = false;
        held_ = true;
        changed_.notify_all();
        changed_.wait(lock, [this] { return released_; });
    });
}

CommitterHold::~CommitterHold() {
    release();
    store_.remove_commit_listener(token_);
}

void CommitterHold::engage(const std::string& stream) {
    store_.append(make_request(stream, ExpectedVersion::any(), 1), [](AppendResult) {});
    std::unique_lock lock(mutex_);
    changed_.wait(lock, [this] { return held_; });
}

void CommitterHold::release() {
    std::lock_guard lock(mutex_);
    released_ = true;
    changed_.notify_all();
}

}  // namespace annal::storage::test
