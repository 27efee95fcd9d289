// annal_storage_bench: appends/s and latency percentiles of EventStore::append with N
// threads each appending synchronously (one request in flight per thread), straight
// against the store (no HTTP). Usage:
//   annal_storage_bench [--dir D] [--threads N] [--events-per-append K] [--event-bytes B]
//                       [--seconds S] [--no-fsync] [--streams K] [--ordered-ids]
#include <unistd.h>
#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "storage/event_store.hpp"

namespace {

using annal::storage::AppendRequest;
using annal::storage::AppendResult;
using annal::storage::AppendStatus;
using annal::storage::EventStore;
using annal::storage::ProposedEvent;
using Clock = std::chrono::steady_clock;

struct Options {
    std::string directory;
    int threads = 64;
    int events_per_append = 1;
    std::size_t event_bytes = 256;
    double seconds = 5.0;
    bool durable = true;
    int streams = 0;           // 0: one stream per thread; K: thread t appends to stream t % K
    bool ordered_ids = false;  // ids from one global counter (like time-ordered v7 ids)
};

bool parse(int argc, char** argv, Options& options) {
    for (int i = 1; i < argc; ++i) {
        const std::string arg = argv[i];
        auto value = [&]() -> const char* { return i + 1 < argc ? argv[++i] : nullptr; };
        const char* v = nullptr;
        if (arg == "--no-fsync") {
            options.durable = false;
            continue;
        }
        if (arg == "--ordered-ids") {
            options.ordered_ids = true;
            continue;
        }
        if ((v = value()) == nullptr) {
            std::fprintf(stderr, "missing value for %s\n", arg.c_str());
            return false;
        }
        if (arg == "--dir") {
            options.directory = v;
        } else if (arg == "--threads") {
            options.threads = std::max(1, std::atoi(v));
        } else if (arg == "--events-per-append") {
            options.events_per_append = std::max(1, std::atoi(v));
        } else if (arg == "--event-bytes") {
            options.event_bytes = static_cast<std::size_t>(std::max(0, std::atoi(v)));
        } else if (arg == "--streams") {
            options.streams = std::max(0, std::atoi(v));
        } else if (arg == "--seconds") {
            options.seconds = std::atof(v);
        } else {
            std::fprintf(stderr, "unknown option %s\n", arg.c_str());
            return false;
        }
    }
    return true;
}

std::string make_uuid(std::uint64_t high, std::uint64_t low) {
    char text[37];
    std::snprintf(text, sizeof text, "%08x-%04x-%04x-%04x-%012llx",
                  static_cast<unsigned>(high >> 32), static_cast<unsigned>((high >> 16) & 0xFFFF),
                  static_cast<unsigned>(high & 0xFFFF), static_cast<unsigned>(low >> 48),
                  static_cast<unsigned long long>(low & 0xFFFFFFFFFFFFull));
    return text;
}

// One request in flight per thread: waits for its completion like an HTTP handler would.
class Completion {
  public:
    void set(AppendResult result) {
        std::lock_guard lock(mutex_);
        result_ = std::move(result);
        done_ = true;
        ready_.notify_one();
    }
    AppendResult wait() {
        std::unique_lock lock(mutex_);
        ready_.wait(lock, [this] { return done_; });
        done_ = false;
        return std::move(result_);
    }

  private:
    std::mutex mutex_;
    std::condition_variable ready_;
    bool done_ = false;
    AppendResult result_;
};

double percentile(std::vector<std::uint64_t>& sorted_ns, double p) {
    if (sorted_ns.empty()) {
        return 0;
    }
    const auto index = static_cast<std::size_t>(p * static_cast<double>(sorted_ns.size() - 1));
    return static_cast<double>(sorted_ns[index]) / 1e6;
}

}  // namespace

int main(int argc, char** argv) {
    Options options;
    if (!parse(argc, argv, options)) {
        return 2;
    }
    bool temporary = false;
    if (options.directory.empty()) {
        options.directory = (std::filesystem::temp_directory_path() /
                             ("annal-storage-bench-" + std::to_string(::getpid())))
                                .string();
        temporary = true;
    }
    annal::storage::StoreOptions store_options;
    store_options.directory = options.directory;
    store_options.durable = options.durable;
    std::string error;
    std::unique_ptr<EventStore> store = EventStore::open(store_options, error);
    if (!store) {
        std::fprintf(stderr, "open failed: %s\n", error.c_str());
        return 1;
    }

    const std::string payload(options.event_bytes, 'x');
    std::atomic<bool> stop{false};
    std::atomic<std::uint64_t> failures{0};
    std::atomic<std::uint64_t> next_ordered_id{1};
    std::vector<std::vector<std::uint64_t>> latencies(static_cast<std::size_t>(options.threads));
    std::vector<std::thread> threads;
    const auto started = Clock::now();
    for (int t = 0; t < options.threads; ++t) {
        threads.emplace_back([&, t] {
            Completion completion;
            std::uint64_t sequence = 0;
            auto& mine = latencies[static_cast<std::size_t>(t)];
            const std::int64_t now_us = std::chrono::duration_cast<std::chrono::microseconds>(
                                            std::chrono::system_clock::now().time_since_epoch())
                                            .count();
            while (!stop.load(std::memory_order_relaxed)) {
                AppendRequest request;
                request.stream =
                    "bench-" + std::to_string(options.streams > 0 ? t % options.streams : t);
                for (int e = 0; e < options.events_per_append; ++e) {
                    ProposedEvent event;
                    ++sequence;
                    event.id =
                        options.ordered_ids
                            ? make_uuid(1, next_ordered_id.fetch_add(1))
                            : make_uuid(static_cast<std::uint64_t>(t) << 32 | ::getpid(), sequence);
                    event.type = "BenchEvent";
                    event.timestamp_us = now_us + static_cast<std::int64_t>(sequence);
                    event.data = payload;
                    event.data_is_json = false;
                    request.events.push_back(std::move(event));
                }
                const auto begin = Clock::now();
                store->append(std::move(request), [&completion](AppendResult result) {
                    completion.set(std::move(result));
                });
                const AppendResult result = completion.wait();
                const auto elapsed = Clock::now() - begin;
                if (result.status != AppendStatus::Ok) {
                    failures.fetch_add(1);
                    continue;
                }
                mine.push_back(static_cast<std::uint64_t>(
                    std::chrono::duration_cast<std::chrono::nanoseconds>(elapsed).count()));
            }
        });
    }
    std::this_thread::sleep_for(std::chrono::duration<double>(options.seconds));
    stop = true;
    for (auto& thread : threads) {
        thread.join();
    }
    const double elapsed_s = std::chrono::duration<double>(Clock::now() - started).count();
    const auto stats = store->stats();
    store->close();

    std::vector<std::uint64_t> all;
    for (auto& mine : latencies) {
        all.insert(all.end(), mine.begin(), mine.end());
    }
    std::sort(all.begin(), all.end());
    const double appends_per_s = static_cast<double>(all.size()) / elapsed_s;
    std::printf(
        "threads=%d events_per_append=%d event_bytes=%zu fsync=%s seconds=%.1f\n"
        "appends=%zu appends/s=%.0f events/s=%.0f MB/s=%.1f\n"
        "latency_ms p50=%.3f p99=%.3f max=%.3f\n"
        "commits=%llu events/commit=%.1f failures=%llu map_grows=%llu\n",
        options.threads, options.events_per_append, options.event_bytes,
        options.durable ? "on" : "off", elapsed_s, all.size(), appends_per_s,
        appends_per_s * options.events_per_append,
        appends_per_s * options.events_per_append * static_cast<double>(options.event_bytes) / 1e6,
        percentile(all, 0.50), percentile(all, 0.99), percentile(all, 1.0),
        static_cast<unsigned long long>(stats.commits),
        stats.commits == 0 ? 0.0
                           : static_cast<double>(stats.events) / static_cast<double>(stats.commits),
        static_cast<unsigned long long>(failures.load()),
        static_cast<unsigned long long>(stats.map_grows));
    store.reset();
    if (temporary) {
        std::filesystem::remove_all(options.directory);
    }
    return 0;
}
