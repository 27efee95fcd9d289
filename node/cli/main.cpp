// The `annal` command line: runs a node, or talks to one over its HTTP API.
#include <CLI/CLI.hpp>
#include <iostream>
#include <memory>

#include "cli/append_command.hpp"
#include "cli/bench_command.hpp"
#include "cli/cluster_command.hpp"
#include "cli/exit_code.hpp"
#include "cli/global_options.hpp"
#include "cli/read_command.hpp"
#include "cli/status_command.hpp"
#include "cli/tail_command.hpp"
#include "cli/version.hpp"
#ifdef ANNAL_WITH_NODE
#include "cli/node_command.hpp"
#endif

int main(int argc, char** argv) {
    using namespace annal::cli;
    CLI::App app{"Annal: a strongly consistent event store", "annal"};
    app.set_version_flag("--version", version_string());
    app.require_subcommand(1);
    // Global options may also follow the subcommand: `annal read s --json`.
    app.fallthrough();

    GlobalOptions global;
    app.add_option("--server", global.server, "Node URL")->capture_default_str();
    app.add_flag("--json", global.json, "Machine-readable output");
    app.add_option("--ca", global.ca_file,
                   "https: CA certificate (PEM) the server's certificate must chain to")
        ->check(CLI::ExistingFile);
    app.add_option("--cert", global.cert_file, "https: client certificate (PEM), for mutual TLS")
        ->check(CLI::ExistingFile);
    app.add_option("--key", global.key_file, "https: private key (PEM) of --cert")
        ->check(CLI::ExistingFile);

#ifdef ANNAL_WITH_NODE
    NodeCommand node(app);
#endif

    AppendOptions append;
    auto* append_cmd = app.add_subcommand("append", "Append events to a stream");
    append_cmd->add_option("stream", append.stream, "Stream name")->required();
    append_cmd
        ->add_option("--expected-version,-e", append.expected_version,
                     "any | no_stream | exists | a version number")
        ->capture_default_str();
    append_cmd->add_option("--type,-t", append.type, "Event type (default for --file lines)");
    auto* data_opt = append_cmd->add_option("--data,-d", append.data, "Event data (JSON)");
    append_cmd->add_option("--metadata", append.metadata, "Event metadata (JSON object)");
    append_cmd->add_option("--id", append.id, "Event id (UUID; generated if absent)");
    append_cmd->add_option("--file,-f", append.file, "NDJSON file of events ('-' = stdin)")
        ->excludes(data_opt);
    append_cmd->add_option("--batch-events", append.batch_events, "Events per request with --file")
        ->capture_default_str()
        ->check(CLI::PositiveNumber);

    ReadOptions read;
    auto* read_cmd = app.add_subcommand("read", "Read a stream, the global log, or a time range");
    read_cmd->add_option("stream", read.stream, "Stream name");
    read_cmd->add_flag("--all", read.all, "Read the global log by position");
    read_cmd->add_option("--since", read.since, "Time range start (RFC 3339 or microseconds)");
    read_cmd->add_option("--until", read.until, "Time range end, exclusive");
    read_cmd->add_option("--from", read.from, "First version (stream) or position (--all)");
    read_cmd->add_flag("--backwards", read.backwards, "Newest first");
    read_cmd->add_option("--limit,-n", read.limit, "At most this many events")
        ->check(CLI::PositiveNumber);

    TailOptions tail;
    auto* tail_cmd = app.add_subcommand("tail", "Follow new events live until Ctrl-C");
    tail_cmd->add_option("stream", tail.stream, "Only this stream");
    tail_cmd->add_option("--from", tail.from, "Start at this global position (catch up first)");
    tail_cmd->add_option("--count", tail.count, "Stop after this many events")
        ->check(CLI::PositiveNumber);

    auto* status_cmd = app.add_subcommand("status", "Show the node's status");

    ClusterOptions cluster;
    auto* cluster_cmd = app.add_subcommand("cluster", "Show or change the cluster's membership");
    cluster_cmd->require_subcommand(1);
    auto* cluster_status = cluster_cmd->add_subcommand("status", "Leader, term and members");
    auto* cluster_add = cluster_cmd->add_subcommand(
        "add-learner", "Add a node as a non-voting learner (it then catches up)");
    cluster_add->add_option("id", cluster.id, "New node's id")
        ->required()
        ->check(CLI::PositiveNumber);
    cluster_add->add_option("address", cluster.address, "host:port of the new node")->required();
    auto* cluster_promote =
        cluster_cmd->add_subcommand("promote", "Make a caught-up learner a voter");
    cluster_promote->add_option("id", cluster.id, "Learner's id")
        ->required()
        ->check(CLI::PositiveNumber);
    auto* cluster_remove = cluster_cmd->add_subcommand("remove", "Remove a member");
    cluster_remove->add_option("id", cluster.id, "Member's id")
        ->required()
        ->check(CLI::PositiveNumber);
    auto* cluster_transfer = cluster_cmd->add_subcommand(
        "transfer", "Hand leadership to a voter (default: the most up-to-date one)");
    cluster_transfer->add_option("id", cluster.id, "Target voter's id");
    for (auto* action :
         {cluster_status, cluster_add, cluster_promote, cluster_remove, cluster_transfer}) {
        action->callback([&cluster, action] { cluster.action = action->get_name(); });
    }

    BenchmarkOptions bench;
    auto* bench_cmd = app.add_subcommand("bench", "Measure append throughput and latency");
    bench_cmd->add_option("--clients,-c", bench.clients, "Concurrent clients (connections)")
        ->capture_default_str();
    bench_cmd->add_option("--duration", bench.duration_s, "Seconds to run")->capture_default_str();
    bench_cmd->add_option("--appends", bench.appends,
                          "Total append requests (instead of --duration)");
    bench_cmd->add_option("--event-size,--event-bytes", bench.event_size, "Bytes of data per event")
        ->capture_default_str();
    bench_cmd->add_option("--batch,-b", bench.batch, "Events per append request")
        ->capture_default_str();
    bench_cmd->add_option("--stream-prefix", bench.stream_prefix, "Streams are PREFIX-RUN-CLIENT")
        ->capture_default_str();

    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& error) {
        const int code = app.exit(error);
        return code == 0 ? kExitOk : kExitUsage;
    }

#ifdef ANNAL_WITH_NODE
    if (node.command().parsed()) {
        return node.run();
    }
#endif
    if (append_cmd->parsed()) {
        return run_append(global, append);
    }
    if (read_cmd->parsed()) {
        return run_read(global, read);
    }
    if (tail_cmd->parsed()) {
        return run_tail(global, tail);
    }
    if (status_cmd->parsed()) {
        return run_status(global);
    }
    if (cluster_cmd->parsed()) {
        return run_cluster(global, cluster);
    }
    if (bench_cmd->parsed()) {
        return run_bench(global, bench);
    }
    return report_usage_error("unknown command (try --help)");
}
