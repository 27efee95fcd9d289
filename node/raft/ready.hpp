#pragma once
// The batch of work the core hands to the application. See README.md, "Persistence
// contract", for the order in which its parts must be handled.

#include <cstdint>
#include <optional>
#include <vector>

#include "raft/message.hpp"
#include "raft/types.hpp"

namespace annal::raft {

// Volatile state, reported when it changes; never persisted.
struct SoftState {
    NodeId leader = kNoNode;
    Role role = Role::Follower;

    bool operator==(const SoftState&) const = default;
};

struct Ready {
    // Readys must be advanced in the order they were handed out; the number checks that.
    std::uint64_t number = 0;

    std::optional<SoftState> soft_state;
    // --- to persist, atomically, in one storage commit (group commit) ---
    // A snapshot received from the leader: replaces the log and the state machine.
    std::optional<Snapshot> snapshot;
    // Entries to append. entries.front().index may be <= the last stored index: the stored
    // suffix from there on must be dropped first (a follower's conflicting tail).
    std::vector<Entry> entries;
    std::optional<HardState> hard_state;

    // --- to send ---
    // May be sent at once, before or while this Ready is being persisted: a leader's
    // replication traffic for a term whose vote is already durable (dissertation §10.2.1).
    std::vector<Message> messages;
    // Must only be sent after this Ready (and all earlier ones) is durable: votes, and
    // every acknowledgement a follower gives.
    std::vector<Message> messages_after_persist;

    // --- to apply, in order, after this Ready is durable ---
    std::vector<Entry> committed_entries;
    // Reads that may be served once committed_entries up to read.index are applied.
    std::vector<ReadState> read_states;

    bool must_persist() const { return snapshot || !entries.empty() || hard_state; }
};

}  // namespace annal::raft
