#include "replication/wal_records.hpp"

#include "raft/codec.hpp"
#include "storage/byte_order.hpp"
#include "storage/crc32c.hpp"

namespace annal::replication {
namespace {

const unsigned char* bytes_of(std::string_view s) {
    return reinterpret_cast<const unsigned char*>(s.data());
}

std::uint32_t record_crc(const char* length_field, const char* body, std::size_t body_size) {
    const std::uint32_t crc = storage::crc32c_extend(0, length_field, 4);
    return storage::crc32c_extend(crc, body, body_size);
}

bool known_type(std::uint8_t type) {
    return type >= static_cast<std::uint8_t>(WalRecordType::Entry) &&
           type <= static_cast<std::uint8_t>(WalRecordType::Commit);
}

}  // namespace

void append_wal_record(std::string& out, WalRecordType type, raft::GroupId group,
                       std::string_view payload) {
    const std::size_t start = out.size();
    const auto body_size = static_cast<std::uint32_t>(kWalBodyPrefixBytes + payload.size());
    out.reserve(start + kWalRecordHeaderBytes + body_size);
    storage::put_u32_be(out, body_size);
    storage::put_u32_be(out, 0);  // the CRC, filled in below
    out.push_back(static_cast<char>(type));
    storage::put_u64_be(out, group);
    out.append(payload);
    const std::uint32_t crc =
        record_crc(out.data() + start, out.data() + start + kWalRecordHeaderBytes, body_size);
    std::string crc_bytes;
    storage::put_u32_be(crc_bytes, crc);
    out.replace(start + 4, 4, crc_bytes);
}

WalParse parse_wal_record(std::string_view bytes, WalRecord& record) {
    if (bytes.size() < 4) {
        return bytes.find_first_not_of('\0') == std::string_view::npos ? WalParse::Unwritten
                                                                       : WalParse::Truncated;
    }
    const std::uint32_t body_size = storage::get_u32_be(bytes_of(bytes));
    if (body_size == 0) {
        return WalParse::Unwritten;
    }
    if (body_size < kWalBodyPrefixBytes || body_size > kWalMaxBodyBytes) {
        return WalParse::Damaged;
    }
    if (bytes.size() < kWalRecordHeaderBytes + body_size) {
        return WalParse::Truncated;
    }
    const char* body = bytes.data() + kWalRecordHeaderBytes;
    if (record_crc(bytes.data(), body, body_size) != storage::get_u32_be(bytes_of(bytes) + 4)) {
        return WalParse::Damaged;
    }
    const auto type = static_cast<std::uint8_t>(body[0]);
    if (!known_type(type)) {
        return WalParse::Damaged;
    }
    record.type = static_cast<WalRecordType>(type);
    record.group = storage::get_u64_be(bytes_of(bytes) + kWalRecordHeaderBytes + 1);
    record.payload = std::string_view(body + kWalBodyPrefixBytes, body_size - kWalBodyPrefixBytes);
    record.size = kWalRecordHeaderBytes + body_size;
    return WalParse::Ok;
}

std::string encode_wal_snapshot(const raft::Snapshot& snapshot) {
    const std::string meta = raft::encode(snapshot.meta);
    std::string out;
    out.reserve(4 + meta.size() + snapshot.data.size());
    storage::put_u32_be(out, static_cast<std::uint32_t>(meta.size()));
    out += meta;
    out += snapshot.data;
    return out;
}

std::optional<raft::Snapshot> decode_wal_snapshot(std::string_view payload) {
    if (payload.size() < 4) {
        return std::nullopt;
    }
    const std::uint32_t meta_size = storage::get_u32_be(bytes_of(payload));
    if (payload.size() - 4 < meta_size) {
        return std::nullopt;
    }
    auto meta = raft::decode_snapshot_meta(payload.substr(4, meta_size));
    if (!meta) {
        return std::nullopt;
    }
    return raft::Snapshot{std::move(*meta), std::string(payload.substr(4 + meta_size))};
}

std::string encode_wal_commit(std::uint32_t records) {
    std::string out;
    storage::put_u32_be(out, records);
    return out;
}

std::optional<std::uint32_t> decode_wal_commit(std::string_view payload) {
    if (payload.size() != 4) {
        return std::nullopt;
    }
    return storage::get_u32_be(bytes_of(payload));
}

}  // namespace annal::replication
