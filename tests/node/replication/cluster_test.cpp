// Three Raft cores per group, two groups, in one process: each node keeps its Raft state in
// a RaftLogStore on real LMDB (fsync on) and every message crosses the peer wire format
// (one frame per node pair per round, carrying both groups' messages, fed to the receiver
// in odd-sized chunks). Deterministic: fixed seeds, no threads, no clocks.
#include <doctest/doctest.h>

#include <algorithm>
#include <map>
#include <set>
#include <sstream>

#include "raft/core.hpp"
#include "replication/peer_frame.hpp"
#include "replication/peer_payload.hpp"
#include "replication/raft_log_store.hpp"
#include "test_support.hpp"

namespace annal::replication {
namespace {

constexpr std::uint64_t kCluster = 77;
const std::vector<raft::GroupId> kGroups{1, 2};
const raft::Membership kMembers{{1, 2, 3}, {}};

std::string encode_state(const std::vector<std::string>& applied) {
    std::string out;
    for (const std::string& item : applied) {
        out += item;
        out += '\n';
    }
    return out;
}

std::vector<std::string> decode_state(const std::string& data) {
    std::vector<std::string> out;
    std::istringstream in(data);
    for (std::string line; std::getline(in, line);) {
        out.push_back(line);
    }
    return out;
}

struct GroupReplica {
    std::unique_ptr<raft::Core> core;
    std::vector<std::string> applied;  // the state machine: data of applied Normal entries
    raft::Index applied_index = 0;
};

struct Node {
    raft::NodeId id = 0;
    test::TempDir dir;
    std::unique_ptr<RaftLogStore> store;
    std::map<raft::GroupId, GroupReplica> groups;
    std::map<raft::NodeId, FrameDecoder> inbound;  // one connection per peer
    int restarts = 0;
    bool up() const { return store != nullptr; }
};

class Cluster {
  public:
    Cluster() {
        for (raft::NodeId id = 1; id <= 3; ++id) {
            nodes_[id].id = id;
            start(id);
        }
    }

    Node& node(raft::NodeId id) { return nodes_.at(id); }

    void start(raft::NodeId id) {
        Node& n = nodes_.at(id);
        n.store = test::open_log(n.dir.str(), true);
        for (raft::GroupId g : kGroups) {
            std::string error;
            raft::Storage* storage = n.store->create_group(g, kMembers, error);
            REQUIRE_MESSAGE(storage != nullptr, error);
            raft::Config config;
            config.id = id;
            config.group = g;
            config.seed = id * 1000 + g * 10 + static_cast<std::uint64_t>(n.restarts);
            GroupReplica& replica = n.groups[g];
            const auto snap = storage->snapshot();
            replica.applied = decode_state(snap->data);
            replica.applied_index = snap->meta.index;
            replica.core = std::make_unique<raft::Core>(config, *storage);
        }
        n.inbound.clear();
    }

    // Process death: in-memory state, unpersisted Readys and open connections are gone.
    void crash(raft::NodeId id) {
        Node& n = nodes_.at(id);
        n.groups.clear();
        n.inbound.clear();
        n.store.reset();
        ++n.restarts;
        for (auto& [pair, messages] : outbox_) {
            if (pair.second == id) {
                messages.clear();
            }
        }
    }

    void round() {
        for (auto& [id, n] : nodes_) {
            if (!n.up()) {
                continue;
            }
            for (auto& [g, replica] : n.groups) {
                replica.core->tick();
            }
            handle_ready(n);
        }
        deliver();
    }

    // Follows the persistence contract with one group commit for all groups of the node.
    void handle_ready(Node& n) {
        std::vector<std::pair<raft::GroupId, raft::Ready>> readys;
        for (auto& [g, replica] : n.groups) {
            if (replica.core->has_ready()) {
                readys.emplace_back(g, replica.core->ready());
            }
        }
        if (readys.empty()) {
            return;
        }
        std::vector<GroupReady> batch;
        for (auto& [g, rd] : readys) {
            queue(rd.messages);  // allowed before the write
            if (rd.must_persist()) {
                batch.push_back(GroupReady{g, &rd});
            }
        }
        if (!batch.empty()) {
            const PersistResult result = n.store->persist(batch);
            REQUIRE_MESSAGE(result.ok(), result.message);
            ++group_commits_;
        }
        for (auto& [g, rd] : readys) {
            GroupReplica& replica = n.groups.at(g);
            replica.core->advance(rd);
            queue(rd.messages_after_persist);
            if (rd.snapshot) {
                replica.applied = decode_state(rd.snapshot->data);
                replica.applied_index = rd.snapshot->meta.index;
            }
            for (const raft::Entry& e : rd.committed_entries) {
                if (e.index <= replica.applied_index) {
                    continue;
                }
                REQUIRE(e.index == replica.applied_index + 1);
                replica.applied_index = e.index;
                if (e.type == raft::EntryType::Normal) {
                    replica.applied.push_back(e.data);
                }
            }
        }
    }

    void queue(const std::vector<raft::Message>& messages) {
        for (const raft::Message& m : messages) {
            outbox_[{m.from, m.to}].push_back(m);
        }
    }

    // One frame per node pair: every group's messages to that peer share it.
    void deliver() {
        auto pending = std::move(outbox_);
        outbox_.clear();
        for (auto& [pair, messages] : pending) {
            if (messages.empty()) {
                continue;
            }
            Node& to = nodes_.at(pair.second);
            if (!to.up() || !nodes_.at(pair.first).up()) {
                continue;
            }
            const std::string wire =
                encode_frame(kCluster, FrameType::RaftMessages, encode_raft_batch(messages));
            FrameDecoder& decoder = to.inbound.try_emplace(pair.first, kCluster).first->second;
            // Odd chunk sizes split headers and payloads at varying places.
            const std::size_t chunk = 1 + (frames_ * 37) % 301;
            for (std::size_t pos = 0; pos < wire.size(); pos += chunk) {
                decoder.feed(std::string_view(wire).substr(pos, chunk));
                while (auto frame = decoder.next()) {
                    auto batch = decode_raft_batch(frame->payload);
                    REQUIRE(batch.has_value());
                    for (const raft::Message& m : *batch) {
                        ++messages_delivered_;
                        REQUIRE(to.groups.at(m.group).core->step(m));
                    }
                }
                REQUIRE(decoder.error() == FrameError::None);
            }
            ++frames_;
        }
    }

    raft::Core* leader(raft::GroupId g) {
        raft::Core* best = nullptr;
        for (auto& [id, n] : nodes_) {
            if (!n.up()) {
                continue;
            }
            raft::Core& core = *n.groups.at(g).core;
            if (core.role() == raft::Role::Leader &&
                (best == nullptr || core.term() > best->term())) {
                best = &core;
            }
        }
        return best;
    }

    // Runs rounds until `done` holds (REQUIREs that it does within `max_rounds`).
    template <typename Done>
    void run_until(Done done, int max_rounds, const char* what) {
        for (int i = 0; i < max_rounds; ++i) {
            if (done()) {
                return;
            }
            round();
        }
        for (auto& [id, n] : nodes_) {
            if (!n.up()) {
                MESSAGE("node " << id << " down");
                continue;
            }
            for (auto& [g, replica] : n.groups) {
                const raft::Status st = replica.core->status();
                MESSAGE("node " << id << " group " << g << " role "
                                << std::string(raft::to_string(st.role)) << " term " << st.term
                                << " commit " << st.commit << " last " << st.last_index
                                << " applied " << replica.applied.size());
            }
        }
        FAIL("not reached within " << max_rounds << " rounds: " << std::string(what));
    }

    // Proposes `count` entries to group g through its leader, one per round.
    void propose(raft::GroupId g, int count, const std::string& tag) {
        for (int i = 0; i < count;) {
            raft::Core* core = leader(g);
            if (core != nullptr && core->propose(tag + "-" + std::to_string(i)).accepted()) {
                proposed_[g].push_back(tag + "-" + std::to_string(i));
                ++i;
            }
            round();
        }
    }

    // Every node that is up has applied at least `count` entries of group g.
    bool all_applied(raft::GroupId g, std::size_t count) {
        for (auto& [id, n] : nodes_) {
            if (n.up() && n.groups.at(g).applied.size() < count) {
                return false;
            }
        }
        return true;
    }

    const std::vector<std::string>& proposed(raft::GroupId g) { return proposed_[g]; }
    std::uint64_t group_commits() const { return group_commits_; }
    std::uint64_t frames() const { return frames_; }
    std::uint64_t messages_delivered() const { return messages_delivered_; }

  private:
    std::map<raft::NodeId, Node> nodes_;
    std::map<std::pair<raft::NodeId, raft::NodeId>, std::vector<raft::Message>> outbox_;
    std::map<raft::GroupId, std::vector<std::string>> proposed_;
    std::uint64_t group_commits_ = 0;
    std::uint64_t frames_ = 0;
    std::uint64_t messages_delivered_ = 0;
};

struct DurableView {
    raft::HardState hard_state;
    raft::Index first = 0;
    raft::Index last = 0;
    std::vector<raft::Entry> entries;
};

DurableView durable_view(const raft::Storage& s) {
    DurableView v{s.initial_state(), s.first_index(), s.last_index(), {}};
    if (v.last >= v.first) {
        v.entries = s.entries(v.first, v.last + 1, UINT64_MAX);
    }
    return v;
}

}  // namespace

TEST_CASE("three replicas on LMDB over the peer wire format: crash, recover, rejoin") {
    Cluster cluster;
    for (raft::GroupId g : kGroups) {
        cluster.run_until([&] { return cluster.leader(g) != nullptr; }, 500, "a leader per group");
    }
    for (raft::GroupId g : kGroups) {
        cluster.propose(g, 30, "first-g" + std::to_string(g));
    }
    for (raft::GroupId g : kGroups) {
        cluster.run_until([&] { return cluster.all_applied(g, 30); }, 500, "first batch applied");
    }

    // Crash the leader of group 1 right after it hands out a Ready that it never persists.
    const raft::NodeId victim = cluster.leader(1)->id();
    Node& v = cluster.node(victim);
    cluster.leader(1)->propose("lost-on-crash");  // appended in memory only
    for (auto& [g, replica] : v.groups) {
        if (replica.core->has_ready()) {
            (void)replica.core->ready();  // handed out, never persisted: lost by the crash
        }
    }
    std::map<raft::GroupId, DurableView> before;
    for (raft::GroupId g : kGroups) {
        before[g] = durable_view(*v.store->group(g));
    }
    cluster.crash(victim);

    // The others elect a new leader for group 1 and keep committing.
    cluster.run_until([&] { return cluster.leader(1) != nullptr; }, 500, "a new leader");
    for (raft::GroupId g : kGroups) {
        cluster.propose(g, 30, "second-g" + std::to_string(g));
    }
    for (raft::GroupId g : kGroups) {
        cluster.run_until([&] { return cluster.all_applied(g, 60); }, 500, "second batch applied");
    }
    // Group 2 snapshots and compacts past everything the crashed node has, so it must catch
    // up by snapshot; group 1 keeps its log, so it catches up by entries.
    for (raft::NodeId id = 1; id <= 3; ++id) {
        Node& n = cluster.node(id);
        if (!n.up()) {
            continue;
        }
        GroupReplica& replica = n.groups.at(2);
        const raft::Index at = replica.applied_index;
        REQUIRE(n.store
                    ->create_snapshot(2, at, replica.core->membership_at(at),
                                      encode_state(replica.applied))
                    .ok());
        REQUIRE(n.store->compact(2, at).ok());
        CHECK(n.store->group(2)->first_index() == at + 1);
    }

    // Reopen: the durable state is exactly what was persisted before the crash.
    cluster.start(victim);
    for (raft::GroupId g : kGroups) {
        const DurableView after = durable_view(*v.store->group(g));
        CHECK(after.hard_state == before[g].hard_state);
        CHECK(after.first == before[g].first);
        CHECK(after.last == before[g].last);
        CHECK(after.entries == before[g].entries);
        CHECK(v.store->verify(g).empty());
    }
    for (raft::GroupId g : kGroups) {
        cluster.run_until([&] { return cluster.all_applied(g, 60); }, 1000,
                          "crashed node caught up");
    }
    CHECK(v.store->group(2)->snapshot()->meta.index > 0);  // it installed group 2's snapshot
    for (raft::GroupId g : kGroups) {
        cluster.propose(g, 10, "third-g" + std::to_string(g));
    }
    for (raft::GroupId g : kGroups) {
        cluster.run_until([&] { return cluster.all_applied(g, 70); }, 500, "after rejoin");
    }

    for (raft::GroupId g : kGroups) {
        const auto& reference = cluster.node(1).groups.at(g).applied;
        // Every accepted proposal that committed appears once, in the same order everywhere.
        std::set<std::string> unique(reference.begin(), reference.end());
        CHECK(unique.size() == reference.size());
        CHECK(std::find(reference.begin(), reference.end(), "lost-on-crash") == reference.end());
        for (raft::NodeId id = 2; id <= 3; ++id) {
            CHECK(cluster.node(id).groups.at(g).applied == reference);
        }
        std::size_t found = 0;
        for (const std::string& p : cluster.proposed(g)) {
            found += unique.count(p);
        }
        CHECK(found >= 70);
        // The durable logs agree wherever they overlap.
        for (raft::NodeId id = 1; id <= 3; ++id) {
            Node& n = cluster.node(id);
            CHECK(n.store->verify(g).empty());
            const raft::Storage& a = *n.store->group(g);
            const raft::Storage& b = *cluster.node(id % 3 + 1).store->group(g);
            const raft::Index lo = std::max(a.first_index(), b.first_index());
            const raft::Index hi = std::min(a.last_index(), b.last_index());
            if (lo <= hi) {
                CHECK(a.entries(lo, hi + 1, UINT64_MAX) == b.entries(lo, hi + 1, UINT64_MAX));
            }
        }
    }
    CHECK(cluster.frames() > 0);
    // Both groups' traffic shared frames: fewer frames than messages.
    CHECK(cluster.messages_delivered() > cluster.frames());
    CHECK(cluster.group_commits() > 0);
}

}  // namespace annal::replication
