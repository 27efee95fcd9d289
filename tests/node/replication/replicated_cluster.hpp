// An in-process cluster of ReplicatedEventStores in temp directories, wired through a fake
// PeerSender that hands messages straight to the receiving store's queue and can cut links
// (partitions). Used by the replicated store tests.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "replication/replicated_event_store.hpp"
#include "test_support.hpp"

namespace annal::replication::test {

class FakeNetwork {
  public:
    void attach(raft::NodeId id, ReplicatedEventStore* store);
    void detach(raft::NodeId id);
    // Cuts (or restores) every link between `id` and the other nodes, both ways.
    void isolate(raft::NodeId id, bool isolated);
    void deliver(std::vector<raft::Message> messages);
    std::uint64_t delivered() const;

  private:
    mutable std::mutex mutex_;
    std::map<raft::NodeId, ReplicatedEventStore*> stores_;
    std::set<raft::NodeId> isolated_;
    std::uint64_t delivered_ = 0;
};

class FakeSender final : public PeerSender {
  public:
    explicit FakeSender(FakeNetwork& network) : network_(network) {}
    void send(std::vector<raft::Message> messages) override {
        network_.deliver(std::move(messages));
    }
    void set_peer_address(raft::NodeId id, const std::string& address) override;
    void remove_peer(raft::NodeId id) override;
    std::map<raft::NodeId, std::string> addresses() const;

  private:
    FakeNetwork& network_;
    mutable std::mutex mutex_;
    std::map<raft::NodeId, std::string> addresses_;
};

// Serves snapshot fetches from the running stores, found by address, like the HTTP route
// does between processes. Faults on request: every other call fails, chunks are cut short,
// or everything fails while `paused`.
class FakeSnapshotSource final : public SnapshotSource {
  public:
    struct Call {
        std::string address;
        std::uint64_t after = 0;
        std::uint64_t upto = 0;
    };
    void attach(const std::string& address, ReplicatedEventStore* store);
    void detach(const std::string& address);
    FetchResult fetch(const std::string& address, std::uint64_t after_position,
                      std::uint64_t upto_position, std::size_t max_bytes) override;

    void fail_every_other_call(bool on) { fail_every_other_ = on; }
    void limit_records_per_call(std::size_t records) { max_records_ = records; }
    void pause(bool paused) { paused_ = paused; }
    // Pauses by itself once `successes` calls have succeeded (0: never).
    void pause_after(std::size_t successes) { pause_after_ = successes; }
    std::vector<Call> calls() const;
    std::size_t successful_calls() const;

  private:
    mutable std::mutex mutex_;
    std::map<std::string, ReplicatedEventStore*> stores_;
    std::vector<Call> calls_;
    std::size_t successes_ = 0;
    std::atomic<bool> fail_every_other_{false};
    std::atomic<std::size_t> max_records_{0};  // 0: no limit
    std::atomic<bool> paused_{false};
    std::atomic<std::size_t> pause_after_{0};
};

struct ClusterNode {
    raft::NodeId id = 0;
    std::string address;
    std::unique_ptr<TempDir> dir;
    std::unique_ptr<FakeSender> sender;
    std::unique_ptr<ReplicatedEventStore> store;
};

class ReplicatedCluster {
  public:
    // log_retain_entries: what every node keeps of its log (small: followers and learners
    // behind it need a snapshot); snapshot_chunk_bytes: per fetch.
    explicit ReplicatedCluster(std::size_t voters, std::uint32_t tick_ms = 20,
                               std::uint64_t log_retain_entries = 50000,
                               std::size_t snapshot_chunk_bytes = 1 << 20);
    ~ReplicatedCluster();

    // (Re)starts a node (same directory if it ran before). join: start with no membership.
    void start(raft::NodeId id, bool join = false);
    // Adjusts the options of every node started from now on.
    void customize(std::function<void(raft::NodeId, ReplicatedStoreOptions&)> customize) {
        customize_ = std::move(customize);
    }
    // Destroys the store without a graceful hand-off (a crash, from the cluster's view).
    void crash(raft::NodeId id);
    ReplicatedEventStore& store(raft::NodeId id) { return *nodes_.at(id).store; }
    bool running(raft::NodeId id) const {
        auto it = nodes_.find(id);
        return it != nodes_.end() && it->second.store != nullptr;
    }
    std::string address(raft::NodeId id) const { return "127.0.0.1:" + std::to_string(2112 + id); }
    FakeNetwork& network() { return network_; }
    FakeSnapshotSource& snapshot_source() { return snapshot_source_; }
    FakeSender& sender(raft::NodeId id) { return *nodes_.at(id).sender; }
    std::vector<raft::NodeId> running_ids() const;

    // The node every running node (except `ignoring`) agrees leads; 0 after the timeout.
    raft::NodeId wait_for_leader(std::chrono::milliseconds timeout = std::chrono::seconds(20),
                                 std::set<raft::NodeId> ignoring = {});
    // Waits until every running node has applied `head` events.
    bool wait_for_head(std::uint64_t head,
                       std::chrono::milliseconds timeout = std::chrono::seconds(20));

  private:
    std::size_t voters_;
    std::uint32_t tick_ms_;
    std::uint64_t log_retain_entries_;
    std::size_t snapshot_chunk_bytes_;
    FakeNetwork network_;
    FakeSnapshotSource snapshot_source_;
    std::map<raft::NodeId, ClusterNode> nodes_;
    std::function<void(raft::NodeId, ReplicatedStoreOptions&)> customize_;
};

// Polls `done` every few milliseconds until it holds or `timeout` passes.
bool eventually(const std::function<bool()>& done,
                std::chrono::milliseconds timeout = std::chrono::seconds(20));

// A request of `count` events with fresh ids (canonical UUIDs) on `stream`.
storage::AppendRequest make_request(const std::string& stream, std::size_t count,
                                    storage::ExpectedVersion expected = {});

// Synchronous wrappers (nullopt: no completion within the timeout).
std::optional<storage::AppendResult> append_and_wait(
    storage::EventStore& store, storage::AppendRequest request,
    std::chrono::milliseconds timeout = std::chrono::seconds(20));
std::optional<AdminResult> admin_and_wait(
    const std::function<void(AdminCallback)>& call,
    std::chrono::milliseconds timeout = std::chrono::seconds(20));
// As admin_and_wait, but retries (up to `timeout` in all) the refusals that only mean
// "not yet": a new leader that has not committed an entry of its term (leader_not_ready) or
// has not applied the last change (change_pending), as a careful client would.
std::optional<AdminResult> admin_when_ready(
    const std::function<void(AdminCallback)>& call,
    std::chrono::milliseconds timeout = std::chrono::seconds(20));
std::optional<storage::ReadBarrierResult> barrier_and_wait(
    storage::EventStore& store, std::chrono::milliseconds timeout = std::chrono::seconds(20));

}  // namespace annal::replication::test
