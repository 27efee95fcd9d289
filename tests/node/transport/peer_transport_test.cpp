#include <doctest/doctest.h>

#include <atomic>
#include <thread>

#include "test_support.hpp"

using namespace annal::transport;
using namespace annal::transport::test;
using annal::raft::Message;
using annal::raft::NodeId;

namespace {

// Sends `count` messages from `from` to `to` over groups 1..3, in send() calls of 1..5
// messages; returns them in send order.
std::vector<Message> send_stream(PeerTransport& transport, NodeId from, NodeId to,
                                 std::size_t count) {
    std::vector<Message> sent;
    std::size_t call = 0;
    while (sent.size() < count) {
        const std::size_t batch = std::min<std::size_t>(1 + call % 5, count - sent.size());
        std::vector<Message> messages;
        for (std::size_t i = 0; i < batch; ++i) {
            const std::uint64_t sequence = sent.size() + i;
            messages.push_back(make_message(from, to, 1 + sequence % 3, sequence, sequence % 200));
        }
        sent.insert(sent.end(), messages.begin(), messages.end());
        transport.send(std::move(messages));
        ++call;
    }
    return sent;
}

}  // namespace

TEST_CASE("two transports exchange thousands of messages of several groups both ways, in order") {
    IoThreads io(2);
    TestNode a(io.io(), 1);
    TestNode b(io.io(), 2);
    a.transport->set_peer_address(2, b.address());
    // A name, not a numeric address, for the other direction (goes through the resolver).
    b.transport->set_peer_address(1, "localhost:" + std::to_string(a.acceptor->port()));

    // Connect both ways first, so that what follows measures batching on live connections
    // rather than a backlog queued while dialling.
    a.transport->send({make_message(1, 2, 1, 0)});
    b.transport->send({make_message(2, 1, 1, 0)});
    REQUIRE(b.inbox.wait_for_count(1));
    REQUIRE(a.inbox.wait_for_count(1));
    const PeerLinkStats a_warm = a.peer_stats(2);
    const PeerLinkStats b_warm = b.peer_stats(1);

    constexpr std::size_t kMessages = 6000;
    std::vector<Message> sent_by_a;
    std::vector<Message> sent_by_b;
    std::thread sender_a([&] { sent_by_a = send_stream(*a.transport, 1, 2, kMessages); });
    std::thread sender_b([&] { sent_by_b = send_stream(*b.transport, 2, 1, kMessages); });
    sender_a.join();
    sender_b.join();

    REQUIRE(b.inbox.wait_for_count(kMessages + 1));
    REQUIRE(a.inbox.wait_for_count(kMessages + 1));
    const auto received_by_b = b.inbox.messages();
    const auto received_by_a = a.inbox.messages();
    CHECK(std::vector<Message>(received_by_b.begin() + 1, received_by_b.end()) == sent_by_a);
    CHECK(std::vector<Message>(received_by_a.begin() + 1, received_by_a.end()) == sent_by_b);

    for (auto* node : {&a, &b}) {
        const NodeId peer = node == &a ? 2 : 1;
        const PeerLinkStats warm = node == &a ? a_warm : b_warm;
        const PeerLinkStats out = node->peer_stats(peer);
        CHECK(out.connected);
        CHECK(out.connects == 1);
        CHECK(out.messages_sent == kMessages + 1);
        CHECK(out.messages_dropped == 0);
        // Batching: a write carries all of a send()'s messages, and whatever queued meanwhile.
        const std::uint64_t frames = out.frames_sent - warm.frames_sent;
        CHECK(frames < kMessages);
        MESSAGE("messages ", kMessages, " in ", frames, " frames on a live connection");
    }
    // What one side sent is what the other received (the frame count includes the Hello).
    const PeerLinkStats a_to_b = a.peer_stats(2);
    const PeerLinkStats b_from_a = b.peer_stats(1);
    CHECK(b_from_a.messages_received == kMessages + 1);
    CHECK(eventually([&] { return b.peer_stats(1).frames_received == a_to_b.frames_sent; }));
    CHECK(b.peer_stats(1).bytes_received == a_to_b.bytes_sent);
    CHECK(a.transport->stats().inbound_rejected == 0);
    CHECK(b.transport->stats().inbound_rejected == 0);
    CHECK(b.transport->stats().inbound_connections == 1);
}

TEST_CASE("a restarted peer on the same port is reconnected and delivery resumes") {
    IoThreads io(2);
    PeerTransportOptions fast;
    fast.reconnect_min = std::chrono::milliseconds(10);
    fast.reconnect_max = std::chrono::milliseconds(100);
    TestNode a(io.io(), 1, 0, fast);
    auto b = std::make_unique<TestNode>(io.io(), 2);
    const std::uint16_t b_port = b->acceptor->port();
    a.transport->set_peer_address(2, b->address());

    std::atomic<bool> sending{true};
    std::thread sender([&] {
        std::uint64_t sequence = 0;
        while (sending) {
            a.transport->send({make_message(1, 2, 1, sequence++)});
            std::this_thread::sleep_for(std::chrono::milliseconds(2));
        }
    });

    REQUIRE(b->inbox.wait_for_count(20));
    b.reset();  // the peer goes away (its transport closes our connection)
    CHECK(eventually([&] { return a.unreachable_reports(2) >= 1; }));
    b = std::make_unique<TestNode>(io.io(), 2, b_port);
    const bool resumed = b->inbox.wait_for_count(20);
    sending = false;
    sender.join();
    REQUIRE(resumed);

    const PeerLinkStats link = a.peer_stats(2);
    CHECK(link.connects >= 2);
    // Per connection, in order: the sequence numbers received only increase.
    const auto received = b->inbox.messages();
    for (std::size_t i = 1; i < received.size(); ++i) {
        CHECK(received[i].index > received[i - 1].index);
    }
}

TEST_CASE("a peer that refuses connections: sends are dropped, counted, reported unreachable") {
    IoThreads io(1);
    PeerTransportOptions options;
    options.max_queued_bytes_per_peer = 64 * 1024;
    TestNode a(io.io(), 1, 0, options);
    std::uint16_t closed_port = 0;
    {
        TestAcceptor probe(io.io(), 0);  // a port that was free a moment ago and is closed now
        closed_port = probe.port();
    }
    a.transport->set_peer_address(2, "127.0.0.1:" + std::to_string(closed_port));

    std::uint64_t sent = 0;
    const bool reported = eventually(
        [&] {
            a.transport->send({make_message(1, 2, 1, sent++, 1000)});
            CHECK(a.peer_stats(2).queued_bytes <= options.max_queued_bytes_per_peer);
            return a.unreachable_reports(2) >= 1 && a.peer_stats(2).messages_dropped > 0;
        },
        std::chrono::seconds(10));
    CHECK(reported);
    const PeerLinkStats link = a.peer_stats(2);
    CHECK_FALSE(link.connected);
    CHECK(link.connects == 0);
    CHECK(link.messages_sent == 0);

    SUBCASE("messages for a node without an address are unroutable") {
        a.transport->remove_peer(2);
        a.transport->send({make_message(1, 2, 1, 0), make_message(1, 5, 1, 1)});
        CHECK(a.transport->stats().messages_unroutable == 2);
        CHECK(eventually([&] { return a.unreachable_reports(5) == 1; }));
    }
    SUBCASE("pointing the peer at a live address resumes delivery") {
        TestNode b(io.io(), 2);
        a.transport->set_peer_address(2, b.address());
        const bool delivered = eventually(
            [&] {
                a.transport->send({make_message(1, 2, 1, sent++)});
                return b.inbox.size() > 0;
            },
            std::chrono::seconds(20));
        CHECK(delivered);
        CHECK(a.peer_stats(2).connected);
    }
}

TEST_CASE("the queue bound holds while the peer accepts but does not read") {
    IoThreads io(2);
    PeerTransportOptions options;
    options.max_queued_bytes_per_peer = 1 << 20;
    TestNode a(io.io(), 1, 0, options);

    // A hung peer: the connection is accepted by the kernel and then never read.
    tcp::acceptor hung(io.io(), tcp::endpoint(net::ip::make_address("127.0.0.1"), 0));
    a.transport->set_peer_address(2, "127.0.0.1:" + std::to_string(hung.local_endpoint().port()));

    a.transport->send({make_message(1, 2, 1, 0)});
    REQUIRE(eventually([&] { return a.peer_stats(2).connected; }));

    constexpr std::size_t kMessages = 800;
    constexpr std::size_t kBytes = 64 * 1024;  // 50 MiB in all: more than the socket buffers
    for (std::size_t i = 0; i < kMessages; ++i) {
        a.transport->send({make_message(1, 2, 1 + i % 2, i, kBytes)});
        CHECK(a.peer_stats(2).queued_bytes <= options.max_queued_bytes_per_peer);
    }
    CHECK(eventually([&] { return a.peer_stats(2).messages_dropped > 0; }));
    const PeerLinkStats link = a.peer_stats(2);
    CHECK(link.connected);
    CHECK(link.queued_bytes <= options.max_queued_bytes_per_peer);
    CHECK(link.messages_sent + link.messages_dropped <= kMessages + 1);
    MESSAGE("sent ", link.messages_sent, ", dropped ", link.messages_dropped, ", queued bytes ",
            link.queued_bytes);
    a.transport->stop();
    boost::system::error_code ignored;
    hung.close(ignored);
}

TEST_CASE("no handler runs after stop() returns") {
    IoThreads io(2);
    TestNode a(io.io(), 1);
    std::atomic<bool> stopped{false};
    std::atomic<int> late_calls{0};
    std::atomic<int> calls{0};
    PeerTransportOptions options;
    options.self = 2;
    options.cluster_id = cluster_id_from_name("test-cluster");
    TestAcceptor acceptor(io.io(), 0);
    PeerTransport b(
        io.io(), options,
        [&](std::vector<Message>) {
            ++calls;
            // Stay inside the handler a little so that stop() has something to wait for.
            std::this_thread::sleep_for(std::chrono::microseconds(200));
            if (stopped) {
                ++late_calls;
            }
        },
        [&](NodeId) {
            if (stopped) {
                ++late_calls;
            }
        });
    acceptor.set_target(&b);
    a.transport->set_peer_address(2, "127.0.0.1:" + std::to_string(acceptor.port()));

    std::atomic<bool> sending{true};
    std::thread sender([&] {
        std::uint64_t sequence = 0;
        while (sending) {
            a.transport->send({make_message(1, 2, 1, sequence), make_message(1, 2, 2, sequence)});
            ++sequence;
            std::this_thread::sleep_for(std::chrono::microseconds(100));
        }
    });
    CHECK(eventually([&] { return calls > 50; }));
    b.stop();
    stopped = true;
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    sending = false;
    sender.join();
    acceptor.close();
    CHECK(late_calls == 0);
}
