#include "sim/cluster.hpp"

#include <algorithm>
#include <sstream>

namespace annal::raft::sim {

std::uint64_t chain_hash(std::uint64_t previous, const std::string& item) {
    // FNV-1a over the previous hash and the item: deterministic and order sensitive.
    std::uint64_t h = 0xcbf29ce484222325ULL ^ previous;
    for (unsigned char c : item) {
        h ^= c;
        h *= 0x100000001b3ULL;
    }
    h ^= item.size();
    return h * 0x100000001b3ULL;
}

namespace {

std::string snapshot_data(std::uint64_t hash, const std::vector<std::string>& payloads) {
    std::string out = std::to_string(hash);
    for (const std::string& p : payloads) {
        out += '\n';
        out += p;
    }
    return out;
}

void parse_snapshot_data(const std::string& data, std::uint64_t& hash,
                         std::vector<std::string>& payloads) {
    hash = 0;
    payloads.clear();
    if (data.empty())
        return;
    std::size_t pos = data.find('\n');
    hash = std::stoull(data.substr(0, pos));
    while (pos != std::string::npos) {
        const std::size_t end = data.find('\n', pos + 1);
        payloads.push_back(data.substr(pos + 1, end == std::string::npos ? end : end - pos - 1));
        pos = end;
    }
}

}  // namespace

Cluster::Cluster(std::uint64_t seed, Config base_config) : rng_(seed), base_config_(base_config) {}

void Cluster::add_node(NodeId id, const Membership& bootstrap, const std::vector<Term>& log_terms,
                       HardState state) {
    SimNode n;
    n.id = id;
    n.disk = std::make_unique<MemoryStorage>(bootstrap);
    std::vector<Entry> entries;
    for (std::size_t i = 0; i < log_terms.size(); ++i) {
        entries.push_back(
            Entry{log_terms[i], i + 1, EntryType::Normal, "e" + std::to_string(i + 1)});
    }
    n.disk->append(entries);
    if (!log_terms.empty())
        state.term = std::max(state.term, log_terms.back());
    n.disk->set_hard_state(state);
    n.tick_phase = rng_.below(kTickUnits);
    nodes_.emplace(id, std::move(n));
    restart(id);
}

std::vector<NodeId> Cluster::ids() const {
    std::vector<NodeId> out;
    for (const auto& [id, n] : nodes_)
        out.push_back(id);
    return out;
}

void Cluster::crash(NodeId id) {
    SimNode& n = nodes_.at(id);
    if (n.up())
        ++counters_.crashes;
    n.core.reset();
    n.disk_queue.clear();  // writes not yet durable are lost
    n.reads.clear();
}

void Cluster::restart(NodeId id) {
    SimNode& n = nodes_.at(id);
    if (n.retired)
        return;
    Config config = base_config_;
    config.id = id;
    config.seed = rng_.next();
    n.disk_queue.clear();
    n.core = std::make_unique<Core>(config, *n.disk);
    load_state(n);
}

void Cluster::retire(NodeId id) {
    crash(id);
    nodes_.at(id).retired = true;
}

void Cluster::load_state(SimNode& n) {
    auto snap = n.disk->snapshot();
    n.applied = snap->meta.index;
    parse_snapshot_data(snap->data, n.hash, n.applied_data);
}

void Cluster::isolate(NodeId id) {
    for (const auto& [other, n] : nodes_) {
        if (other == id)
            continue;
        cut(id, other);
        cut(other, id);
    }
}

void Cluster::partition(const std::vector<std::vector<NodeId>>& groups) {
    for (std::size_t a = 0; a < groups.size(); ++a) {
        for (std::size_t b = 0; b < groups.size(); ++b) {
            if (a == b)
                continue;
            for (NodeId x : groups[a]) {
                for (NodeId y : groups[b])
                    cut(x, y);
            }
        }
    }
}

void Cluster::send(Message m, bool /*instant*/) {
    if (blocked(m.from, m.to))
        return;
    if (faults.drop_per_mille > 0 && rng_.chance(faults.drop_per_mille, 1000))
        return;
    int copies = 1;
    if (faults.duplicate_per_mille > 0 && rng_.chance(faults.duplicate_per_mille, 1000))
        copies = 2;
    for (int i = 0; i < copies; ++i) {
        std::uint64_t latency =
            faults.max_latency == 0 ? 0 : rng_.between(faults.min_latency, faults.max_latency);
        if (faults.delay_per_mille > 0 && rng_.chance(faults.delay_per_mille, 1000)) {
            latency += rng_.between(50, 300);
        }
        in_flight_.push_back(InFlight{now_ + latency, ++send_seq_, m});
    }
}

void Cluster::deliver(const Message& m) {
    ++delivered_;
    if (blocked(m.from, m.to))
        return;
    auto it = nodes_.find(m.to);
    if (it == nodes_.end() || !it->second.up())
        return;
    it->second.core->step(m);
    observe(it->second);
}

void Cluster::tick_node(NodeId id) {
    SimNode& n = nodes_.at(id);
    if (!n.up())
        return;
    n.core->tick();
    observe(n);
}

void Cluster::observe(SimNode& n) {
    const Core& core = *n.core;
    if (core.role() != Role::Leader)
        return;
    auto [it, inserted] = leader_of_term_.emplace(core.term(), n.id);
    if (inserted)
        ++counters_.leaders;
    if (!inserted) {
        if (it->second != n.id) {
            fail("election safety: nodes " + std::to_string(it->second) + " and " +
                 std::to_string(n.id) + " both lead term " + std::to_string(core.term()));
        }
        return;
    }
    // Leader completeness: every entry known committed in an earlier term is in our log.
    const RaftLog& log = core.log();
    for (Index i = std::max<Index>(log.first_index(), 1); i <= history_.size(); ++i) {
        if (commit_term_[i - 1] >= core.term())
            continue;
        auto slice = i <= log.last_index() ? log.slice(i, i + 1, UINT64_MAX) : std::vector<Entry>{};
        if (slice.empty() || describe(slice.front()) != history_[i - 1]) {
            fail("leader completeness: new leader " + std::to_string(n.id) + " of term " +
                 std::to_string(core.term()) + " lacks committed entry " + std::to_string(i));
            return;
        }
    }
}

void Cluster::step() {
    ++now_;
    for (auto& [id, n] : nodes_) {
        if (n.up() && now_ % kTickUnits == n.tick_phase)
            tick_node(id);
    }
    std::vector<InFlight> due;
    auto split = std::partition(in_flight_.begin(), in_flight_.end(),
                                [&](const InFlight& f) { return f.deliver_at > now_; });
    due.assign(std::make_move_iterator(split), std::make_move_iterator(in_flight_.end()));
    in_flight_.erase(split, in_flight_.end());
    std::sort(due.begin(), due.end(), [](const InFlight& a, const InFlight& b) {
        return a.deliver_at != b.deliver_at ? a.deliver_at < b.deliver_at : a.seq < b.seq;
    });
    for (const InFlight& f : due)
        deliver(f.message);
    for (auto& [id, n] : nodes_) {
        while (n.up() && !n.disk_queue.empty() && n.disk_queue.front().done_at <= now_) {
            complete_write(n);
        }
    }
    for (auto& [id, n] : nodes_)
        process(id);
}

void Cluster::deliver_all(std::size_t max_rounds) {
    for (auto& [id, n] : nodes_)
        process(id);
    for (std::size_t round = 0; round < max_rounds && !in_flight_.empty(); ++round) {
        std::vector<InFlight> batch = std::move(in_flight_);
        in_flight_.clear();
        std::sort(batch.begin(), batch.end(),
                  [](const InFlight& a, const InFlight& b) { return a.seq < b.seq; });
        for (const InFlight& f : batch) {
            deliver(f.message);
            process(f.message.to);
        }
    }
}

void Cluster::deliver_only(const std::set<MessageType>& types, std::size_t max_rounds) {
    for (auto& [id, n] : nodes_)
        process(id);
    for (std::size_t round = 0; round < max_rounds; ++round) {
        auto split = std::stable_partition(
            in_flight_.begin(), in_flight_.end(),
            [&](const InFlight& f) { return types.count(f.message.type) == 0; });
        if (split == in_flight_.end())
            return;
        std::vector<InFlight> batch(std::make_move_iterator(split),
                                    std::make_move_iterator(in_flight_.end()));
        in_flight_.erase(split, in_flight_.end());
        for (const InFlight& f : batch) {
            deliver(f.message);
            process(f.message.to);
        }
    }
}

void Cluster::process(NodeId id) {
    SimNode& n = nodes_.at(id);
    while (n.up() && n.core->has_ready()) {
        Ready rd = n.core->ready();
        for (const Entry& e : rd.committed_entries) {
            if (commit_term_.size() < e.index)
                commit_term_.resize(e.index, UINT64_MAX);
            commit_term_[e.index - 1] = std::min(commit_term_[e.index - 1], n.core->term());
        }
        for (Message& m : rd.messages)
            send(std::move(m), false);
        rd.messages.clear();
        const std::uint64_t latency =
            n.disk_max_latency == 0 ? 0 : rng_.between(n.disk_min_latency, n.disk_max_latency);
        // Writes complete in order: a fast write never overtakes a slow one.
        const std::uint64_t done_at =
            std::max(now_ + latency, n.disk_queue.empty() ? 0 : n.disk_queue.back().done_at);
        n.disk_queue.push_back(SimNode::Write{std::move(rd), done_at});
        while (n.up() && !n.disk_queue.empty() && n.disk_queue.front().done_at <= now_) {
            complete_write(n);
        }
    }
}

void Cluster::complete_write(SimNode& n) {
    SimNode::Write w = std::move(n.disk_queue.front());
    n.disk_queue.pop_front();
    n.disk->persist(w.ready);
    if (w.ready.snapshot) {
        install(n, *w.ready.snapshot);
        ++counters_.snapshots_installed;
    }
    n.core->advance(w.ready);
    for (Message& m : w.ready.messages_after_persist)
        send(std::move(m), false);
    for (const Entry& e : w.ready.committed_entries) {
        apply(n, e);
        if (failed())
            return;
    }
    for (const ReadState& rs : w.ready.read_states) {
        auto floor = read_floor_.find(rs.context);
        if (floor != read_floor_.end() && rs.index < floor->second) {
            fail("linearizable read: read " + rs.context + " got index " +
                 std::to_string(rs.index) + " but a write at " + std::to_string(floor->second) +
                 " was acknowledged before it was issued");
        }
        n.reads.push_back(rs);
        ++counters_.reads_served;
    }
}

std::string Cluster::describe(const Entry& e) const {
    switch (e.type) {
        case EntryType::Normal:
            return e.data;
        case EntryType::Noop:
            return "#noop@" + std::to_string(e.term);
        case EntryType::Config:
            return "#config@" + std::to_string(e.term) + ":" + e.data;
    }
    return "?";
}

void Cluster::apply(SimNode& n, const Entry& e) {
    if (e.index != n.applied + 1) {
        fail("node " + std::to_string(n.id) + " applied index " + std::to_string(e.index) +
             " after " + std::to_string(n.applied));
        return;
    }
    const std::string item = describe(e);
    if (e.index <= history_.size()) {
        if (history_[e.index - 1] != item) {
            fail("state machine safety: node " + std::to_string(n.id) + " applied '" + item +
                 "' at index " + std::to_string(e.index) + " where '" + history_[e.index - 1] +
                 "' was applied");
            return;
        }
    } else if (e.index == history_.size() + 1) {
        history_.push_back(item);
        history_hash_.push_back(chain_hash(history_hash_.empty() ? 0 : history_hash_.back(), item));
        if (e.type == EntryType::Normal && !applied_payloads_.insert(e.data).second) {
            fail("proposal '" + e.data + "' applied twice (again at index " +
                 std::to_string(e.index) + ")");
            return;
        }
    } else {
        fail("gap in the applied history at index " + std::to_string(e.index));
        return;
    }
    if (e.type == EntryType::Config)
        ++counters_.config_changes_applied;
    n.hash = chain_hash(n.hash, item);
    if (n.hash != history_hash_[e.index - 1]) {
        fail("node " + std::to_string(n.id) + " state diverged at index " +
             std::to_string(e.index));
        return;
    }
    n.applied = e.index;
    if (e.type == EntryType::Normal) {
        n.applied_data.push_back(e.data);
        auto p = proposed_at_.find(e.data);
        if (p != proposed_at_.end() && p->second == n.id)
            acked_.insert(e.data);
    }
}

void Cluster::install(SimNode& n, const Snapshot& snap) {
    parse_snapshot_data(snap.data, n.hash, n.applied_data);
    n.applied = snap.meta.index;
    if (n.applied > history_.size() || (n.applied > 0 && history_hash_[n.applied - 1] != n.hash)) {
        fail("node " + std::to_string(n.id) + " installed a snapshot at " +
             std::to_string(n.applied) + " that does not match the applied history");
    }
}

std::optional<NodeId> Cluster::leader() const {
    std::optional<NodeId> best;
    Term best_term = 0;
    for (const auto& [id, n] : nodes_) {
        if (n.up() && n.core->role() == Role::Leader && n.core->term() >= best_term) {
            best = id;
            best_term = n.core->term();
        }
    }
    return best;
}

ProposeResult Cluster::propose(NodeId at, std::string data) {
    SimNode& n = nodes_.at(at);
    if (!n.up())
        return ProposeResult{Refusal::NotLeader, 0, 0, kNoNode};
    const std::string copy = data;
    ProposeResult r = n.core->propose(std::move(data));
    if (r.accepted())
        proposed_at_[copy] = at;
    return r;
}

Refusal Cluster::read(NodeId at, const std::string& context) {
    SimNode& n = nodes_.at(at);
    if (!n.up())
        return Refusal::NoLeader;
    // Every write acknowledged so far must be visible to this read.
    Index floor = 0;
    for (Index i = history_.size(); i > 0; --i) {
        if (acked_.count(history_[i - 1]) != 0) {
            floor = i;
            break;
        }
    }
    read_floor_[context] = floor;
    return n.core->read_index(context);
}

bool Cluster::take_snapshot(NodeId id, Index keep) {
    SimNode& n = nodes_.at(id);
    if (!n.up() || n.applied <= n.disk->snapshot()->meta.index)
        return false;
    n.disk->create_snapshot(n.applied, n.core->membership_at(n.applied),
                            snapshot_data(n.hash, n.applied_data));
    if (n.applied > keep)
        n.disk->compact(n.applied - keep);
    return true;
}

void Cluster::fail(const std::string& message) {
    if (failure_.empty())
        failure_ = "t=" + std::to_string(now_) + ": " + message;
}

void Cluster::check_log_matching() {
    struct Log {
        NodeId id;
        Index first;
        std::vector<Entry> entries;
    };
    std::vector<Log> logs;
    for (const auto& [id, n] : nodes_) {
        if (!n.up())
            continue;
        const RaftLog& log = n.core->log();
        Log l{id, log.first_index(), {}};
        for (Index i = log.first_index(); i <= log.last_index();) {
            auto part = log.slice(i, log.last_index() + 1, UINT64_MAX);
            if (part.empty())
                break;
            i += part.size();
            l.entries.insert(l.entries.end(), part.begin(), part.end());
        }
        logs.push_back(std::move(l));
    }
    for (std::size_t a = 0; a < logs.size(); ++a) {
        for (std::size_t b = a + 1; b < logs.size(); ++b) {
            const Log& x = logs[a];
            const Log& y = logs[b];
            const Index lo = std::max(x.first, y.first);
            const Index hi = std::min(x.first + x.entries.size(), y.first + y.entries.size());
            Index top = 0;
            for (Index i = hi; i > lo; --i) {
                if (x.entries[i - 1 - x.first].term == y.entries[i - 1 - y.first].term) {
                    top = i - 1;
                    break;
                }
            }
            for (Index i = lo; i <= top && top != 0; ++i) {
                if (x.entries[i - x.first] != y.entries[i - y.first]) {
                    fail("log matching: nodes " + std::to_string(x.id) + " and " +
                         std::to_string(y.id) + " agree at index " + std::to_string(top) +
                         " but differ at " + std::to_string(i));
                    return;
                }
            }
        }
    }
}

bool Cluster::all_applied(const Membership& membership, Index index) const {
    auto ok = [&](NodeId id) {
        auto it = nodes_.find(id);
        if (it == nodes_.end() || it->second.retired)
            return true;
        return it->second.up() && it->second.applied >= index;
    };
    return std::all_of(membership.voters.begin(), membership.voters.end(), ok) &&
           std::all_of(membership.learners.begin(), membership.learners.end(), ok);
}

}  // namespace annal::raft::sim
