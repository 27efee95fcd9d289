#pragma once
// Value types shared by the Raft core, its storage interface and its messages.
// Everything here is a plain value so the node can copy, store and serialize it freely.

#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

namespace annal::raft {

using NodeId = std::uint64_t;
using GroupId = std::uint64_t;
using Term = std::uint64_t;
using Index = std::uint64_t;

// Node id 0 is reserved to mean "nobody" (no vote, no known leader).
inline constexpr NodeId kNoNode = 0;

enum class EntryType : std::uint8_t {
    Normal = 0,  // application payload
    Noop = 1,    // appended by every new leader; lets it commit entries of earlier terms
    Config = 2,  // data is an encoded Membership that takes effect when appended
};

struct Entry {
    Term term = 0;
    Index index = 0;
    EntryType type = EntryType::Normal;
    std::string data;

    bool operator==(const Entry&) const = default;
};

// Per-entry overhead counted against byte limits, so empty entries still cost something.
inline constexpr std::uint64_t kEntryOverheadBytes = 24;
inline std::uint64_t entry_bytes(const Entry& e) {
    return e.data.size() + kEntryOverheadBytes;
}

// What must survive a crash besides the log: the current term, the vote cast in it and
// the commit index (the commit index is only an optimisation for restart).
struct HardState {
    Term term = 0;
    NodeId vote = kNoNode;
    Index commit = 0;

    bool operator==(const HardState&) const = default;
};

// Voters decide elections and commits; learners only receive the log. Both lists sorted.
struct Membership {
    std::vector<NodeId> voters;
    std::vector<NodeId> learners;

    bool operator==(const Membership&) const = default;
    bool is_voter(NodeId id) const { return std::binary_search(voters.begin(), voters.end(), id); }
    bool is_learner(NodeId id) const {
        return std::binary_search(learners.begin(), learners.end(), id);
    }
    bool contains(NodeId id) const { return is_voter(id) || is_learner(id); }
    std::size_t quorum() const { return voters.size() / 2 + 1; }
};

struct SnapshotMeta {
    Index index = 0;        // last log index covered by the snapshot
    Term term = 0;          // term of that entry
    Membership membership;  // membership in force at `index`

    bool operator==(const SnapshotMeta&) const = default;
};

struct Snapshot {
    SnapshotMeta meta;
    std::string data;  // opaque application state

    bool operator==(const Snapshot&) const = default;
};

enum class ConfChangeType : std::uint8_t {
    AddLearner = 0,      // new non-voting member
    PromoteLearner = 1,  // learner becomes a voter
    RemoveNode = 2,      // voter or learner leaves
};

struct ConfChange {
    ConfChangeType type = ConfChangeType::AddLearner;
    NodeId node = kNoNode;
};

// A linearizable read may be served once the state machine has applied `index`.
struct ReadState {
    Index index = 0;
    std::string context;

    bool operator==(const ReadState&) const = default;
};

enum class Role : std::uint8_t { Follower = 0, PreCandidate = 1, Candidate = 2, Leader = 3 };

const char* to_string(Role role);
const char* to_string(EntryType type);

}  // namespace annal::raft
