#include <doctest/doctest.h>

#include <vector>

#include "raft/codec.hpp"
#include "replication/peer_frame.hpp"
#include "replication/peer_payload.hpp"
#include "transport/frame_batch.hpp"

namespace {

using annal::raft::Entry;
using annal::raft::Message;
using annal::raft::MessageType;
namespace replication = annal::replication;
using annal::transport::append_message_frames;
using annal::transport::estimated_wire_bytes;

constexpr std::uint64_t kCluster = 42;

Message append_message(std::uint64_t sequence, std::size_t data_bytes) {
    Message m;
    m.type = MessageType::Append;
    m.group = 1 + sequence % 3;
    m.from = 1;
    m.to = 2;
    m.term = 7;
    m.index = sequence;
    m.entries.push_back(Entry{7, sequence + 1, annal::raft::EntryType::Normal,
                              std::string(data_bytes, static_cast<char>('a' + sequence % 26))});
    return m;
}

std::vector<replication::Frame> decode_all(const std::string& bytes, std::uint32_t max_payload) {
    replication::FrameDecoder decoder(kCluster, max_payload);
    decoder.feed(bytes);
    std::vector<replication::Frame> frames;
    while (auto frame = decoder.next()) {
        frames.push_back(std::move(*frame));
    }
    REQUIRE(decoder.finish() == replication::FrameError::None);
    return frames;
}

}  // namespace

TEST_CASE("the estimate is not below the encoded size") {
    for (std::size_t bytes : {0u, 1u, 100u, 5000u}) {
        const Message m = append_message(123456789, bytes);
        CHECK(estimated_wire_bytes(m) >= annal::raft::encode(m).size() + 4);
    }
}

TEST_CASE("messages that fit go out as one frame") {
    std::vector<Message> messages;
    for (std::uint64_t i = 0; i < 50; ++i) {
        messages.push_back(append_message(i, 10));
    }
    std::string out;
    const auto result = append_message_frames(out, kCluster, messages, 1 << 20);
    CHECK(result.frames == 1);
    CHECK(result.messages == 50);
    CHECK(result.oversized == 0);
    const auto frames = decode_all(out, 1 << 20);
    REQUIRE(frames.size() == 1);
    const auto decoded = replication::decode_raft_batch(frames[0].payload);
    REQUIRE(decoded);
    CHECK(*decoded == messages);
}

TEST_CASE("a batch over the payload limit splits into frames that each fit, in order") {
    std::vector<Message> messages;
    for (std::uint64_t i = 0; i < 40; ++i) {
        messages.push_back(append_message(i, 300 + i * 7));
    }
    // One message too big to send at all, in the middle.
    messages.insert(messages.begin() + 20, append_message(999, 5000));
    constexpr std::uint32_t kLimit = 2048;
    std::string out;
    const auto result = append_message_frames(out, kCluster, messages, kLimit);
    CHECK(result.oversized == 1);
    CHECK(result.messages == 40);
    CHECK(result.frames > 1);
    const auto frames = decode_all(out, kLimit);
    CHECK(frames.size() == result.frames);
    std::vector<Message> received;
    for (const auto& frame : frames) {
        CHECK(frame.payload.size() <= kLimit);
        auto batch = replication::decode_raft_batch(frame.payload);
        REQUIRE(batch);
        received.insert(received.end(), batch->begin(), batch->end());
    }
    messages.erase(messages.begin() + 20);
    CHECK(received == messages);
}
