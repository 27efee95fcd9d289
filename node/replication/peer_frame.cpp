#include "replication/peer_frame.hpp"

#include "storage/byte_order.hpp"
#include "storage/crc32c.hpp"

namespace annal::replication {
namespace {

constexpr std::size_t kFrameCrcOffset = 20;
constexpr std::size_t kHeaderCrcOffset = 24;

const unsigned char* bytes_of(std::string_view s) {
    return reinterpret_cast<const unsigned char*>(s.data());
}

bool known_type(std::uint8_t type) {
    return type == static_cast<std::uint8_t>(FrameType::Hello) ||
           type == static_cast<std::uint8_t>(FrameType::RaftMessages);
}

}  // namespace

const char* to_string(FrameError error) {
    switch (error) {
        case FrameError::None:
            return "none";
        case FrameError::BadMagic:
            return "bad magic";
        case FrameError::UnsupportedVersion:
            return "unsupported frame version";
        case FrameError::HeaderChecksumMismatch:
            return "header checksum mismatch";
        case FrameError::WrongCluster:
            return "frame from another cluster";
        case FrameError::UnknownType:
            return "unknown frame type";
        case FrameError::ReservedBitsSet:
            return "reserved header bits set";
        case FrameError::TooLarge:
            return "frame too large";
        case FrameError::ChecksumMismatch:
            return "frame checksum mismatch";
        case FrameError::Truncated:
            return "stream ended inside a frame";
    }
    return "?";
}

void append_frame(std::string& out, std::uint64_t cluster_id, FrameType type,
                  std::string_view payload) {
    const std::size_t start = out.size();
    out.reserve(start + kFrameHeaderBytes + payload.size());
    storage::put_u32_be(out, kFrameMagic);
    out.push_back(static_cast<char>(kFrameVersion));
    out.push_back(static_cast<char>(type));
    storage::put_u16_be(out, 0);
    storage::put_u64_be(out, cluster_id);
    storage::put_u32_be(out, static_cast<std::uint32_t>(payload.size()));
    std::uint32_t crc = storage::crc32c_extend(0, out.data() + start, kFrameCrcOffset);
    crc = storage::crc32c_extend(crc, payload.data(), payload.size());
    storage::put_u32_be(out, crc);
    storage::put_u32_be(out, storage::crc32c_extend(0, out.data() + start, kHeaderCrcOffset));
    out.append(payload);
}

std::string encode_frame(std::uint64_t cluster_id, FrameType type, std::string_view payload) {
    std::string out;
    append_frame(out, cluster_id, type, payload);
    return out;
}

FrameDecoder::FrameDecoder(std::uint64_t cluster_id, std::uint32_t max_payload_bytes)
    : cluster_id_(cluster_id), max_payload_bytes_(max_payload_bytes) {}

void FrameDecoder::feed(std::string_view bytes) {
    if (error_ != FrameError::None) {
        return;
    }
    // Drop consumed bytes before growing, so a long-lived connection's buffer stays at
    // about one frame plus one chunk.
    if (read_offset_ > 0 && read_offset_ >= buffer_.size() / 2) {
        buffer_.erase(0, read_offset_);
        read_offset_ = 0;
    }
    buffer_.append(bytes);
}

bool FrameDecoder::check_header(std::string_view available) {
    auto fail = [this](FrameError error) {
        error_ = error;
        return false;
    };
    const unsigned char* p = bytes_of(available);
    // Magic and version are checked byte by byte as they arrive, so garbage is refused
    // after at most four bytes.
    const std::size_t magic_bytes = std::min<std::size_t>(available.size(), 4);
    for (std::size_t i = 0; i < magic_bytes; ++i) {
        if (p[i] != ((kFrameMagic >> (8 * (3 - i))) & 0xFFu)) {
            return fail(FrameError::BadMagic);
        }
    }
    if (available.size() > 4 && p[4] != kFrameVersion) {
        return fail(FrameError::UnsupportedVersion);
    }
    if (available.size() < kFrameHeaderBytes) {
        return true;
    }
    if (storage::get_u32_be(p + kHeaderCrcOffset) !=
        storage::crc32c_extend(0, available.data(), kHeaderCrcOffset)) {
        return fail(FrameError::HeaderChecksumMismatch);
    }
    if (storage::get_u64_be(p + 8) != cluster_id_) {
        return fail(FrameError::WrongCluster);
    }
    if (!known_type(p[5])) {
        return fail(FrameError::UnknownType);
    }
    if (storage::get_u16_be(p + 6) != 0) {
        return fail(FrameError::ReservedBitsSet);
    }
    if (storage::get_u32_be(p + 16) > max_payload_bytes_) {
        return fail(FrameError::TooLarge);
    }
    return true;
}

std::optional<Frame> FrameDecoder::next() {
    if (error_ != FrameError::None) {
        return std::nullopt;
    }
    const std::string_view available = std::string_view(buffer_).substr(read_offset_);
    if (!check_header(available) || available.size() < kFrameHeaderBytes) {
        return std::nullopt;
    }
    const unsigned char* p = bytes_of(available);
    const std::size_t payload_bytes = storage::get_u32_be(p + 16);
    if (available.size() - kFrameHeaderBytes < payload_bytes) {
        return std::nullopt;
    }
    const std::string_view payload = available.substr(kFrameHeaderBytes, payload_bytes);
    std::uint32_t crc = storage::crc32c_extend(0, available.data(), kFrameCrcOffset);
    crc = storage::crc32c_extend(crc, payload.data(), payload.size());
    if (crc != storage::get_u32_be(p + kFrameCrcOffset)) {
        error_ = FrameError::ChecksumMismatch;
        return std::nullopt;
    }
    Frame frame{static_cast<FrameType>(p[5]), storage::get_u64_be(p + 8), std::string(payload)};
    read_offset_ += kFrameHeaderBytes + payload_bytes;
    if (read_offset_ == buffer_.size()) {
        buffer_.clear();
        read_offset_ = 0;
    }
    return frame;
}

FrameError FrameDecoder::finish() {
    if (error_ == FrameError::None) {
        // A header error in the buffered tail is more precise than "truncated".
        if (buffered_bytes() > 0 && check_header(std::string_view(buffer_).substr(read_offset_))) {
            error_ = FrameError::Truncated;
        }
    }
    return error_;
}

}  // namespace annal::replication
