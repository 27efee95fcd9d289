#include "storage/store_reader.hpp"

#include <algorithm>
#include <vector>

#include "storage/index_keys.hpp"
#include "storage/record_codec.hpp"

namespace annal::storage {
namespace {

ReadResult failure(ReadStatus status, std::string message) {
    ReadResult result;
    result.status = status;
    result.message = std::move(message);
    return result;
}

ReadResult io_failure(const char* what, int rc) {
    return failure(ReadStatus::IoError, std::string(what) + ": " + lmdb_error(rc));
}

// Loads and verifies the record at `position`; on failure `result` becomes the error and
// nothing read so far is served.
bool load_event(MDB_txn* txn, const Databases& databases, std::uint64_t position,
                ReadResult& result, StoredEvent& event, std::uint64_t* previous = nullptr) {
    const std::string key_bytes = position_key(position);
    MDB_val key = to_val(key_bytes);
    MDB_val value{};
    const int rc = mdb_get(txn, databases.events, &key, &value);
    if (rc == MDB_NOTFOUND) {
        result = failure(ReadStatus::Corrupt,
                         "index points to missing record at position " + std::to_string(position));
        return false;
    }
    if (rc != 0) {
        result = io_failure("reading the event log", rc);
        return false;
    }
    const DecodeResult decoded = decode_record(position, to_view(value), event, previous);
    if (decoded.status != DecodeStatus::Ok) {
        result =
            failure(ReadStatus::Corrupt, "corrupt record at position " + std::to_string(position) +
                                             ": " + decoded.problem);
        return false;
    }
    return true;
}

ReadResult index_mismatch(std::uint64_t position, const char* index) {
    return failure(ReadStatus::Corrupt, std::string(index) +
                                            " entry does not match the record at position " +
                                            std::to_string(position));
}

}  // namespace

ReadResult StoreReader::read_stream(const std::string& stream, std::uint64_t from_version,
                                    Direction direction, std::size_t limit) const {
    ReadResult result;
    if (limit == 0 || stream.empty() || stream.size() > kMaxNameBytes) {
        return result;
    }
    ReadTransaction txn(environment_);
    if (txn.status() != 0) {
        return io_failure("beginning a read", txn.status());
    }
    const Databases& databases = environment_.databases();
    StreamHead head;
    MDB_val key = to_val(stream);
    MDB_val value{};
    int rc = mdb_get(txn.get(), databases.stream_heads, &key, &value);
    if (rc == MDB_NOTFOUND) {
        return result;
    }
    if (rc != 0) {
        return io_failure("reading the stream head", rc);
    }
    if (!parse_stream_head_value(to_view(value), head)) {
        return failure(ReadStatus::Corrupt, "malformed head of stream '" + stream + "'");
    }

    // The versions wanted, [first, last], clipped to what exists.
    const std::uint64_t span = std::min<std::uint64_t>(limit, head.version + 1) - 1;
    std::uint64_t first = 0;
    std::uint64_t last = 0;
    if (direction == Direction::Forwards) {
        if (from_version > head.version) {
            return result;
        }
        first = from_version;
        last = std::min(head.version, first + span);
    } else {
        last = std::min(from_version, head.version);
        first = last >= span ? last - span : 0;
    }

    // The nearest known position at or above `last`: the next indexed version, or the head.
    std::uint64_t version = head.version;
    std::uint64_t position = head.position;
    const std::uint64_t indexed =
        (last + kStreamIndexStride - 1) / kStreamIndexStride * kStreamIndexStride;
    if (indexed < head.version) {
        const std::string index_key = stream_index_key(stream, indexed);
        key = to_val(index_key);
        rc = mdb_get(txn.get(), databases.stream_index, &key, &value);
        if (rc == MDB_NOTFOUND) {
            return failure(ReadStatus::Corrupt, "stream index entry missing for '" + stream +
                                                    "' version " + std::to_string(indexed));
        }
        if (rc != 0) {
            return io_failure("reading the stream index", rc);
        }
        version = indexed;
        position = position_from_key(to_view(value));
    }

    // Walk the stream's chain back from there to `first`.
    std::vector<StoredEvent> walked;
    walked.reserve(last - first + 1);
    for (;;) {
        StoredEvent event;
        std::uint64_t previous = 0;
        if (!load_event(txn.get(), databases, position, result, event, &previous)) {
            return result;
        }
        if (event.stream != stream || event.version != version) {
            return index_mismatch(position, "stream chain");
        }
        if (version <= last) {
            walked.push_back(std::move(event));
        }
        if (version == first) {
            break;
        }
        if (previous == 0 || previous >= position) {
            return index_mismatch(position, "stream chain");
        }
        position = previous;
        --version;
    }
    if (direction == Direction::Forwards) {
        std::reverse(walked.begin(), walked.end());
    }
    result.events = std::move(walked);
    return result;
}

ReadResult StoreReader::read_all(std::uint64_t from_position, Direction direction,
                                 std::size_t limit) const {
    ReadResult result;
    if (limit == 0) {
        return result;
    }
    ReadTransaction txn(environment_);
    if (txn.status() != 0) {
        return io_failure("beginning a read", txn.status());
    }
    const Databases& databases = environment_.databases();
    Cursor cursor(txn.get(), databases.events);
    if (cursor.open_status() != 0) {
        return io_failure("opening a cursor", cursor.open_status());
    }
    const std::string start = position_key(from_position);
    MDB_val key = to_val(start);
    MDB_val value{};
    int rc = cursor.get(key, value, MDB_SET_RANGE);
    MDB_cursor_op step = MDB_NEXT;
    if (direction == Direction::Backwards) {
        step = MDB_PREV;
        if (rc == MDB_NOTFOUND) {
            rc = cursor.get(key, value, MDB_LAST);
        } else if (rc == 0 && to_view(key) != start) {
            rc = cursor.get(key, value, MDB_PREV);
        }
    }
    while (rc == 0 && result.events.size() < limit) {
        const std::uint64_t position = position_from_key(to_view(key));
        StoredEvent event;
        const DecodeResult decoded = decode_record(position, to_view(value), event);
        if (key.mv_size != kPositionKeyBytes || decoded.status != DecodeStatus::Ok) {
            return failure(
                ReadStatus::Corrupt,
                "corrupt record at position " + std::to_string(position) + ": " + decoded.problem);
        }
        result.events.push_back(std::move(event));
        rc = cursor.get(key, value, step);
    }
    if (rc != 0 && rc != MDB_NOTFOUND) {
        return io_failure("walking the event log", rc);
    }
    return result;
}

ReadResult StoreReader::read_time(std::int64_t start_us, std::uint64_t start_position,
                                  bool exclusive, std::int64_t to_us, std::size_t limit) const {
    ReadResult result;
    if (limit == 0 || start_us >= to_us) {
        return result;
    }
    ReadTransaction txn(environment_);
    if (txn.status() != 0) {
        return io_failure("beginning a read", txn.status());
    }
    const Databases& databases = environment_.databases();
    Cursor cursor(txn.get(), databases.time_index);
    if (cursor.open_status() != 0) {
        return io_failure("opening a cursor", cursor.open_status());
    }
    const std::string start = time_key(start_us, start_position);
    MDB_val key = to_val(start);
    MDB_val value{};
    int rc = cursor.get(key, value, MDB_SET_RANGE);
    if (rc == 0 && exclusive && to_view(key) == start) {
        rc = cursor.get(key, value, MDB_NEXT);
    }
    while (rc == 0 && result.events.size() < limit) {
        if (key.mv_size != kTimeKeyBytes) {
            return failure(ReadStatus::Corrupt, "malformed time index key");
        }
        const TimeKey entry = parse_time_key(to_view(key));
        if (entry.timestamp_us >= to_us) {
            break;
        }
        StoredEvent event;
        if (!load_event(txn.get(), databases, entry.position, result, event)) {
            return result;
        }
        if (event.timestamp_us != entry.timestamp_us) {
            return index_mismatch(entry.position, "time index");
        }
        result.events.push_back(std::move(event));
        rc = cursor.get(key, value, MDB_NEXT);
    }
    if (rc != 0 && rc != MDB_NOTFOUND) {
        return io_failure("walking the time index", rc);
    }
    return result;
}

std::optional<std::uint64_t> StoreReader::stream_version(const std::string& stream,
                                                         std::string* error) const {
    if (stream.empty() || stream.size() > kMaxNameBytes) {
        return std::nullopt;
    }
    ReadTransaction txn(environment_);
    if (txn.status() != 0) {
        if (error != nullptr) {
            *error = lmdb_error(txn.status());
        }
        return std::nullopt;
    }
    MDB_val key = to_val(stream);
    MDB_val value{};
    const int rc = mdb_get(txn.get(), environment_.databases().stream_heads, &key, &value);
    if (rc != 0) {
        if (rc != MDB_NOTFOUND && error != nullptr) {
            *error = lmdb_error(rc);
        }
        return std::nullopt;
    }
    StreamHead head;
    if (!parse_stream_head_value(to_view(value), head)) {
        if (error != nullptr) {
            *error = "malformed head of stream '" + stream + "'";
        }
        return std::nullopt;
    }
    return head.version;
}

}  // namespace annal::storage
