// Real-socket fixtures for the transport tests: io threads standing in for the HTTP
// server's, a tiny acceptor standing in for its one port (accept, read 4 bytes, hand over),
// and an inbox collecting delivered messages.
#pragma once

#include <algorithm>
#include <atomic>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/strand.hpp>
#include <chrono>
#include <condition_variable>
#include <future>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "raft/message.hpp"
#include "transport/peer_transport.hpp"

namespace annal::transport::test {

namespace net = boost::asio;
using tcp = net::ip::tcp;
using namespace std::chrono_literals;

class IoThreads {
  public:
    explicit IoThreads(int count = 2) : work_(io_.get_executor()) {
        for (int i = 0; i < count; ++i) {
            threads_.emplace_back([this] { io_.run(); });
        }
    }
    ~IoThreads() {
        work_.reset();
        io_.stop();
        for (auto& thread : threads_) {
            thread.join();
        }
    }
    net::io_context& io() { return io_; }

  private:
    net::io_context io_;
    net::executor_work_guard<net::io_context::executor_type> work_;
    std::vector<std::thread> threads_;
};

// Accepts on 127.0.0.1:port (0 = any free port), reads the first 4 bytes and hands the
// socket to the target transport, whatever the bytes are (the transport must cope).
class TestAcceptor {
  public:
    TestAcceptor(net::io_context& io, std::uint16_t port)
        : io_(io), strand_(net::make_strand(io)), acceptor_(strand_) {
        const tcp::endpoint endpoint(net::ip::make_address("127.0.0.1"), port);
        acceptor_.open(endpoint.protocol());
        acceptor_.set_option(tcp::acceptor::reuse_address(true));
        acceptor_.bind(endpoint);
        acceptor_.listen();
        port_ = acceptor_.local_endpoint().port();
        net::post(strand_, [this] { accept_next(); });
    }
    ~TestAcceptor() { close(); }

    std::uint16_t port() const { return port_; }
    void set_target(PeerTransport* target) {
        std::lock_guard lock(state_->mutex);
        state_->target = target;
    }
    // Synchronous: after it returns, the target is never called again.
    void close() {
        set_target(nullptr);
        if (closed_) {
            return;
        }
        closed_ = true;
        std::promise<void> done;
        net::post(strand_, [this, &done] {
            boost::system::error_code ignored;
            acceptor_.close(ignored);
            done.set_value();
        });
        done.get_future().wait();
    }

  private:
    struct State {
        std::mutex mutex;
        PeerTransport* target = nullptr;
    };

    void accept_next() {
        acceptor_.async_accept(
            net::make_strand(io_), [this](boost::system::error_code ec, tcp::socket socket) {
                if (ec) {
                    return;  // closed
                }
                auto held = std::make_shared<tcp::socket>(std::move(socket));
                auto preamble = std::make_shared<std::string>(4, '\0');
                net::async_read(*held, net::buffer(*preamble),
                                [state = state_, held, preamble](boost::system::error_code read_ec,
                                                                 std::size_t) {
                                    if (read_ec) {
                                        return;
                                    }
                                    std::lock_guard lock(state->mutex);
                                    if (state->target != nullptr) {
                                        state->target->accept(std::move(*held), *preamble);
                                    }
                                });
                accept_next();
            });
    }

    net::io_context& io_;
    net::strand<net::io_context::executor_type> strand_;
    tcp::acceptor acceptor_;
    std::uint16_t port_ = 0;
    bool closed_ = false;
    std::shared_ptr<State> state_ = std::make_shared<State>();
};

class Inbox {
  public:
    void add(std::vector<raft::Message> messages) {
        std::lock_guard lock(mutex_);
        for (auto& message : messages) {
            messages_.push_back(std::move(message));
        }
        ++deliveries_;
        changed_.notify_all();
    }
    bool wait_for_count(std::size_t count, std::chrono::milliseconds timeout = 30s) {
        std::unique_lock lock(mutex_);
        return changed_.wait_for(lock, timeout, [&] { return messages_.size() >= count; });
    }
    std::size_t size() const {
        std::lock_guard lock(mutex_);
        return messages_.size();
    }
    std::size_t deliveries() const {
        std::lock_guard lock(mutex_);
        return deliveries_;
    }
    std::vector<raft::Message> messages() const {
        std::lock_guard lock(mutex_);
        return messages_;
    }

  private:
    mutable std::mutex mutex_;
    std::condition_variable changed_;
    std::vector<raft::Message> messages_;
    std::size_t deliveries_ = 0;
};

// A transport behind its own test acceptor, as a node would have it.
struct TestNode {
    TestNode(net::io_context& io, raft::NodeId id, std::uint16_t port = 0,
             PeerTransportOptions options = {})
        : acceptor(std::make_unique<TestAcceptor>(io, port)) {
        options.self = id;
        if (options.cluster_id == 0) {
            options.cluster_id = cluster_id_from_name("test-cluster");
        }
        transport = std::make_unique<PeerTransport>(
            io, options, [this](std::vector<raft::Message> m) { inbox.add(std::move(m)); },
            [this](raft::NodeId peer) {
                std::lock_guard lock(unreachable_mutex);
                unreachable.push_back(peer);
            });
        acceptor->set_target(transport.get());
    }
    ~TestNode() {
        acceptor->close();
        transport->stop();
    }
    std::string address() const { return "127.0.0.1:" + std::to_string(acceptor->port()); }
    std::size_t unreachable_reports(raft::NodeId peer) {
        std::lock_guard lock(unreachable_mutex);
        return static_cast<std::size_t>(std::count(unreachable.begin(), unreachable.end(), peer));
    }
    PeerLinkStats peer_stats(raft::NodeId peer) const {
        for (const auto& stats : transport->stats().peers) {
            if (stats.id == peer) {
                return stats;
            }
        }
        return {};
    }

    Inbox inbox;
    std::mutex unreachable_mutex;
    std::vector<raft::NodeId> unreachable;
    std::unique_ptr<TestAcceptor> acceptor;
    std::unique_ptr<PeerTransport> transport;
};

inline raft::Message make_message(raft::NodeId from, raft::NodeId to, raft::GroupId group,
                                  std::uint64_t sequence, std::size_t data_bytes = 16) {
    raft::Message m;
    m.type = raft::MessageType::Append;
    m.group = group;
    m.from = from;
    m.to = to;
    m.term = 3;
    m.index = sequence;
    m.entries.push_back(
        raft::Entry{3, sequence + 1, raft::EntryType::Normal,
                    std::string(data_bytes, static_cast<char>('a' + sequence % 26))});
    return m;
}

// Polls `condition` until it holds or `timeout` passes (a liveness bound, not a timing check).
template <typename Condition>
bool eventually(Condition condition, std::chrono::milliseconds timeout = 30s) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (!condition()) {
        if (std::chrono::steady_clock::now() > deadline) {
            return false;
        }
        std::this_thread::sleep_for(2ms);
    }
    return true;
}

}  // namespace annal::transport::test
