// Binary framing of the peer connection (one long-lived connection per node pair carries
// the traffic of every Raft group).
//
// Header, 28 bytes, integers big-endian:
//   0  magic u32 "ANPR"       4  version u8        5  type u8       6  reserved u16 (0)
//   8  cluster id u64        16  payload length u32
//  20  frame CRC32C u32 over bytes [0, 20) and the payload
//  24  header CRC32C u32 over bytes [0, 24)
// The header has its own checksum so that a damaged length is caught as soon as the header
// arrives, instead of leaving the reader waiting for bytes that never come. A frame from
// a node of another cluster (different cluster id) is rejected before its payload is read.
//
// The decoder is a byte-stream state machine: feed it chunks of any size (a frame split
// across many chunks, many frames in one chunk) and pull complete frames. Its first error
// is final — framing cannot be resynchronized on a stream, so the connection must close.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace annal::replication {

inline constexpr std::uint32_t kFrameMagic = 0x414E5052;  // "ANPR"
inline constexpr std::uint8_t kFrameVersion = 1;
inline constexpr std::size_t kFrameHeaderBytes = 28;
// Above the core's default max_msg_bytes and snapshot chunk (1 MiB each) with headroom for
// many groups' messages in one frame.
inline constexpr std::uint32_t kDefaultMaxFramePayloadBytes = 64u << 20;

enum class FrameType : std::uint8_t {
    Hello = 1,         // first frame on a connection: who is speaking (peer_payload.hpp)
    RaftMessages = 2,  // a batch of raft::Message, possibly of many groups
};

struct Frame {
    FrameType type = FrameType::RaftMessages;
    std::uint64_t cluster_id = 0;
    std::string payload;
};

enum class FrameError : std::uint8_t {
    None,
    BadMagic,                // not a peer frame (garbage, or another protocol)
    UnsupportedVersion,      // a frame version this node does not speak
    HeaderChecksumMismatch,  // the header is damaged
    WrongCluster,            // from a node of another cluster
    UnknownType,             // a frame type this version does not define
    ReservedBitsSet,         // reserved header bits are not zero
    TooLarge,                // payload length above the decoder's limit
    ChecksumMismatch,        // header or payload damaged
    Truncated,               // the stream ended inside a frame
};
const char* to_string(FrameError error);

// Appends one frame to `out` (so many frames can share one write buffer).
void append_frame(std::string& out, std::uint64_t cluster_id, FrameType type,
                  std::string_view payload);
std::string encode_frame(std::uint64_t cluster_id, FrameType type, std::string_view payload);

class FrameDecoder {
  public:
    explicit FrameDecoder(std::uint64_t cluster_id,
                          std::uint32_t max_payload_bytes = kDefaultMaxFramePayloadBytes);

    // Buffers `bytes`; ignored once an error has been found.
    void feed(std::string_view bytes);
    // The next complete frame, or nullopt when more bytes are needed or an error has been
    // found (see error()). Header errors are found as soon as the header's bytes arrive.
    std::optional<Frame> next();
    // The stream has ended: reports Truncated if part of a frame is still buffered (unless
    // an earlier error stands).
    FrameError finish();

    FrameError error() const { return error_; }
    std::size_t buffered_bytes() const { return buffer_.size() - read_offset_; }

  private:
    // Checks as much of the header as is buffered; returns false on an error.
    bool check_header(std::string_view available);

    std::uint64_t cluster_id_;
    std::uint32_t max_payload_bytes_;
    std::string buffer_;
    std::size_t read_offset_ = 0;  // bytes of buffer_ already consumed
    FrameError error_ = FrameError::None;
};

}  // namespace annal::replication
