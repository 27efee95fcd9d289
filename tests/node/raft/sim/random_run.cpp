#include "sim/random_run.hpp"

#include <algorithm>

#include "sim/cluster.hpp"

namespace annal::raft::sim {
namespace {

struct Plan {
    bool partitions, crashes, slow_disks, membership, transfers, snapshots;
};

NodeId pick(Prng& rng, const std::vector<NodeId>& ids) {
    return ids.empty() ? kNoNode : ids[rng.below(ids.size())];
}

std::vector<NodeId> live_ids(Cluster& c) {
    std::vector<NodeId> out;
    for (NodeId id : c.ids()) {
        if (c.node(id).up())
            out.push_back(id);
    }
    return out;
}

}  // namespace

RunResult run_random(const RunOptions& options) {
    Prng rng(options.seed * 0x2545f4914f6cdd1dULL + 17);
    Config base;
    base.election_tick = 10;
    base.heartbeat_tick = 1;
    base.pre_vote = rng.chance(3, 4);
    base.check_quorum = rng.chance(3, 4);
    base.max_inflight_msgs = rng.between(1, 8);
    base.max_msg_bytes = rng.between(32, 2048);
    base.max_snapshot_chunk_bytes = rng.between(16, 1024);
    base.snapshot_resend_ticks = 3;
    base.check_invariants = options.core_invariants;
    base.bug = options.bug;

    Cluster c(options.seed, base);
    const std::size_t voters = rng.chance(1, 2) ? 3 : 5;
    Membership initial;
    for (NodeId id = 1; id <= voters; ++id)
        initial.voters.push_back(id);
    for (NodeId id = 1; id <= voters; ++id)
        c.add_node(id, initial);
    NodeId next_id = voters + 1;

    c.faults.min_latency = 1;
    c.faults.max_latency = rng.between(2, 25);
    c.faults.drop_per_mille = rng.chance(1, 3) ? 0 : rng.between(0, 100);
    c.faults.duplicate_per_mille = rng.chance(1, 2) ? 0 : rng.between(0, 50);
    c.faults.delay_per_mille = rng.chance(1, 2) ? 0 : rng.between(0, 30);
    Plan plan{rng.chance(2, 3), rng.chance(2, 3), rng.chance(1, 2),
              rng.chance(1, 2), rng.chance(1, 2), rng.chance(2, 3)};

    std::vector<std::pair<NodeId, Index>> removals;  // (node, index of its removal entry)
    std::uint64_t reads = 0;

    for (std::uint64_t t = 0; t < options.fault_units && !c.failed(); ++t) {
        auto leader = c.leader();
        if (leader && rng.chance(1, 4))
            c.propose(*leader, c.next_client_payload());
        if (rng.chance(1, 40)) {
            auto ids = live_ids(c);
            if (!ids.empty())
                c.read(pick(rng, ids), "r" + std::to_string(++reads));
        }
        if (plan.partitions && rng.chance(1, 400)) {
            auto ids = c.ids();
            switch (rng.below(4)) {
                case 0:
                    c.heal();
                    break;
                case 1:
                    c.isolate(pick(rng, ids));
                    break;
                case 2: {
                    std::vector<std::vector<NodeId>> groups(2);
                    for (NodeId id : ids)
                        groups[rng.below(2)].push_back(id);
                    c.partition(groups);
                    break;
                }
                default:
                    c.cut(pick(rng, ids), pick(rng, ids));  // one-way
                    break;
            }
        }
        if (plan.crashes) {
            if (rng.chance(1, 700)) {
                auto ids = live_ids(c);
                if (!ids.empty())
                    c.crash(pick(rng, ids));
            }
            for (NodeId id : c.ids()) {
                SimNode& n = c.node(id);
                if (!n.up() && !n.retired && rng.chance(1, 150))
                    c.restart(id);
            }
        }
        if (plan.slow_disks && rng.chance(1, 300)) {
            SimNode& n = c.node(pick(rng, c.ids()));
            if (n.disk_max_latency == 0) {
                n.disk_min_latency = rng.between(5, 40);
                n.disk_max_latency = n.disk_min_latency + rng.between(0, 120);
            } else {
                n.disk_min_latency = n.disk_max_latency = 0;
            }
        }
        leader = c.leader();  // crashes above may have taken it down
        if (plan.membership && leader && rng.chance(1, 250)) {
            Core& core = c.core(*leader);
            const Membership& m = core.membership();
            switch (rng.below(3)) {
                case 0:
                    if (next_id <= 9) {
                        const NodeId id = next_id++;
                        c.add_node(id, Membership{});
                        core.propose_conf_change({ConfChangeType::AddLearner, id});
                    }
                    break;
                case 1:
                    if (!m.learners.empty()) {
                        core.propose_conf_change(
                            {ConfChangeType::PromoteLearner, pick(rng, m.learners)});
                    }
                    break;
                default: {
                    std::vector<NodeId> members = m.voters;
                    if (m.voters.size() <= 3)
                        members.clear();
                    members.insert(members.end(), m.learners.begin(), m.learners.end());
                    const NodeId victim = pick(rng, members);
                    if (victim == kNoNode)
                        break;
                    auto r = core.propose_conf_change({ConfChangeType::RemoveNode, victim});
                    if (r.accepted())
                        removals.emplace_back(victim, r.index);
                    break;
                }
            }
        }
        if (plan.transfers && leader && rng.chance(1, 400)) {
            Core& core = c.core(*leader);
            c.core(*leader).transfer_leadership(pick(rng, core.membership().voters));
        }
        if (plan.snapshots && rng.chance(1, 80)) {
            auto ids = live_ids(c);
            if (!ids.empty())
                c.take_snapshot(pick(rng, ids), rng.between(0, 20));
        }
        // A removed node is shut down for good once its removal is committed.
        if (leader) {
            const Membership membership = c.core(*leader).membership();
            const Index commit = c.core(*leader).commit_index();
            for (auto it = removals.begin(); it != removals.end();) {
                if (membership.contains(it->first)) {
                    it = commit >= it->second ? removals.erase(it) : std::next(it);
                } else if (commit >= it->second) {
                    c.retire(it->first);
                    it = removals.erase(it);
                } else {
                    ++it;
                }
            }
        }
        c.step();
    }

    // Heal everything, then demand progress within a bound.
    c.heal();
    c.faults = NetworkFaults{0, 0, 0, 1, 5};
    for (NodeId id : c.ids()) {
        SimNode& n = c.node(id);
        n.disk_min_latency = n.disk_max_latency = 0;
        if (!n.up() && !n.retired)
            c.restart(id);
    }
    const std::uint64_t deadline = c.now() + options.liveness_ticks * kTickUnits;
    // Propose a probe at the current leader; if leadership moves on before it commits,
    // propose a fresh one at the new leader.
    NodeId probe_leader = kNoNode;
    Term probe_term = 0;
    Index probe_index = 0;
    bool done = false;
    while (!c.failed() && c.now() < deadline && !done) {
        c.step();
        auto leader = c.leader();
        if (!leader)
            continue;
        Core& core = c.core(*leader);
        if (*leader != probe_leader || core.term() != probe_term) {
            auto r = c.propose(*leader, "live-" + std::to_string(c.now()));
            if (r.accepted()) {
                probe_leader = *leader;
                probe_term = r.term;
                probe_index = r.index;
            }
            continue;
        }
        done = core.commit_index() >= probe_index && c.all_applied(core.membership(), probe_index);
    }
    if (!c.failed() && !done) {
        c.fail("liveness: no leader committed a new proposal on every member within " +
               std::to_string(options.liveness_ticks) + " ticks after healing");
    }
    if (!c.failed())
        c.check_log_matching();

    RunResult result;
    result.ok = !c.failed();
    if (!result.ok)
        result.failure = "seed " + std::to_string(options.seed) + ": " + c.failure();
    result.acked = c.acked_count();
    result.applied = c.history_size();
    result.messages = c.messages_delivered();
    result.leaders = c.counters().leaders;
    result.crashes = c.counters().crashes;
    result.snapshots_installed = c.counters().snapshots_installed;
    result.config_changes_applied = c.counters().config_changes_applied;
    result.reads_served = c.counters().reads_served;
    return result;
}

}  // namespace annal::raft::sim
