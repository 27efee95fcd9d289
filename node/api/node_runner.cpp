#include "api/node_runner.hpp"

#include <algorithm>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <csignal>
#include <iostream>

#include "api/http_server.hpp"
#include "storage/event_store.hpp"
#include "tls/socket_stream.hpp"
#include "tls/tls_context.hpp"

#ifdef ANNAL_NODE_CLUSTER
#include "api/http_snapshot_source.hpp"
#include "api/initial_cluster.hpp"
#include "api/late_bound_peer_sender.hpp"
#include "api/replicated_cluster_admin.hpp"
#include "replication/replicated_event_store.hpp"
#include "transport/cluster_id.hpp"
#include "transport/peer_transport.hpp"
#endif

namespace annal::api {
namespace {

// Waits for SIGINT/SIGTERM. Installed before anything else starts so an early SIGTERM is
// a clean shutdown, not the default "terminate now".
class SignalWaiter {
  public:
    SignalWaiter() : signals_(io_, SIGINT, SIGTERM) {
        signals_.async_wait([this](const boost::system::error_code& ec, int number) {
            if (!ec) {
                received_ = number;
            }
        });
    }
    int wait() {
        io_.run();
        return received_;
    }

  private:
    boost::asio::io_context io_;
    boost::asio::signal_set signals_;
    int received_ = 0;
};

storage::StoreOptions store_options_of(const NodeConfig& config) {
    storage::StoreOptions options;
    options.directory = config.data_dir;
    options.initial_map_bytes = config.initial_map_bytes;
    options.max_map_bytes = config.max_map_bytes;
    options.durable = config.fsync;
    return options;
}

ServerOptions server_options_of(const NodeConfig& config) {
    ServerOptions options;
    options.address = config.listen_address;
    options.port = config.listen_port;
    options.io_threads = config.io_threads;
    options.max_body_bytes = config.max_body_bytes;
    options.max_read_limit = config.max_read_limit;
    options.subscriber_buffer_events = config.subscriber_buffer_events;
    return options;
}

const char* scheme_of(const NodeConfig& config) {
    return tls_enabled(config) ? "https" : "http";
}

tls::TlsFiles tls_files_of(const NodeConfig& config) {
    return tls::TlsFiles{config.tls_cert_file, config.tls_key_file, config.tls_ca_file};
}

// TLS on the port (when configured): false with a message naming the file on failure.
bool enable_tls(HttpServer& server, const NodeConfig& config, std::string& error) {
    if (!tls_enabled(config)) {
        return true;
    }
    std::shared_ptr<boost::asio::ssl::context> context =
        tls::make_server_context(tls_files_of(config), error);
    if (!context) {
        error = "TLS: " + error;
        return false;
    }
    server.set_tls_context(std::move(context));
    return true;
}

void print_listening(const NodeConfig& config, std::uint16_t port) {
    const bool ipv6 = config.listen_address.find(':') != std::string::npos;
    std::cout << "annal: listening on " << scheme_of(config) << "://" << (ipv6 ? "[" : "")
              << config.listen_address << (ipv6 ? "]" : "") << ":" << port << std::endl;
}

// The documented order: no new work, in-flight appends answered, connections closed.
void drain(HttpServer& server, const NodeConfig& config) {
    if (!server.wait_for_appends(std::chrono::milliseconds(config.shutdown_grace_ms))) {
        std::cerr << "annal: appends still in flight after " << config.shutdown_grace_ms
                  << " ms; their connections are closed (the store still commits them)"
                  << std::endl;
    }
    server.stop();
}

int run_standalone(const NodeConfig& config, SignalWaiter& signals) {
    std::string error;
    std::unique_ptr<storage::EventStore> store =
        storage::EventStore::open(store_options_of(config), error);
    if (!store) {
        std::cerr << "annal: cannot open the store in '" << config.data_dir << "': " << error
                  << std::endl;
        return 1;
    }
    {
        HttpServer server(*store, server_options_of(config));
        if (!enable_tls(server, config, error) || !server.start(error)) {
            std::cerr << "annal: " << error << std::endl;
            store->close();
            return 1;
        }
        print_listening(config, server.port());

        const int received_signal = signals.wait();
        std::cerr << "annal: signal " << received_signal << ", shutting down" << std::endl;
        server.begin_shutdown();
        drain(server, config);
        // Commits everything the store accepted and joins its committer, so no completion
        // can reach the server after this.
        store->close();
    }
    store.reset();
    std::cerr << "annal: stopped" << std::endl;
    return 0;
}

#ifdef ANNAL_NODE_CLUSTER
// `spec` is NodeConfig::ceiling_follower: "", or skip-sync and/or skip-apply, comma-separated.
bool set_ceiling_experiments(const std::string& spec,
                             replication::ReplicatedStoreOptions::Testing& testing,
                             std::string& error) {
    std::size_t start = 0;
    while (start < spec.size()) {
        const std::size_t comma = std::min(spec.find(',', start), spec.size());
        const std::string item = spec.substr(start, comma - start);
        if (item == "skip-sync") {
            testing.follower_skips_log_sync = true;
        } else if (item == "skip-apply") {
            testing.follower_skips_apply = true;
        } else {
            error = "unknown experiment '" + item + "' (known: skip-sync, skip-apply)";
            return false;
        }
        start = comma + 1;
    }
    if (testing.follower_skips_log_sync || testing.follower_skips_apply) {
        std::cerr << "annal: CEILING EXPERIMENT (" << spec
                  << "): followers acknowledge what they have not made durable or applied; "
                     "benchmark only, throw this cluster's data away"
                  << std::endl;
    }
    return true;
}

int run_cluster_member(const NodeConfig& config, SignalWaiter& signals) {
    std::string error;
    replication::ReplicatedStoreOptions options;
    options.store = store_options_of(config);
    options.self = config.node_id;
    options.self_address = config.advertise_address;
    options.join = config.join;
    options.tick_ms = config.tick_ms;
    options.election_ticks = config.election_ticks;
    options.heartbeat_ticks = config.heartbeat_ticks;
    options.apply_commit_interval = std::chrono::milliseconds(config.apply_commit_ms);
    options.log_retain_entries = config.log_retain_entries;
    options.max_inflight_appends = config.max_inflight_appends;
    if (!set_ceiling_experiments(config.ceiling_follower, options.testing, error)) {
        std::cerr << "annal: ceiling_follower: " << error << std::endl;
        return 1;
    }
    // With join, the list is only where the existing members are (the membership itself
    // comes from the leader's log).
    std::vector<ClusterMember> members;
    if (!parse_initial_cluster(config.initial_cluster, members, error)) {
        std::cerr << "annal: initial_cluster: " << error << std::endl;
        return 1;
    }
    for (const auto& member : members) {
        options.initial_cluster.push_back({member.id, member.address});
    }

    // This node's certificate doubles as its client certificate towards its peers (peer
    // links and snapshot fetches).
    std::shared_ptr<boost::asio::ssl::context> tls_client;
    if (tls_enabled(config)) {
        tls_client = tls::make_client_context(tls_files_of(config), error);
        if (!tls_client) {
            std::cerr << "annal: TLS: " << error << std::endl;
            return 1;
        }
    }
    // Declared before the store, which uses it until it is closed.
    HttpSnapshotSource snapshot_source(tls_client);
    options.snapshot_source = &snapshot_source;
    LateBoundPeerSender sender;
    std::unique_ptr<replication::ReplicatedEventStore> store =
        replication::ReplicatedEventStore::open(options, sender, error);
    if (!store) {
        std::cerr << "annal: cannot open the replicated store in '" << config.data_dir
                  << "': " << error << std::endl;
        return 1;
    }
    ReplicatedClusterAdmin admin(config.cluster_id, *store);
    auto server = std::make_unique<HttpServer>(*store, server_options_of(config), &admin);
    transport::PeerTransportOptions transport_options;
    transport_options.cluster_id = transport::cluster_id_from_name(config.cluster_id);
    transport_options.self = config.node_id;
    transport_options.tls_client = tls_client;
    replication::ReplicatedEventStore* const replica = store.get();
    auto transport = std::make_unique<transport::PeerTransport>(
        server->io_context(), transport_options,
        [replica](std::vector<raft::Message> messages) { replica->receive(std::move(messages)); },
        [replica](raft::NodeId peer) { replica->report_unreachable(peer); });
    sender.bind(*transport);
    admin.set_transport(transport.get());
    server->set_peer_acceptor(
        [peers = transport.get()](tls::SocketStream stream, std::string first_bytes) {
            peers->accept(std::move(stream), std::move(first_bytes));
        });
    if (!enable_tls(*server, config, error) || !server->start(error)) {
        std::cerr << "annal: " << error << std::endl;
        sender.unbind();
        transport->stop();
        store->close();
        return 1;
    }
    std::cout << "annal: node " << config.node_id << " of cluster " << config.cluster_id
              << " listening on " << scheme_of(config) << "://" << config.advertise_address
              << std::endl;
    print_listening(config, server->port());

    const int received_signal = signals.wait();
    std::cerr << "annal: signal " << received_signal << ", shutting down" << std::endl;
    server->begin_shutdown();
    // Hand leadership over first so the cluster does not wait an election timeout.
    if (!store->hand_off_leadership(std::chrono::seconds(5))) {
        std::cerr << "annal: could not hand leadership over in 5 s; stopping anyway" << std::endl;
    }
    drain(*server, config);
    // The server's io threads are joined: the transport does no more work. Closing the
    // store completes what is left (ShuttingDown) and stops the replication loop.
    store->close();
    sender.unbind();
    transport->stop();
    transport.reset();
    server.reset();
    store.reset();
    std::cerr << "annal: stopped" << std::endl;
    return 0;
}
#endif

}  // namespace

int run_node(const NodeConfig& config) {
    SignalWaiter signals;
    if (!is_cluster_mode(config)) {
        return run_standalone(config, signals);
    }
#ifdef ANNAL_NODE_CLUSTER
    return run_cluster_member(config, signals);
#else
    std::cerr << "annal: this build has no cluster support (built without the replication "
                 "and transport parts); remove initial_cluster/join to run standalone"
              << std::endl;
    return 1;
#endif
}

}  // namespace annal::api
