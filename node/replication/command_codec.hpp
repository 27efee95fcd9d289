// The application commands carried in the data of Normal Raft entries. First byte = kind:
// 1 = Append (an AppendRequest whose ids and timestamps were assigned by the node that
// took the request, so applying it is deterministic on every replica), 2 = SetPeerAddress
// (where a node is reached; proposed before the AddLearner change that brings it in).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

#include "raft/types.hpp"
#include "storage/event_store.hpp"

namespace annal::replication {

enum class CommandKind : std::uint8_t { Append = 1, SetPeerAddress = 2 };

struct SetPeerAddress {
    raft::NodeId node = raft::kNoNode;
    std::string address;  // "host:port"
};

using Command = std::variant<storage::AppendRequest, SetPeerAddress>;

std::string encode_command(const storage::AppendRequest& request);
std::string encode_command(const SetPeerAddress& command);
// nullopt for an unknown kind or a malformed body.
std::optional<Command> decode_command(std::string_view data);

}  // namespace annal::replication
