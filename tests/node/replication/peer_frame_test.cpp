#include <doctest/doctest.h>

#include <random>
#include <vector>

#include "replication/peer_frame.hpp"
#include "replication/peer_payload.hpp"

namespace annal::replication {
namespace {

constexpr std::uint64_t kCluster = 0x0123456789ABCDEFull;

raft::Message sample_message(raft::GroupId group, raft::Index index) {
    raft::Message m;
    m.type = raft::MessageType::Append;
    m.group = group;
    m.from = 1;
    m.to = 2;
    m.term = 3;
    m.log_term = 2;
    m.index = index;
    m.commit = index;
    m.entries = {raft::Entry{3, index + 1, raft::EntryType::Normal, "event bytes"},
                 raft::Entry{3, index + 2, raft::EntryType::Noop, {}}};
    return m;
}

std::vector<raft::Message> sample_batch() {
    std::vector<raft::Message> batch{sample_message(1, 10), sample_message(2, 20)};
    raft::Message vote;
    vote.type = raft::MessageType::VoteResponse;
    vote.group = 3;
    vote.from = 2;
    vote.to = 1;
    vote.term = 9;
    vote.reject = true;
    batch.push_back(vote);
    return batch;
}

struct Outcome {
    std::vector<Frame> frames;
    FrameError error = FrameError::None;
};

// Feeds `bytes` in chunks of the given sizes (cycled), drains frames, then ends the stream.
Outcome decode_all(std::string_view bytes, const std::vector<std::size_t>& chunks,
                   std::uint32_t max_payload = kDefaultMaxFramePayloadBytes) {
    FrameDecoder decoder(kCluster, max_payload);
    Outcome out;
    std::size_t pos = 0;
    std::size_t c = 0;
    while (pos < bytes.size()) {
        const std::size_t n = std::min(chunks[c++ % chunks.size()], bytes.size() - pos);
        decoder.feed(bytes.substr(pos, n));
        pos += n;
        while (auto frame = decoder.next()) {
            out.frames.push_back(std::move(*frame));
        }
    }
    out.error = decoder.finish();
    return out;
}

}  // namespace

TEST_CASE("a batch of messages of several groups survives frame and payload round trip") {
    const auto batch = sample_batch();
    const std::string bytes =
        encode_frame(kCluster, FrameType::RaftMessages, encode_raft_batch(batch));
    const Outcome out = decode_all(bytes, {bytes.size()});
    REQUIRE(out.error == FrameError::None);
    REQUIRE(out.frames.size() == 1);
    CHECK(out.frames[0].type == FrameType::RaftMessages);
    CHECK(out.frames[0].cluster_id == kCluster);
    CHECK(decode_raft_batch(out.frames[0].payload) == batch);

    const std::string hello = encode_frame(kCluster, FrameType::Hello, encode_hello(42));
    const Outcome h = decode_all(hello, {1});
    REQUIRE(h.frames.size() == 1);
    CHECK(decode_hello(h.frames[0].payload) == 42u);
    CHECK_FALSE(decode_hello("short"));
}

TEST_CASE("any chunking of a stream of frames yields the same frames") {
    std::string stream;
    std::vector<std::string> payloads;
    for (int i = 0; i < 6; ++i) {
        payloads.push_back(
            i == 2 ? std::string()
                   : std::string(static_cast<std::size_t>(i) * 37, static_cast<char>('a' + i)));
        append_frame(stream, kCluster, i % 2 == 0 ? FrameType::RaftMessages : FrameType::Hello,
                     payloads.back());
    }
    // Every single split point, then random chunk sizes.
    for (std::size_t split = 0; split <= stream.size(); ++split) {
        FrameDecoder decoder(kCluster);
        decoder.feed(std::string_view(stream).substr(0, split));
        std::vector<std::string> got;
        while (auto f = decoder.next()) {
            got.push_back(f->payload);
        }
        decoder.feed(std::string_view(stream).substr(split));
        while (auto f = decoder.next()) {
            got.push_back(f->payload);
        }
        REQUIRE(decoder.finish() == FrameError::None);
        REQUIRE(got == payloads);
    }
    std::mt19937 rng(3);
    for (int round = 0; round < 200; ++round) {
        std::vector<std::size_t> chunks;
        for (int i = 0; i < 8; ++i) {
            chunks.push_back(1 + rng() % 64);
        }
        const Outcome out = decode_all(stream, chunks);
        REQUIRE(out.error == FrameError::None);
        REQUIRE(out.frames.size() == payloads.size());
        for (std::size_t i = 0; i < payloads.size(); ++i) {
            REQUIRE(out.frames[i].payload == payloads[i]);
        }
    }
}

TEST_CASE("header errors are precise and final") {
    const std::string good = encode_frame(kCluster, FrameType::RaftMessages, "payload");
    SUBCASE("garbage is refused within the magic") {
        FrameDecoder decoder(kCluster);
        decoder.feed("GET / HTTP/1.1\r\n");
        CHECK_FALSE(decoder.next());
        CHECK(decoder.error() == FrameError::BadMagic);
        decoder.feed(good);  // ignored once failed
        CHECK_FALSE(decoder.next());
        CHECK(decoder.finish() == FrameError::BadMagic);
    }
    SUBCASE("a frame of another cluster") {
        const std::string other = encode_frame(kCluster + 1, FrameType::RaftMessages, "payload");
        CHECK(decode_all(other, {other.size()}).error == FrameError::WrongCluster);
        // ... is refused from its header alone, before any payload arrives.
        FrameDecoder decoder(kCluster);
        decoder.feed(std::string_view(other).substr(0, kFrameHeaderBytes));
        CHECK_FALSE(decoder.next());
        CHECK(decoder.error() == FrameError::WrongCluster);
    }
    SUBCASE("a payload above the limit is refused from its header") {
        const std::string big =
            encode_frame(kCluster, FrameType::RaftMessages, std::string(100, 'x'));
        FrameDecoder decoder(kCluster, 99);
        decoder.feed(std::string_view(big).substr(0, kFrameHeaderBytes));
        CHECK_FALSE(decoder.next());
        CHECK(decoder.error() == FrameError::TooLarge);
        CHECK(decode_all(big, {7}, 100).error == FrameError::None);
    }
    SUBCASE("another version") {
        std::string v2 = good;
        v2[4] = 2;
        CHECK(decode_all(v2, {5}).error == FrameError::UnsupportedVersion);
    }
    SUBCASE("a payload bit flip is a checksum mismatch") {
        std::string bad = good;
        bad.back() ^= 0x20;
        CHECK(decode_all(bad, {3}).error == FrameError::ChecksumMismatch);
    }
    SUBCASE("a header bit flip is a header checksum mismatch") {
        std::string bad = good;
        bad[17] ^= 0x01;  // payload length
        CHECK(decode_all(bad, {3}).error == FrameError::HeaderChecksumMismatch);
    }
}

TEST_CASE("truncation at every offset is reported at close, never a frame") {
    const std::string frame =
        encode_frame(kCluster, FrameType::RaftMessages, encode_raft_batch(sample_batch()));
    for (std::size_t size = 1; size < frame.size(); ++size) {
        const Outcome out = decode_all(std::string_view(frame).substr(0, size), {size});
        REQUIRE(out.frames.empty());
        REQUIRE(out.error == FrameError::Truncated);
    }
    CHECK(decode_all("", {1}).error == FrameError::None);
}

TEST_CASE("every single bit flip of a valid frame is rejected") {
    const std::string frame =
        encode_frame(kCluster, FrameType::RaftMessages, encode_raft_batch(sample_batch()));
    for (std::size_t bit = 0; bit < frame.size() * 8; ++bit) {
        std::string bad = frame;
        bad[bit / 8] = static_cast<char>(bad[bit / 8] ^ (1 << (bit % 8)));
        const Outcome out = decode_all(bad, {1 + bit % 13});
        REQUIRE(out.frames.empty());
        REQUIRE(out.error != FrameError::None);
    }
}

TEST_CASE("random garbage, alone or after valid frames, never crashes or yields garbage") {
    std::mt19937_64 rng(99);
    const std::string valid =
        encode_frame(kCluster, FrameType::RaftMessages, encode_raft_batch(sample_batch()));
    for (int round = 0; round < 2000; ++round) {
        std::string bytes;
        const bool lead_with_valid = round % 2 == 0;
        if (lead_with_valid) {
            bytes = valid;
        }
        const std::size_t n = rng() % 200;
        for (std::size_t i = 0; i < n; ++i) {
            bytes.push_back(static_cast<char>(rng()));
        }
        // Sometimes a plausible header (right magic and version) with random rest.
        if (round % 5 == 0 && bytes.size() >= valid.size() + 5) {
            bytes.replace(valid.size() * (lead_with_valid ? 1 : 0), 5, valid.substr(0, 5));
        }
        const Outcome out = decode_all(bytes, {1 + static_cast<std::size_t>(rng() % 40)});
        REQUIRE(out.frames.size() == (lead_with_valid ? 1u : 0u));
        if (lead_with_valid) {
            REQUIRE(decode_raft_batch(out.frames[0].payload) == sample_batch());
        }
        if (n > 0) {
            REQUIRE(out.error != FrameError::None);
        }
    }
}

TEST_CASE("raft batch payloads: strict decoding of damaged or hostile bytes") {
    const std::string payload = encode_raft_batch(sample_batch());
    CHECK(decode_raft_batch(encode_raft_batch({})) == std::vector<raft::Message>{});
    for (std::size_t size = 0; size < payload.size(); ++size) {
        REQUIRE_FALSE(decode_raft_batch(std::string_view(payload).substr(0, size)));
    }
    CHECK_FALSE(decode_raft_batch(payload + "x"));
    std::string huge_count = payload;
    huge_count[0] = static_cast<char>(0xFF);  // claims ~4 billion messages
    CHECK_FALSE(decode_raft_batch(huge_count));
    // Bit flips inside the payload either are rejected or decode to a different batch;
    // none may crash (this loop runs under ASan/UBSan in CI).
    std::size_t rejected = 0;
    for (std::size_t bit = 0; bit < payload.size() * 8; ++bit) {
        std::string bad = payload;
        bad[bit / 8] = static_cast<char>(bad[bit / 8] ^ (1 << (bit % 8)));
        const auto decoded = decode_raft_batch(bad);
        if (!decoded) {
            ++rejected;
        } else {
            REQUIRE(*decoded != sample_batch());
        }
    }
    CHECK(rejected > 0);
}

}  // namespace annal::replication
