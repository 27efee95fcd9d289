#include "cli/benchmark.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <latch>
#include <mutex>
#include <numeric>
#include <random>
#include <thread>
#include <vector>

#include "client/client.hpp"

namespace annal::cli {

namespace {

using Clock = std::chrono::steady_clock;

struct ClientTally {
    std::vector<std::uint32_t> latencies_us;
    std::uint64_t appends = 0;
    std::uint64_t errors = 0;
    std::string first_error;
};

double percentile_ms(const std::vector<std::uint32_t>& sorted_us, double fraction) {
    if (sorted_us.empty()) {
        return 0;
    }
    const auto rank =
        static_cast<std::size_t>(std::ceil(fraction * static_cast<double>(sorted_us.size())));
    const auto index = std::min(sorted_us.size() - 1, rank == 0 ? 0 : rank - 1);
    return sorted_us[index] / 1000.0;
}

}  // namespace

BenchmarkReport run_benchmark(const client::Endpoint& endpoint, const BenchmarkOptions& options,
                              const std::function<void(std::uint64_t)>& progress) {
    const unsigned clients = std::max(1u, options.clients);
    const std::size_t batch = std::max<std::size_t>(1, options.batch);
    // The data is a JSON string whose encoding is exactly event_size bytes.
    std::string data_json(std::max<std::size_t>(options.event_size, 2), 'x');
    data_json.front() = '"';
    data_json.back() = '"';
    const std::string run_id = std::to_string(std::random_device{}() % 1000000);

    std::vector<ClientTally> tallies(clients);
    std::atomic<std::uint64_t> appends_done{0};
    std::atomic<bool> stop{false};
    std::atomic<unsigned> finished{0};
    std::latch connected(clients + 1);
    std::latch started(1);

    const auto client_loop = [&](unsigned index) {
        auto& tally = tallies[index];
        client::Client client(endpoint);
        const std::string stream =
            options.stream_prefix + "-" + run_id + "-" + std::to_string(index);
        // Connect before the clock starts: connection setup is not what is measured.
        (void)client.get("/healthz");
        connected.count_down();
        started.wait();
        std::uint64_t quota = UINT64_MAX;
        if (options.appends) {
            quota = *options.appends / clients + (index < *options.appends % clients ? 1 : 0);
        }
        std::vector<client::NewEvent> events(batch);
        unsigned consecutive_errors = 0;
        for (std::uint64_t done = 0; done < quota && !stop.load(std::memory_order_relaxed);) {
            for (auto& event : events) {
                event.id.clear();
                event.type = "BenchEvent";
                event.data_json = data_json;
            }
            const auto begin = Clock::now();
            auto result = client.append(stream, client::ExpectedVersion::any(), events);
            const auto elapsed = Clock::now() - begin;
            if (result) {
                tally.latencies_us.push_back(static_cast<std::uint32_t>(
                    std::chrono::duration_cast<std::chrono::microseconds>(elapsed).count()));
                ++tally.appends;
                ++done;
                consecutive_errors = 0;
                appends_done.fetch_add(1, std::memory_order_relaxed);
            } else {
                ++tally.errors;
                if (tally.first_error.empty()) {
                    tally.first_error = result.error().describe();
                }
                // A dead server should end the run, not spin it.
                if (++consecutive_errors >= 100) {
                    break;
                }
                std::this_thread::sleep_for(std::chrono::milliseconds(10));
            }
        }
        finished.fetch_add(1);
    };

    std::vector<std::thread> threads;
    threads.reserve(clients);
    for (unsigned i = 0; i < clients; ++i) {
        threads.emplace_back(client_loop, i);
    }
    connected.arrive_and_wait();
    const auto begin = Clock::now();
    started.count_down();
    const auto deadline = begin + std::chrono::duration_cast<Clock::duration>(
                                      std::chrono::duration<double>(options.duration_s));
    while (finished.load() < clients) {
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
        progress(appends_done.load(std::memory_order_relaxed));
        if (!options.appends && Clock::now() >= deadline) {
            stop.store(true);
        }
    }
    for (auto& thread : threads) {
        thread.join();
    }
    const double seconds = std::chrono::duration<double>(Clock::now() - begin).count();
    progress(appends_done.load());

    BenchmarkReport report;
    report.clients = clients;
    report.batch = batch;
    report.event_size = options.event_size;
    report.seconds = seconds;
    std::vector<std::uint32_t> latencies;
    for (auto& tally : tallies) {
        report.appends += tally.appends;
        report.errors += tally.errors;
        if (report.first_error.empty()) {
            report.first_error = tally.first_error;
        }
        latencies.insert(latencies.end(), tally.latencies_us.begin(), tally.latencies_us.end());
    }
    report.events = report.appends * batch;
    report.appends_per_s = static_cast<double>(report.appends) / seconds;
    report.events_per_s = static_cast<double>(report.events) / seconds;
    std::sort(latencies.begin(), latencies.end());
    if (!latencies.empty()) {
        report.latency_mean_ms = std::accumulate(latencies.begin(), latencies.end(), 0.0) / 1000.0 /
                                 static_cast<double>(latencies.size());
        report.latency_max_ms = latencies.back() / 1000.0;
    }
    report.latency_p50_ms = percentile_ms(latencies, 0.50);
    report.latency_p99_ms = percentile_ms(latencies, 0.99);
    report.latency_p999_ms = percentile_ms(latencies, 0.999);
    return report;
}

}  // namespace annal::cli
