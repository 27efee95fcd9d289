#include "replicated_cluster.hpp"

#include <atomic>
#include <cstdio>
#include <future>
#include <stdexcept>
#include <thread>

#include "storage/raw_records.hpp"

namespace annal::replication::test {

void FakeNetwork::attach(raft::NodeId id, ReplicatedEventStore* store) {
    std::lock_guard lock(mutex_);
    stores_[id] = store;
}

void FakeNetwork::detach(raft::NodeId id) {
    std::lock_guard lock(mutex_);
    stores_.erase(id);
}

void FakeNetwork::isolate(raft::NodeId id, bool isolated) {
    std::lock_guard lock(mutex_);
    if (isolated) {
        isolated_.insert(id);
    } else {
        isolated_.erase(id);
    }
}

void FakeNetwork::deliver(std::vector<raft::Message> messages) {
    std::map<raft::NodeId, std::vector<raft::Message>> by_target;
    for (raft::Message& message : messages) {
        by_target[message.to].push_back(std::move(message));
    }
    // Holding the mutex while handing over keeps a detached (destroyed) store from being
    // called; receive() only queues, so this never waits on another loop.
    std::lock_guard lock(mutex_);
    for (auto& [to, batch] : by_target) {
        auto it = stores_.find(to);
        if (it == stores_.end() || isolated_.count(to) > 0 ||
            isolated_.count(batch.front().from) > 0) {
            continue;
        }
        delivered_ += batch.size();
        it->second->receive(std::move(batch));
    }
}

std::uint64_t FakeNetwork::delivered() const {
    std::lock_guard lock(mutex_);
    return delivered_;
}

void FakeSender::set_peer_address(raft::NodeId id, const std::string& address) {
    std::lock_guard lock(mutex_);
    addresses_[id] = address;
}

void FakeSender::remove_peer(raft::NodeId id) {
    std::lock_guard lock(mutex_);
    addresses_.erase(id);
}

std::map<raft::NodeId, std::string> FakeSender::addresses() const {
    std::lock_guard lock(mutex_);
    return addresses_;
}

void FakeSnapshotSource::attach(const std::string& address, ReplicatedEventStore* store) {
    std::lock_guard lock(mutex_);
    stores_[address] = store;
}

void FakeSnapshotSource::detach(const std::string& address) {
    std::lock_guard lock(mutex_);
    stores_.erase(address);
}

FetchResult FakeSnapshotSource::fetch(const std::string& address, std::uint64_t after_position,
                                      std::uint64_t upto_position, std::size_t max_bytes) {
    // Held while reading, so a store is never destroyed under a fetch (detach waits).
    std::lock_guard lock(mutex_);
    calls_.push_back({address, after_position, upto_position});
    if (paused_ || (fail_every_other_ && calls_.size() % 2 == 1)) {
        return {false, {}, "injected failure"};
    }
    auto it = stores_.find(address);
    if (it == stores_.end()) {
        return {false, {}, "no such peer"};
    }
    storage::RawRecords records =
        it->second->read_raw_records(after_position, upto_position, max_bytes);
    if (records.status != storage::ReadStatus::Ok) {
        return {false, {}, records.message};
    }
    if (const std::size_t limit = max_records_; limit > 0 && records.records > limit) {
        std::vector<storage::RawRecordView> views;
        storage::decode_raw_records(records.body, views);
        std::string cut;
        for (std::size_t i = 0; i < limit; ++i) {
            storage::append_raw_record(cut, views[i].position, views[i].record);
        }
        records.body = std::move(cut);
    }
    if (++successes_ == pause_after_) {
        paused_ = true;
    }
    return {true, std::move(records.body), {}};
}

std::vector<FakeSnapshotSource::Call> FakeSnapshotSource::calls() const {
    std::lock_guard lock(mutex_);
    return calls_;
}

std::size_t FakeSnapshotSource::successful_calls() const {
    std::lock_guard lock(mutex_);
    return successes_;
}

ReplicatedCluster::ReplicatedCluster(std::size_t voters, std::uint32_t tick_ms,
                                     std::uint64_t log_retain_entries,
                                     std::size_t snapshot_chunk_bytes)
    : voters_(voters),
      tick_ms_(tick_ms),
      log_retain_entries_(log_retain_entries),
      snapshot_chunk_bytes_(snapshot_chunk_bytes) {
    for (raft::NodeId id = 1; id <= voters_; ++id) {
        start(id);
    }
}

ReplicatedCluster::~ReplicatedCluster() {
    for (auto& [id, node] : nodes_) {
        network_.detach(id);
        snapshot_source_.detach(node.address);
    }
    for (auto& [id, node] : nodes_) {
        node.store.reset();
    }
}

void ReplicatedCluster::start(raft::NodeId id, bool join) {
    ClusterNode& node = nodes_[id];
    if (node.store) {
        throw std::logic_error("node already running");
    }
    node.id = id;
    node.address = address(id);
    if (!node.dir) {
        node.dir = std::make_unique<TempDir>();
    }
    if (!node.sender) {
        node.sender = std::make_unique<FakeSender>(network_);
    }
    ReplicatedStoreOptions options;
    options.store.directory = node.dir->str();
    options.store.durable = false;  // the process does not die: page cache suffices
    options.store.initial_map_bytes = 4ull << 20;
    options.self = id;
    options.self_address = node.address;
    for (raft::NodeId peer = 1; peer <= voters_; ++peer) {
        options.initial_cluster.push_back({peer, address(peer)});
    }
    options.join = join;
    options.tick_ms = tick_ms_;
    options.election_ticks = 10;
    options.heartbeat_ticks = 1;
    options.read_barrier_timeout = std::chrono::seconds(10);
    options.log_retain_entries = log_retain_entries_;
    options.snapshot_source = &snapshot_source_;
    options.snapshot_chunk_bytes = snapshot_chunk_bytes_;
    if (customize_) {
        customize_(id, options);
    }
    std::string error;
    node.store = ReplicatedEventStore::open(options, *node.sender, error);
    if (!node.store) {
        throw std::runtime_error("cannot open node " + std::to_string(id) + ": " + error);
    }
    network_.attach(id, node.store.get());
    snapshot_source_.attach(node.address, node.store.get());
}

void ReplicatedCluster::crash(raft::NodeId id) {
    network_.detach(id);
    snapshot_source_.detach(nodes_.at(id).address);
    nodes_.at(id).store.reset();
}

std::vector<raft::NodeId> ReplicatedCluster::running_ids() const {
    std::vector<raft::NodeId> out;
    for (const auto& [id, node] : nodes_) {
        if (node.store) {
            out.push_back(id);
        }
    }
    return out;
}

raft::NodeId ReplicatedCluster::wait_for_leader(std::chrono::milliseconds timeout,
                                                std::set<raft::NodeId> ignoring) {
    raft::NodeId found = 0;
    eventually(
        [&] {
            found = 0;
            for (raft::NodeId id : running_ids()) {
                if (ignoring.count(id) > 0) {
                    continue;
                }
                const ClusterView view = store(id).cluster_view();
                if (view.leader == 0 || (found != 0 && view.leader != found)) {
                    found = 0;
                    return false;
                }
                found = view.leader;
            }
            return found != 0 && running(found) && store(found).cluster_view().role == "leader";
        },
        timeout);
    return found;
}

bool ReplicatedCluster::wait_for_head(std::uint64_t head, std::chrono::milliseconds timeout) {
    return eventually(
        [&] {
            for (raft::NodeId id : running_ids()) {
                if (store(id).head_position() < head) {
                    return false;
                }
            }
            return true;
        },
        timeout);
}

bool eventually(const std::function<bool()>& done, std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (!done()) {
        if (std::chrono::steady_clock::now() >= deadline) {
            return false;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    return true;
}

storage::AppendRequest make_request(const std::string& stream, std::size_t count,
                                    storage::ExpectedVersion expected) {
    static std::atomic<std::uint64_t> next_id{1};
    storage::AppendRequest request;
    request.stream = stream;
    request.expected = expected;
    for (std::size_t i = 0; i < count; ++i) {
        const std::uint64_t n = next_id.fetch_add(1);
        char id[40];
        std::snprintf(id, sizeof id, "00000000-0000-4000-8000-%012llx",
                      static_cast<unsigned long long>(n));
        storage::ProposedEvent event;
        event.id = id;
        event.type = "TestEvent";
        event.timestamp_us = 1'700'000'000'000'000 + static_cast<std::int64_t>(n);
        event.data = "{\"n\":" + std::to_string(n) + "}";
        request.events.push_back(std::move(event));
    }
    return request;
}

std::optional<storage::AppendResult> append_and_wait(storage::EventStore& store,
                                                     storage::AppendRequest request,
                                                     std::chrono::milliseconds timeout) {
    auto promise = std::make_shared<std::promise<storage::AppendResult>>();
    auto future = promise->get_future();
    store.append(std::move(request), [promise](storage::AppendResult result) {
        promise->set_value(std::move(result));
    });
    if (future.wait_for(timeout) != std::future_status::ready) {
        return std::nullopt;
    }
    return future.get();
}

std::optional<AdminResult> admin_and_wait(const std::function<void(AdminCallback)>& call,
                                          std::chrono::milliseconds timeout) {
    auto promise = std::make_shared<std::promise<AdminResult>>();
    auto future = promise->get_future();
    call([promise](AdminResult result) { promise->set_value(std::move(result)); });
    if (future.wait_for(timeout) != std::future_status::ready) {
        return std::nullopt;
    }
    return future.get();
}

std::optional<AdminResult> admin_when_ready(const std::function<void(AdminCallback)>& call,
                                            std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
        auto result = admin_and_wait(call, timeout);
        const bool not_yet =
            result && result->status == AdminResult::Status::Refused &&
            (result->reason == "leader_not_ready" || result->reason == "change_pending");
        if (!not_yet || std::chrono::steady_clock::now() >= deadline) {
            return result;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
}

std::optional<storage::ReadBarrierResult> barrier_and_wait(storage::EventStore& store,
                                                           std::chrono::milliseconds timeout) {
    auto promise = std::make_shared<std::promise<storage::ReadBarrierResult>>();
    auto future = promise->get_future();
    store.read_barrier(
        [promise](storage::ReadBarrierResult result) { promise->set_value(std::move(result)); });
    if (future.wait_for(timeout) != std::future_status::ready) {
        return std::nullopt;
    }
    return future.get();
}

}  // namespace annal::replication::test
