#include "replication/peer_payload.hpp"

#include "raft/codec.hpp"
#include "storage/byte_order.hpp"

namespace annal::replication {
namespace {

const unsigned char* bytes_of(std::string_view s) {
    return reinterpret_cast<const unsigned char*>(s.data());
}

}  // namespace

std::string encode_raft_batch(std::span<const raft::Message> messages) {
    std::string out;
    storage::put_u32_be(out, static_cast<std::uint32_t>(messages.size()));
    for (const raft::Message& message : messages) {
        const std::string encoded = raft::encode(message);
        storage::put_u32_be(out, static_cast<std::uint32_t>(encoded.size()));
        out.append(encoded);
    }
    return out;
}

std::optional<std::vector<raft::Message>> decode_raft_batch(std::string_view payload) {
    if (payload.size() < 4) {
        return std::nullopt;
    }
    const std::uint32_t count = storage::get_u32_be(bytes_of(payload));
    payload.remove_prefix(4);
    // Every message needs at least its 4-byte length: a count beyond that is a lie, and
    // checking first keeps a hostile count from reserving gigabytes.
    if (count > payload.size() / 4) {
        return std::nullopt;
    }
    std::vector<raft::Message> messages;
    messages.reserve(count);
    for (std::uint32_t i = 0; i < count; ++i) {
        if (payload.size() < 4) {
            return std::nullopt;
        }
        const std::uint32_t length = storage::get_u32_be(bytes_of(payload));
        payload.remove_prefix(4);
        if (length > payload.size()) {
            return std::nullopt;
        }
        auto message = raft::decode_message(payload.substr(0, length));
        if (!message) {
            return std::nullopt;
        }
        messages.push_back(std::move(*message));
        payload.remove_prefix(length);
    }
    if (!payload.empty()) {
        return std::nullopt;
    }
    return messages;
}

std::string encode_hello(raft::NodeId node) {
    std::string out;
    storage::put_u64_be(out, node);
    return out;
}

std::optional<raft::NodeId> decode_hello(std::string_view payload) {
    if (payload.size() != 8) {
        return std::nullopt;
    }
    return storage::get_u64_be(bytes_of(payload));
}

}  // namespace annal::replication
