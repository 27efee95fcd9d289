// annal_transport_bench: one-way throughput between two PeerTransports on loopback.
//
// Node 1 sends `--messages` Append messages (one entry of `--payload` bytes each, groups
// 1..3) to node 2 in send() calls of `--per-send` messages, keeping at most `--window`
// messages sent but not yet delivered (Raft has the same kind of limit on messages in
// flight). Reports messages/s, payload MB/s, and how many messages each frame carried.
#include <atomic>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "transport/peer_transport.hpp"

namespace net = boost::asio;
using tcp = net::ip::tcp;
using annal::raft::Message;
using namespace annal::transport;

namespace {

struct Settings {
    std::uint64_t messages = 200000;
    std::size_t payload = 100;
    std::size_t per_send = 8;
    std::uint64_t window = 20000;
    int io_threads = 2;
};

bool parse(int argc, char** argv, Settings& settings) {
    for (int i = 1; i < argc; ++i) {
        const std::string_view flag = argv[i];
        if (flag == "--help" || i + 1 >= argc) {
            return false;
        }
        const std::uint64_t value = std::strtoull(argv[++i], nullptr, 10);
        if (value == 0) {
            return false;
        }
        if (flag == "--messages") {
            settings.messages = value;
        } else if (flag == "--payload") {
            settings.payload = value;
        } else if (flag == "--per-send") {
            settings.per_send = value;
        } else if (flag == "--window") {
            settings.window = value;
        } else if (flag == "--io-threads") {
            settings.io_threads = static_cast<int>(value);
        } else {
            return false;
        }
    }
    return true;
}

// Stands in for the HTTP server's one port: accept, read the 4-byte preamble, hand over.
void accept_loop(tcp::acceptor& acceptor, PeerTransport& transport) {
    acceptor.async_accept([&acceptor, &transport](boost::system::error_code ec, tcp::socket s) {
        if (ec) {
            return;
        }
        auto socket = std::make_shared<tcp::socket>(std::move(s));
        auto preamble = std::make_shared<std::string>(4, '\0');
        net::async_read(
            *socket, net::buffer(*preamble),
            [socket, preamble, &transport](boost::system::error_code read_ec, std::size_t) {
                if (!read_ec) {
                    transport.accept(std::move(*socket), *preamble);
                }
            });
        accept_loop(acceptor, transport);
    });
}

}  // namespace

int main(int argc, char** argv) {
    Settings settings;
    if (!parse(argc, argv, settings)) {
        std::fprintf(stderr,
                     "usage: annal_transport_bench [--messages N] [--payload BYTES] "
                     "[--per-send K] [--window W] [--io-threads T]\n");
        return 2;
    }
    net::io_context io;
    auto work = net::make_work_guard(io);
    std::atomic<std::uint64_t> delivered{0};

    PeerTransportOptions options;
    options.cluster_id = cluster_id_from_name("bench");
    options.self = 1;
    PeerTransport sender(
        io, options, [](std::vector<Message>) {}, [](annal::raft::NodeId) {});
    options.self = 2;
    PeerTransport receiver(
        io, options, [&](std::vector<Message> m) { delivered += m.size(); },
        [](annal::raft::NodeId) {});

    tcp::acceptor acceptor(io, tcp::endpoint(net::ip::make_address("127.0.0.1"), 0));
    accept_loop(acceptor, receiver);
    sender.set_peer_address(2, "127.0.0.1:" + std::to_string(acceptor.local_endpoint().port()));

    std::vector<std::thread> threads;
    for (int i = 0; i < settings.io_threads; ++i) {
        threads.emplace_back([&io] { io.run(); });
    }

    const std::string data(settings.payload, 'x');
    const auto start = std::chrono::steady_clock::now();
    std::uint64_t sent = 0;
    while (sent < settings.messages) {
        while (sent - delivered.load() >= settings.window) {
            std::this_thread::sleep_for(std::chrono::microseconds(50));
        }
        std::vector<Message> batch;
        for (std::size_t i = 0; i < settings.per_send && sent < settings.messages; ++i, ++sent) {
            Message m;
            m.type = annal::raft::MessageType::Append;
            m.group = 1 + sent % 3;
            m.from = 1;
            m.to = 2;
            m.term = 1;
            m.index = sent;
            m.entries.push_back(
                annal::raft::Entry{1, sent + 1, annal::raft::EntryType::Normal, data});
            batch.push_back(std::move(m));
        }
        sender.send(std::move(batch));
    }
    while (delivered.load() < settings.messages) {
        const PeerLinkStats link = sender.stats().peers.at(0);
        if (link.messages_dropped > 0) {
            std::fprintf(stderr, "messages dropped (%llu): lower --window\n",
                         static_cast<unsigned long long>(link.messages_dropped));
            return 1;
        }
        std::this_thread::sleep_for(std::chrono::microseconds(200));
    }
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    const PeerLinkStats link = sender.stats().peers.at(0);

    std::printf("messages      %llu x %zu B payload, %zu per send(), window %llu, %d io threads\n",
                static_cast<unsigned long long>(settings.messages), settings.payload,
                settings.per_send, static_cast<unsigned long long>(settings.window),
                settings.io_threads);
    std::printf("elapsed       %.3f s\n", seconds);
    std::printf("throughput    %.0f messages/s, %.1f MB/s payload, %.1f MB/s on the wire\n",
                static_cast<double>(settings.messages) / seconds,
                static_cast<double>(settings.messages * settings.payload) / seconds / 1e6,
                static_cast<double>(link.bytes_sent) / seconds / 1e6);
    std::printf("frames        %llu (%.1f messages per frame)\n",
                static_cast<unsigned long long>(link.frames_sent),
                static_cast<double>(link.messages_sent) /
                    static_cast<double>(std::max<std::uint64_t>(1, link.frames_sent)));

    sender.stop();
    receiver.stop();
    boost::system::error_code ignored;
    acceptor.close(ignored);
    work.reset();
    io.stop();
    for (auto& thread : threads) {
        thread.join();
    }
    return 0;
}
