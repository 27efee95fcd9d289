#include "storage/raw_records.hpp"

#include "storage/byte_order.hpp"
#include "storage/index_keys.hpp"

namespace annal::storage {

void append_raw_record(std::string& out, std::uint64_t position, std::string_view record) {
    put_u64_be(out, position);
    put_u32_be(out, static_cast<std::uint32_t>(record.size()));
    out.append(record);
}

bool decode_raw_records(std::string_view body, std::vector<RawRecordView>& out) {
    out.clear();
    while (!body.empty()) {
        if (body.size() < kRawRecordPrefixBytes) {
            return false;
        }
        const auto* prefix = reinterpret_cast<const unsigned char*>(body.data());
        const std::uint64_t position = get_u64_be(prefix);
        const std::uint32_t length = get_u32_be(prefix + 8);
        body.remove_prefix(kRawRecordPrefixBytes);
        if (body.size() < length) {
            return false;
        }
        out.push_back({position, body.substr(0, length)});
        body.remove_prefix(length);
    }
    return true;
}

RawRecords read_raw_records(const LmdbEnvironment& environment, std::uint64_t after,
                            std::uint64_t upto, std::size_t max_bytes) {
    RawRecords result;
    auto failed = [&result](int rc, const char* what) {
        result.status = ReadStatus::IoError;
        result.message = std::string(what) + ": " + lmdb_error(rc);
        result.body.clear();
        result.records = 0;
        return result;
    };
    ReadTransaction txn(environment);
    if (txn.status() != 0) {
        return failed(txn.status(), "beginning a read transaction");
    }
    Cursor cursor(txn.get(), environment.databases().events);
    if (cursor.open_status() != 0) {
        return failed(cursor.open_status(), "opening a cursor");
    }
    MDB_val key{};
    MDB_val value{};
    int rc = cursor.get(key, value, MDB_LAST);
    if (rc == MDB_NOTFOUND) {
        return result;
    }
    if (rc != 0) {
        return failed(rc, "reading the head");
    }
    result.head = position_from_key(to_view(key));
    const std::string first = position_key(after + 1);
    key = to_val(first);
    rc = cursor.get(key, value, MDB_SET_RANGE);
    std::uint64_t expected = after + 1;
    while (rc == 0) {
        const std::uint64_t position = position_from_key(to_view(key));
        if (position > upto) {
            break;
        }
        if (position != expected) {
            result.status = ReadStatus::Corrupt;
            result.message = "the event log has a gap before position " + std::to_string(position);
            result.body.clear();
            result.records = 0;
            return result;
        }
        append_raw_record(result.body, position, to_view(value));
        ++result.records;
        ++expected;
        if (result.body.size() >= max_bytes) {
            break;
        }
        rc = cursor.get(key, value, MDB_NEXT);
    }
    if (rc != 0 && rc != MDB_NOTFOUND) {
        return failed(rc, "reading records");
    }
    return result;
}

}  // namespace annal::storage
