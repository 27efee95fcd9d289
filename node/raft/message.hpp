#pragma once
// The one message type exchanged between Raft peers. A plain value: the node serializes it
// with codec.hpp and routes it by (group, to).

#include <cstdint>
#include <string>
#include <vector>

#include "raft/types.hpp"

namespace annal::raft {

enum class MessageType : std::uint8_t {
    Append = 1,              // index/log_term: entry preceding `entries`; commit
    AppendResponse = 2,      // accepted: index = last matching index; rejected: see fields
    Heartbeat = 3,           // commit = min(follower match, leader commit); read_seq
    HeartbeatResponse = 4,   // read_seq echoed back (confirms leadership for ReadIndex)
    Vote = 5,                // index/log_term: candidate's last entry; force: from TimeoutNow
    VoteResponse = 6,        // reject
    PreVote = 7,             // as Vote, for term + 1, without anyone changing term
    PreVoteResponse = 8,     // reject
    Snapshot = 9,            // snapshot meta + one chunk [snapshot_offset, +chunk)
    SnapshotResponse = 10,   // index: snapshot index; snapshot_offset: bytes held; reject
    TimeoutNow = 11,         // leadership transfer: start an election now
    ReadIndex = 12,          // follower -> leader: context
    ReadIndexResponse = 13,  // leader -> follower: index + context
};

const char* to_string(MessageType type);

struct Message {
    MessageType type = MessageType::Append;
    GroupId group = 0;
    NodeId from = kNoNode;
    NodeId to = kNoNode;
    Term term = 0;

    Term log_term = 0;
    Index index = 0;
    Index commit = 0;
    bool reject = false;
    bool force = false;
    Index reject_hint = 0;  // AppendResponse reject: probe hint index (log_term = its term)
    std::uint64_t read_seq = 0;
    std::string context;
    std::vector<Entry> entries;

    // Snapshot chunks (type Snapshot) and their acknowledgements.
    SnapshotMeta snapshot;
    std::uint64_t snapshot_offset = 0;
    std::uint64_t snapshot_size = 0;  // total size of the snapshot data
    std::string snapshot_chunk;

    bool operator==(const Message&) const = default;
};

}  // namespace annal::raft
