#include "api/node_runner.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <csignal>
#include <iostream>

#include "api/http_server.hpp"
#include "storage/event_store.hpp"

namespace annal::api {

int run_node(const NodeConfig& config) {
    // Installed before anything else starts so an early SIGTERM is a clean shutdown,
    // not the default "terminate now".
    boost::asio::io_context signal_io;
    boost::asio::signal_set signals(signal_io, SIGINT, SIGTERM);
    int received_signal = 0;
    signals.async_wait([&received_signal](const boost::system::error_code& ec, int number) {
        if (!ec) {
            received_signal = number;
        }
    });

    storage::StoreOptions store_options;
    store_options.directory = config.data_dir;
    store_options.initial_map_bytes = config.initial_map_bytes;
    store_options.max_map_bytes = config.max_map_bytes;
    store_options.durable = config.fsync;
    std::string error;
    std::unique_ptr<storage::EventStore> store = storage::EventStore::open(store_options, error);
    if (!store) {
        std::cerr << "annal: cannot open the store in '" << config.data_dir << "': " << error
                  << std::endl;
        return 1;
    }

    ServerOptions server_options;
    server_options.address = config.listen_address;
    server_options.port = config.listen_port;
    server_options.io_threads = config.io_threads;
    server_options.max_body_bytes = config.max_body_bytes;
    server_options.max_read_limit = config.max_read_limit;
    server_options.subscriber_buffer_events = config.subscriber_buffer_events;
    int exit_code = 0;
    {
        HttpServer server(*store, server_options);
        if (!server.start(error)) {
            std::cerr << "annal: " << error << std::endl;
            store->close();
            return 1;
        }
        const bool ipv6 = config.listen_address.find(':') != std::string::npos;
        std::cout << "annal: listening on http://" << (ipv6 ? "[" : "") << config.listen_address
                  << (ipv6 ? "]" : "") << ":" << server.port() << std::endl;

        signal_io.run();
        std::cerr << "annal: signal " << received_signal << ", shutting down" << std::endl;

        server.begin_shutdown();
        if (!server.wait_for_appends(std::chrono::milliseconds(config.shutdown_grace_ms))) {
            std::cerr << "annal: appends still in flight after " << config.shutdown_grace_ms
                      << " ms; their connections are closed (the store still commits them)"
                      << std::endl;
        }
        server.stop();
        // Commits everything the store accepted and joins its committer, so no completion
        // can reach the server after this.
        store->close();
    }
    store.reset();
    std::cerr << "annal: stopped" << std::endl;
    return exit_code;
}

}  // namespace annal::api
