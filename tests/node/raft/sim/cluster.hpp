#pragma once
// Many Raft cores in one process over a simulated network and simulated disks, with a
// checker that watches every step. Used by the random fault simulator, the scenario
// scripts and the benchmark. Time is an integer clock; one core tick is kTickUnits units.

#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "raft/core.hpp"
#include "raft/memory_storage.hpp"
#include "sim/prng.hpp"

namespace annal::raft::sim {

inline constexpr std::uint64_t kTickUnits = 10;

struct NetworkFaults {
    std::uint64_t drop_per_mille = 0;
    std::uint64_t duplicate_per_mille = 0;
    std::uint64_t delay_per_mille = 0;  // message held back for a long time
    std::uint64_t min_latency = 0;      // in time units
    std::uint64_t max_latency = 0;
};

struct SimNode {
    NodeId id = kNoNode;
    std::unique_ptr<MemoryStorage> disk;  // what survives a crash
    std::unique_ptr<Core> core;           // null while crashed
    bool retired = false;                 // removed from the group and shut down for good
    struct Write {
        Ready ready;
        std::uint64_t done_at = 0;
    };
    std::deque<Write> disk_queue;  // handed out, not yet durable: lost on crash
    std::uint64_t disk_min_latency = 0;
    std::uint64_t disk_max_latency = 0;
    std::uint64_t tick_phase = 0;
    // State machine (volatile; rebuilt from the disk snapshot on restart).
    Index applied = 0;
    std::uint64_t hash = 0;
    std::vector<std::string> applied_data;  // Normal payloads, in order
    std::vector<ReadState> reads;           // ReadStates received

    bool up() const { return core != nullptr; }
};

class Cluster {
  public:
    Cluster(std::uint64_t seed, Config base_config);

    // --- topology ---
    // Creates a node whose disk holds `log` (terms only, payload "e<index>") and `state`.
    void add_node(NodeId id, const Membership& bootstrap, const std::vector<Term>& log_terms = {},
                  HardState state = {});
    void crash(NodeId id);
    void restart(NodeId id);
    void retire(NodeId id);
    SimNode& node(NodeId id) { return nodes_.at(id); }
    Core& core(NodeId id) { return *nodes_.at(id).core; }
    std::vector<NodeId> ids() const;
    bool has_node(NodeId id) const { return nodes_.count(id) != 0; }

    // --- network ---
    void cut(NodeId from, NodeId to) { blocked_.insert({from, to}); }
    void isolate(NodeId id);
    void partition(const std::vector<std::vector<NodeId>>& groups);
    void heal() { blocked_.clear(); }
    bool blocked(NodeId from, NodeId to) const { return blocked_.count({from, to}) != 0; }
    NetworkFaults faults;

    // --- driving ---
    std::uint64_t now() const { return now_; }
    // One time unit: ticks due, messages due, disk writes due, new Readys.
    void step();
    void tick_node(NodeId id);
    // Delivers messages until the network is empty (ignoring latency), with instant disks.
    void deliver_all(std::size_t max_rounds = 100000);
    // Delivers only messages of the given types (until none are left); others stay queued.
    void deliver_only(const std::set<MessageType>& types, std::size_t max_rounds = 10000);
    // Discards every message in flight.
    void drop_all() { in_flight_.clear(); }
    // Handles every Ready of one node (disk writes complete per the node's disk latency).
    void process(NodeId id);
    // Runs the current leader (if any) through a proposal.
    std::optional<NodeId> leader() const;

    // --- client side ---
    ProposeResult propose(NodeId at, std::string data);
    std::string next_client_payload() { return "c" + std::to_string(++client_seq_); }
    bool acked(const std::string& payload) const { return acked_.count(payload) != 0; }
    std::size_t acked_count() const { return acked_.size(); }
    std::size_t history_size() const { return history_.size(); }
    Refusal read(NodeId at, const std::string& context);
    // The node snapshots its state machine at its applied index and compacts its log,
    // keeping `keep` entries before the snapshot. False if there was nothing new.
    bool take_snapshot(NodeId id, Index keep);

    // --- checking ---
    const std::string& failure() const { return failure_; }
    bool failed() const { return !failure_.empty(); }
    void fail(const std::string& message);
    // Log matching over every pair of live nodes (expensive; call at the end).
    void check_log_matching();
    // All live members of `membership` have applied at least `index`.
    bool all_applied(const Membership& membership, Index index) const;
    std::uint64_t messages_delivered() const { return delivered_; }
    // What actually happened, so a run's coverage can be seen (and asserted on).
    struct Counters {
        std::uint64_t leaders = 0, crashes = 0, snapshots_installed = 0, config_changes_applied = 0,
                      reads_served = 0;
    };
    const Counters& counters() const { return counters_; }

  private:
    struct InFlight {
        std::uint64_t deliver_at = 0;
        std::uint64_t seq = 0;
        Message message;
    };
    void send(Message m, bool instant);
    void deliver(const Message& m);
    void after_change(SimNode& n);
    void complete_write(SimNode& n);
    void apply(SimNode& n, const Entry& e);
    void install(SimNode& n, const Snapshot& snap);
    void load_state(SimNode& n);
    void observe(SimNode& n);
    std::string describe(const Entry& e) const;

    Prng rng_;
    Config base_config_;
    std::map<NodeId, SimNode> nodes_;
    std::set<std::pair<NodeId, NodeId>> blocked_;
    std::vector<InFlight> in_flight_;
    std::uint64_t now_ = 0;
    std::uint64_t send_seq_ = 0;
    std::uint64_t delivered_ = 0;

    // Checker state.
    std::string failure_;
    std::map<Term, NodeId> leader_of_term_;
    std::vector<std::string> history_;         // history_[i-1]: entry applied at index i
    std::vector<std::uint64_t> history_hash_;  // running hash up to index i
    std::vector<Term> commit_term_;            // lowest term at which index i was known committed
    std::set<std::string> applied_payloads_;
    std::map<std::string, NodeId> proposed_at_;
    std::set<std::string> acked_;
    std::map<std::string, Index> read_floor_;  // read context -> highest acked index at issue
    std::uint64_t client_seq_ = 0;
    Counters counters_;
};

std::uint64_t chain_hash(std::uint64_t previous, const std::string& item);

}  // namespace annal::raft::sim
