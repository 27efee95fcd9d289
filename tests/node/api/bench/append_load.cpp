// Load generator for the HTTP append path (a benchmark command, not a test): the same
// generator as `annal bench` (client/append_load.hpp), plus an in-process node so the
// HTTP path can be measured without a separate process.
//
//   annal_api_loadgen [--clients N] [--seconds S] [--batch E] [--event-bytes B] [--port P]
//                     [--no-fsync] [--io-threads T]
//
// Without --port it starts an in-process store (fsync on unless --no-fsync) and server in
// a temporary directory; with --port it drives an already running node on 127.0.0.1.
// Prints one line: events/s, request latency p50/p90/p99 and, in-process, the commits.
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>

#include "api/http_server.hpp"
#include "client/append_load.hpp"
#include "storage/event_store.hpp"

int main(int argc, char** argv) {
    annal::client::AppendLoadOptions load;
    load.stream_prefix = "load";
    int seconds = 5;
    int port = 0;
    unsigned io_threads = 2;
    bool fsync = true;
    for (int i = 1; i < argc; ++i) {
        const std::string arg = argv[i];
        auto next = [&] { return i + 1 < argc ? std::atoi(argv[++i]) : 0; };
        if (arg == "--clients") {
            load.connections = static_cast<unsigned>(next());
        } else if (arg == "--seconds") {
            seconds = next();
        } else if (arg == "--batch") {
            load.batch = static_cast<std::size_t>(next());
        } else if (arg == "--event-bytes") {
            load.event_bytes = static_cast<std::size_t>(next());
        } else if (arg == "--port") {
            port = next();
        } else if (arg == "--io-threads") {
            io_threads = static_cast<unsigned>(next());
        } else if (arg == "--no-fsync") {
            fsync = false;
        } else {
            std::fprintf(stderr, "unknown argument %s\n", arg.c_str());
            return 2;
        }
    }
    load.duration = std::chrono::seconds(seconds);

    std::string directory;
    std::unique_ptr<annal::storage::EventStore> store;
    std::unique_ptr<annal::api::HttpServer> server;
    if (port == 0) {
        directory = (std::filesystem::temp_directory_path() / "annal-loadgen-XXXXXX").string();
        if (mkdtemp(directory.data()) == nullptr) {
            return 1;
        }
        annal::storage::StoreOptions store_options;
        store_options.directory = directory;
        store_options.durable = fsync;
        std::string error;
        store = annal::storage::EventStore::open(store_options, error);
        if (!store) {
            std::fprintf(stderr, "store: %s\n", error.c_str());
            return 1;
        }
        annal::api::ServerOptions options;
        options.io_threads = io_threads;
        server = std::make_unique<annal::api::HttpServer>(*store, options);
        if (!server->start(error)) {
            std::fprintf(stderr, "server: %s\n", error.c_str());
            return 1;
        }
        port = server->port();
    }

    annal::client::Endpoint endpoint;
    endpoint.port = std::to_string(port);
    auto outcome = annal::client::run_append_load(endpoint, load, [](std::uint64_t) {});

    std::uint64_t commits = 0;
    if (server) {
        commits = store->stats().commits;
        server->stop();
        store->close();
        server.reset();
        store.reset();
        std::filesystem::remove_all(directory);
    }
    if (!outcome) {
        std::fprintf(stderr, "load: %s\n", outcome.error().describe().c_str());
        return 1;
    }
    const auto& report = outcome.value();
    std::printf(
        "clients=%u batch=%zu event_bytes=%zu fsync=%s seconds=%.1f events=%llu failed=%llu "
        "events/s=%.0f p50_ms=%.2f p90_ms=%.2f p99_ms=%.2f%s\n",
        report.connections, report.batch, report.event_bytes, fsync ? "on" : "off", report.seconds,
        static_cast<unsigned long long>(report.events),
        static_cast<unsigned long long>(report.errors), report.events_per_s, report.latency_p50_ms,
        report.latency_p90_ms, report.latency_p99_ms,
        commits ? (" commits=" + std::to_string(commits)).c_str() : "");
    if (report.errors != 0) {
        std::fprintf(stderr, "first error: %s\n", report.first_error.c_str());
    }
    return report.errors == 0 ? 0 : 1;
}
