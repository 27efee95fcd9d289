// Unit tests that drive one core with hand-made messages, for rules that are hard to pin
// down through a whole cluster.

#include <doctest/doctest.h>

#include "raft/core.hpp"
#include "raft/memory_storage.hpp"

using namespace annal::raft;

namespace {

Config config_for(NodeId id) {
    Config c;
    c.id = id;
    c.group = 42;
    return c;
}

// Persists and advances every Ready; returns all messages sent.
std::vector<Message> drain(Core& core, MemoryStorage& disk) {
    std::vector<Message> out;
    while (core.has_ready()) {
        Ready rd = core.ready();
        disk.persist(rd);
        out.insert(out.end(), rd.messages.begin(), rd.messages.end());
        out.insert(out.end(), rd.messages_after_persist.begin(), rd.messages_after_persist.end());
        core.advance(rd);
    }
    return out;
}

Message reply(MessageType type, NodeId from, NodeId to, Term term) {
    Message m;
    m.type = type;
    m.group = 42;
    m.from = from;
    m.to = to;
    m.term = term;
    return m;
}

// Makes node 1 leader of {1,2,3} (term 1), everything committed.
void elect(Core& core, MemoryStorage& disk) {
    core.campaign();
    drain(core, disk);
    core.step(reply(MessageType::PreVoteResponse, 2, 1, 1));
    drain(core, disk);
    core.step(reply(MessageType::VoteResponse, 2, 1, 1));
    REQUIRE(core.role() == Role::Leader);
}

}  // namespace

TEST_CASE("commit counts only entries of the current term (Figure 8)") {
    MemoryStorage disk(Membership{{1, 2, 3}, {}});
    disk.append({Entry{1, 1, EntryType::Normal, "x"}, Entry{2, 2, EntryType::Normal, "y"}});
    disk.set_hard_state(HardState{2, 0, 0});
    Core core(config_for(1), disk);
    core.campaign();
    drain(core, disk);
    core.step(reply(MessageType::PreVoteResponse, 2, 1, 3));
    drain(core, disk);
    core.step(reply(MessageType::VoteResponse, 2, 1, 3));
    REQUIRE(core.role() == Role::Leader);
    drain(core, disk);  // the no-op (index 3, term 3) is durable on the leader
    // Followers 2 and 3 report holding index 2 (term 2): a majority, but of an old term.
    Message ack = reply(MessageType::AppendResponse, 2, 1, 3);
    ack.index = 2;
    core.step(ack);
    ack.from = 3;
    core.step(ack);
    CHECK(core.commit_index() == 0);
    // Once the current-term no-op is on a majority, everything before it commits too.
    ack.index = 3;
    core.step(ack);
    CHECK(core.commit_index() == 3);
}

TEST_CASE("leader counts itself only after its own write is durable") {
    MemoryStorage disk(Membership{{1, 2, 3}, {}});
    Core core(config_for(1), disk);
    elect(core, disk);
    drain(core, disk);
    Message noop_ack = reply(MessageType::AppendResponse, 2, 1, 1);
    noop_ack.index = 1;
    core.step(noop_ack);  // follower 2 now in the replicate state
    drain(core, disk);
    core.propose("a");
    Ready with_entry = core.ready();
    REQUIRE(with_entry.entries.size() == 1);
    // The Append may leave before the leader's own write completes (dissertation 10.2.1).
    CHECK_FALSE(with_entry.messages.empty());
    Message ack = reply(MessageType::AppendResponse, 2, 1, 1);
    ack.index = with_entry.entries.back().index;
    core.step(ack);
    // Leader (not durable) + follower 2 is a majority only if the leader counts itself.
    CHECK(core.commit_index() < ack.index);
    disk.persist(with_entry);
    core.advance(with_entry);
    CHECK(core.commit_index() == ack.index);
}

TEST_CASE("votes and follower acknowledgements wait for persistence") {
    MemoryStorage disk(Membership{{1, 2, 3}, {}});
    Core core(config_for(2), disk);
    Message vote = reply(MessageType::Vote, 1, 2, 1);
    core.step(vote);
    Ready rd = core.ready();
    REQUIRE(rd.hard_state.has_value());
    CHECK(rd.hard_state->vote == 1);
    CHECK(rd.messages.empty());
    REQUIRE(rd.messages_after_persist.size() == 1);
    CHECK(rd.messages_after_persist[0].type == MessageType::VoteResponse);
    CHECK_FALSE(rd.messages_after_persist[0].reject);
}

TEST_CASE("messages for another group or node are ignored") {
    MemoryStorage disk(Membership{{1, 2, 3}, {}});
    Core core(config_for(2), disk);
    Message m = reply(MessageType::Vote, 1, 2, 5);
    m.group = 43;
    CHECK_FALSE(core.step(m));
    m.group = 42;
    m.to = 3;
    CHECK_FALSE(core.step(m));
    CHECK(core.term() == 0);
    CHECK_FALSE(core.has_ready());
}

TEST_CASE("replication is pipelined within a window and batched by bytes") {
    MemoryStorage disk(Membership{{1, 2, 3}, {}});
    Config c = config_for(1);
    c.max_inflight_msgs = 2;
    c.max_msg_bytes = 2 * (kEntryOverheadBytes + 10);
    Core core(c, disk);
    elect(core, disk);
    drain(core, disk);
    // Follower 2 confirms the no-op: it moves to the replicate state.
    Message ack = reply(MessageType::AppendResponse, 2, 1, 1);
    ack.index = 1;
    core.step(ack);
    drain(core, disk);
    for (int i = 0; i < 10; ++i)
        core.propose(std::string(10, 'x'));
    auto sent = drain(core, disk);
    std::size_t to_two = 0;
    for (const Message& m : sent) {
        if (m.type != MessageType::Append || m.to != 2)
            continue;
        ++to_two;
        CHECK(m.entries.size() <= 2);  // byte limit per message
    }
    CHECK(to_two == 2);  // window of two in flight
    CHECK(core.status().peers.at(2).state == ProgressState::Replicate);
    // An acknowledgement frees the window and lets the next batches out.
    ack.index = 3;
    core.step(ack);
    sent = drain(core, disk);
    std::size_t more = 0;
    for (const Message& m : sent)
        more += (m.type == MessageType::Append && m.to == 2) ? 1 : 0;
    CHECK(more >= 1);
}

TEST_CASE("slow disk: several Readys may be outstanding and are advanced in order") {
    MemoryStorage disk(Membership{{1}, {}});
    Core core(config_for(1), disk);
    core.campaign();
    Ready first = core.ready();
    REQUIRE(core.role() == Role::Leader);
    core.propose("a");
    Ready second = core.ready();
    CHECK(core.commit_index() == 0);
    disk.persist(first);
    core.advance(first);
    CHECK(core.commit_index() == 1);  // the no-op is durable; "a" is not yet
    disk.persist(second);
    core.advance(second);
    CHECK(core.commit_index() == 2);
    Ready third = core.ready();
    REQUIRE(third.committed_entries.size() == 2);
    CHECK(third.committed_entries[1].data == "a");
    core.advance(third);
}

TEST_CASE("restart rebuilds the membership from snapshot and log") {
    MemoryStorage disk(Membership{{1}, {}});
    {
        Core core(config_for(1), disk);
        core.campaign();
        drain(core, disk);
        REQUIRE(core.role() == Role::Leader);
        REQUIRE(core.propose_conf_change({ConfChangeType::AddLearner, 5}).accepted());
        drain(core, disk);
        CHECK(core.membership().learners == std::vector<NodeId>{5});
        CHECK(core.membership_at(1).learners.empty());
    }
    Core again(config_for(1), disk);
    CHECK(again.membership().learners == std::vector<NodeId>{5});
    CHECK(again.term() == 1);
    CHECK(again.role() == Role::Follower);
}
