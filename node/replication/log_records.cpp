#include "replication/log_records.hpp"

#include "raft/codec.hpp"
#include "storage/byte_order.hpp"
#include "storage/crc32c.hpp"

namespace annal::replication {
namespace {

const unsigned char* bytes_of(std::string_view s) {
    return reinterpret_cast<const unsigned char*>(s.data());
}

}  // namespace

std::string entry_key(raft::GroupId group, raft::Index index) {
    std::string key;
    key.reserve(kEntryKeyBytes);
    storage::put_u64_be(key, group);
    storage::put_u64_be(key, index);
    return key;
}

std::string state_key(raft::GroupId group, StateKind kind) {
    std::string key;
    key.reserve(kStateKeyBytes);
    storage::put_u64_be(key, group);
    key.push_back(static_cast<char>(kind));
    return key;
}

std::optional<EntryKey> parse_entry_key(std::string_view key) {
    if (key.size() != kEntryKeyBytes) {
        return std::nullopt;
    }
    return EntryKey{storage::get_u64_be(bytes_of(key)), storage::get_u64_be(bytes_of(key) + 8)};
}

std::optional<raft::GroupId> parse_state_key(std::string_view key, StateKind kind) {
    if (key.size() != kStateKeyBytes ||
        static_cast<std::uint8_t>(key[8]) != static_cast<std::uint8_t>(kind)) {
        return std::nullopt;
    }
    return storage::get_u64_be(bytes_of(key));
}

std::string seal_record(std::string_view key, std::string_view payload) {
    std::string record;
    record.reserve(kRecordHeaderBytes + payload.size());
    record.push_back(static_cast<char>(kRecordVersion));
    std::uint32_t crc = storage::crc32c_extend(0, key.data(), key.size());
    crc = storage::crc32c_extend(crc, record.data(), 1);
    crc = storage::crc32c_extend(crc, payload.data(), payload.size());
    storage::put_u32_be(record, crc);
    record.append(payload);
    return record;
}

std::optional<std::string_view> open_record(std::string_view key, std::string_view record) {
    if (record.size() < kRecordHeaderBytes ||
        static_cast<std::uint8_t>(record[0]) != kRecordVersion) {
        return std::nullopt;
    }
    const std::string_view payload = record.substr(kRecordHeaderBytes);
    std::uint32_t crc = storage::crc32c_extend(0, key.data(), key.size());
    crc = storage::crc32c_extend(crc, record.data(), 1);
    crc = storage::crc32c_extend(crc, payload.data(), payload.size());
    if (crc != storage::get_u32_be(bytes_of(record) + 1)) {
        return std::nullopt;
    }
    return payload;
}

std::string encode_entry_record(raft::GroupId group, const raft::Entry& entry) {
    return seal_record(entry_key(group, entry.index), raft::encode(entry));
}

std::optional<raft::Entry> decode_entry_record(raft::GroupId group, raft::Index index,
                                               std::string_view record) {
    const std::string key = entry_key(group, index);
    const auto payload = open_record(key, record);
    if (!payload) {
        return std::nullopt;
    }
    auto entry = raft::decode_entry(*payload);
    if (!entry || entry->index != index) {
        return std::nullopt;
    }
    return entry;
}

std::string encode_log_base(const LogBase& base) {
    std::string out;
    storage::put_u64_be(out, base.index);
    storage::put_u64_be(out, base.term);
    return out;
}

std::optional<LogBase> decode_log_base(std::string_view payload) {
    if (payload.size() != 16) {
        return std::nullopt;
    }
    return LogBase{storage::get_u64_be(bytes_of(payload)),
                   storage::get_u64_be(bytes_of(payload) + 8)};
}

}  // namespace annal::replication
