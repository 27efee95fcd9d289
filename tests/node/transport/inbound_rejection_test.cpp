// Hostile or broken inbound connections: each is rejected (counted, closed) without
// delivering anything from the offending frame, and the transport keeps serving good peers.
#include <doctest/doctest.h>
#include <poll.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/write.hpp>

#include "replication/peer_frame.hpp"
#include "replication/peer_payload.hpp"
#include "test_support.hpp"

using namespace annal::transport;
using namespace annal::transport::test;
using annal::raft::Message;
using annal::raft::NodeId;
namespace replication = annal::replication;

namespace {

const std::uint64_t kCluster = cluster_id_from_name("test-cluster");

std::string hello_frame(NodeId node, std::uint64_t cluster = kCluster) {
    return replication::encode_frame(cluster, replication::FrameType::Hello,
                                     replication::encode_hello(node));
}

std::string messages_frame(const std::vector<Message>& messages) {
    return replication::encode_frame(kCluster, replication::FrameType::RaftMessages,
                                     replication::encode_raft_batch(messages));
}

// A raw client speaking to the node's port with blocking calls.
class RawPeer {
  public:
    explicit RawPeer(std::uint16_t port) : socket_(io_) {
        socket_.connect(tcp::endpoint(net::ip::make_address("127.0.0.1"), port));
    }
    void write(const std::string& bytes) {
        boost::system::error_code ignored;  // the server may already have closed
        net::write(socket_, net::buffer(bytes), ignored);
    }
    void finish_sending() {
        boost::system::error_code ignored;
        socket_.shutdown(tcp::socket::shutdown_send, ignored);
    }
    // True once the server has closed the connection (EOF or reset) within `timeout`.
    bool closed_by_server(std::chrono::milliseconds timeout = 10s) {
        const auto deadline = std::chrono::steady_clock::now() + timeout;
        while (std::chrono::steady_clock::now() < deadline) {
            pollfd descriptor{socket_.native_handle(), POLLIN, 0};
            if (::poll(&descriptor, 1, 50) <= 0) {
                continue;
            }
            std::array<char, 256> buffer{};
            boost::system::error_code ec;
            const std::size_t n = socket_.read_some(net::buffer(buffer), ec);
            if (ec || n == 0) {
                return true;
            }
        }
        return false;
    }

  private:
    net::io_context io_;
    tcp::socket socket_;
};

}  // namespace

TEST_CASE("bad inbound connections are rejected, counted and closed; good peers still work") {
    IoThreads io(2);
    PeerTransportOptions options;
    options.hello_timeout = std::chrono::milliseconds(300);
    TestNode b(io.io(), 2, 0, options);
    const std::uint16_t port = b.acceptor->port();
    std::uint64_t expected_rejections = 0;

    auto expect_rejected = [&](RawPeer& peer) {
        ++expected_rejections;
        CHECK(peer.closed_by_server());
        CHECK(eventually(
            [&] { return b.transport->stats().inbound_rejected == expected_rejections; }));
    };

    SUBCASE("garbage bytes (not a frame at all)") {
        RawPeer peer(port);
        peer.write("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
        expect_rejected(peer);
    }
    SUBCASE("the magic followed by garbage (damaged header)") {
        RawPeer peer(port);
        peer.write(std::string("ANPR") + std::string(60, '\x5a'));
        expect_rejected(peer);
    }
    SUBCASE("a truncated frame, then EOF") {
        RawPeer peer(port);
        const std::string frame = messages_frame({make_message(9, 2, 1, 0, 500)});
        peer.write(hello_frame(9) + frame.substr(0, frame.size() / 2));
        peer.finish_sending();
        expect_rejected(peer);
    }
    SUBCASE("a bit-flipped frame after a good one: the good one only is delivered") {
        RawPeer peer(port);
        std::string bad = messages_frame({make_message(9, 2, 1, 1, 100)});
        bad[bad.size() - 10] ^= 0x04;
        peer.write(hello_frame(9) + messages_frame({make_message(9, 2, 1, 0, 100)}) + bad);
        expect_rejected(peer);
        CHECK(b.inbox.size() == 1);
    }
    SUBCASE("a Hello from another cluster") {
        RawPeer peer(port);
        peer.write(hello_frame(9, cluster_id_from_name("another-cluster")));
        expect_rejected(peer);
    }
    SUBCASE("no Hello: silence until the hello timeout") {
        RawPeer peer(port);
        peer.write("ANPR");  // passes the one-port dispatch, then says nothing more
        expect_rejected(peer);
    }
    SUBCASE("no Hello: messages first") {
        RawPeer peer(port);
        peer.write(messages_frame({make_message(9, 2, 1, 0)}));
        expect_rejected(peer);
    }
    SUBCASE("a Hello claiming to be this node, or node 0") {
        RawPeer self_peer(port);
        self_peer.write(hello_frame(2));
        expect_rejected(self_peer);
        RawPeer zero_peer(port);
        zero_peer.write(hello_frame(0));
        expect_rejected(zero_peer);
    }
    SUBCASE("a second Hello") {
        RawPeer peer(port);
        peer.write(hello_frame(9) + hello_frame(9));
        expect_rejected(peer);
    }
    SUBCASE("a batch with one message of the wrong `from` is not delivered at all") {
        RawPeer peer(port);
        peer.write(hello_frame(9) +
                   messages_frame({make_message(9, 2, 1, 0), make_message(8, 2, 1, 1)}));
        expect_rejected(peer);
    }
    SUBCASE("a message addressed to another node") {
        RawPeer peer(port);
        peer.write(hello_frame(9) + messages_frame({make_message(9, 3, 1, 0)}));
        expect_rejected(peer);
    }
    SUBCASE("an undecodable batch inside a valid frame") {
        RawPeer peer(port);
        peer.write(hello_frame(9) + replication::encode_frame(kCluster,
                                                              replication::FrameType::RaftMessages,
                                                              std::string("\0\0\0\x05junk", 8)));
        expect_rejected(peer);
    }

    // Whatever happened above, nothing foreign was delivered, and a good peer gets through.
    for (const Message& m : b.inbox.messages()) {
        CHECK(m.from == 9);
        CHECK(m.index == 0);
    }
    const std::size_t before = b.inbox.size();
    TestNode a(io.io(), 1);
    a.transport->set_peer_address(2, b.address());
    a.transport->send({make_message(1, 2, 1, 100), make_message(1, 2, 2, 101)});
    REQUIRE(b.inbox.wait_for_count(before + 2));
    const auto received = b.inbox.messages();
    CHECK(received[before].from == 1);
    CHECK(received[before + 1].index == 101);
    CHECK(b.transport->stats().inbound_rejected == expected_rejections);
}
