// What a Raft snapshot of the replicated store carries (raft::Snapshot::data). The event
// tables are append-only and identical on every replica up to the applied position, so a
// snapshot need not copy state: it names the point (applied index, head position after
// applying it), and a replica behind it fetches the events it lacks from a peer
// (snapshot_fetcher.hpp) and installs them (replicated_event_store.cpp). Recording one is
// O(1) for the leader, whatever the size of the store.
//
// Encoding: "ASD" magic, format version (u8), index (u64 BE), head position (u64 BE),
// address count (u32 BE), then per member: id (u64 BE), address length (u32 BE), address.
// The members table travels with it because a replica that skips the compacted log also
// skips the SetPeerAddress commands in it.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "raft/types.hpp"

namespace annal::replication {

inline constexpr std::uint8_t kSnapshotDescriptorVersion = 1;

struct SnapshotDescriptor {
    raft::Index index = 0;            // applied log index the snapshot stands for
    std::uint64_t head_position = 0;  // event log head after applying `index`
    std::map<raft::NodeId, std::string> addresses;

    // Two descriptors name the same events when index and head agree.
    bool same_point(const SnapshotDescriptor& other) const {
        return index == other.index && head_position == other.head_position;
    }
    bool operator==(const SnapshotDescriptor&) const = default;
};

std::string encode_descriptor(const SnapshotDescriptor& descriptor);
// nullopt for anything else (including the empty data of snapshots from older builds).
std::optional<SnapshotDescriptor> decode_descriptor(std::string_view bytes);

}  // namespace annal::replication
