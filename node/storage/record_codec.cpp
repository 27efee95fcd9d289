#include "storage/record_codec.hpp"

#include "storage/byte_order.hpp"
#include "storage/crc32c.hpp"
#include "storage/event_id.hpp"

namespace annal::storage {
namespace {

constexpr std::size_t kChecksumOffset = 1;
constexpr std::size_t kCoveredOffset = 5;
constexpr std::uint8_t kFlagDataIsJson = 1;

std::uint32_t record_checksum(std::uint64_t position, std::string_view covered) {
    std::string position_bytes;
    position_bytes.reserve(8);
    put_u64_be(position_bytes, position);
    const std::uint32_t crc = crc32c_extend(0, position_bytes.data(), position_bytes.size());
    return crc32c_extend(crc, covered.data(), covered.size());
}

const unsigned char* as_bytes(const char* p) {
    return reinterpret_cast<const unsigned char*>(p);
}

}  // namespace

std::size_t encoded_record_size(std::size_t stream_bytes, const ProposedEvent& event) {
    return kRecordHeaderBytes + stream_bytes + event.type.size() + event.data.size() +
           event.metadata.size();
}

void encode_record(std::string& out, std::uint64_t position, std::uint64_t version,
                   std::uint64_t previous_position, std::string_view stream,
                   std::string_view id_bytes, const ProposedEvent& event) {
    const std::size_t start = out.size();
    out.reserve(start + encoded_record_size(stream.size(), event));
    out.push_back(static_cast<char>(kRecordFormatVersion));
    put_u32_be(out, 0);  // checksum, filled in below
    out.push_back(static_cast<char>(event.data_is_json ? kFlagDataIsJson : 0));
    put_u64_be(out, version);
    put_u64_be(out, static_cast<std::uint64_t>(event.timestamp_us));
    out.append(id_bytes);
    put_u16_be(out, static_cast<std::uint16_t>(stream.size()));
    put_u16_be(out, static_cast<std::uint16_t>(event.type.size()));
    put_u32_be(out, static_cast<std::uint32_t>(event.data.size()));
    put_u32_be(out, static_cast<std::uint32_t>(event.metadata.size()));
    put_u64_be(out, previous_position);
    out.append(stream);
    out.append(event.type);
    out.append(event.data);
    out.append(event.metadata);

    const std::string_view covered(out.data() + start + kCoveredOffset,
                                   out.size() - start - kCoveredOffset);
    std::string checksum;
    put_u32_be(checksum, record_checksum(position, covered));
    out.replace(start + kChecksumOffset, 4, checksum);
}

DecodeResult decode_record(std::uint64_t position, std::string_view bytes, StoredEvent& event,
                           std::uint64_t* previous_position) {
    if (bytes.size() < kRecordHeaderBytes) {
        return {DecodeStatus::Corrupt, "record shorter than its header"};
    }
    const unsigned char* p = as_bytes(bytes.data());
    if (p[0] != kRecordFormatVersion) {
        return {DecodeStatus::Corrupt, "unknown record format version " + std::to_string(p[0])};
    }
    const std::uint32_t stored_crc = get_u32_be(p + kChecksumOffset);
    if (record_checksum(position, bytes.substr(kCoveredOffset)) != stored_crc) {
        return {DecodeStatus::Corrupt, "checksum mismatch"};
    }
    const std::size_t stream_len = get_u16_be(p + 38);
    const std::size_t type_len = get_u16_be(p + 40);
    const std::size_t data_len = get_u32_be(p + 42);
    const std::size_t metadata_len = get_u32_be(p + 46);
    if (kRecordHeaderBytes + stream_len + type_len + data_len + metadata_len != bytes.size()) {
        return {DecodeStatus::Corrupt, "field lengths do not match the record size"};
    }
    event.position = position;
    event.data_is_json = (p[5] & kFlagDataIsJson) != 0;
    event.version = get_u64_be(p + 6);
    event.timestamp_us = static_cast<std::int64_t>(get_u64_be(p + 14));
    event.id = event_id_to_text(bytes.substr(22, 16));
    std::size_t offset = kRecordHeaderBytes;
    event.stream.assign(bytes.substr(offset, stream_len));
    offset += stream_len;
    event.type.assign(bytes.substr(offset, type_len));
    offset += type_len;
    event.data.assign(bytes.substr(offset, data_len));
    offset += data_len;
    event.metadata.assign(bytes.substr(offset, metadata_len));
    if (previous_position != nullptr) {
        *previous_position = get_u64_be(p + 50);
    }
    return {};
}

}  // namespace annal::storage
