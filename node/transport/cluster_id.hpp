// The cluster id every peer frame carries (replication/peer_frame.hpp): nodes configured
// for different clusters reject each other's connections before reading any payload.
#pragma once

#include <cstdint>
#include <string_view>

namespace annal::transport {

// The first 8 bytes of SHA-256(name), big-endian.
std::uint64_t cluster_id_from_name(std::string_view name);

}  // namespace annal::transport
