#include "storage/positioned_writer.hpp"

#include "storage/event_id.hpp"
#include "storage/index_keys.hpp"
#include "storage/record_codec.hpp"

namespace annal::storage {

PositionedWriter::PositionedWriter(MDB_txn* txn, const Databases& databases,
                                   const CommittedState& committed)
    : txn_(txn), databases_(databases), state_(committed) {}

int PositionedWriter::reject(std::string problem) {
    problem_ = std::move(problem);
    return MDB_CORRUPTED;
}

int PositionedWriter::append(std::uint64_t position, std::string_view record) {
    const std::string where = "record at position " + std::to_string(position) + ": ";
    if (position != state_.head_position + 1) {
        return reject(where + "does not continue the log at " +
                      std::to_string(state_.head_position));
    }
    StoredEvent event;
    std::uint64_t previous_position = 0;
    if (const DecodeResult decoded = decode_record(position, record, event, &previous_position);
        decoded.status != DecodeStatus::Ok) {
        return reject(where + decoded.problem);
    }
    const auto id = event_id_to_bytes(event.id);
    if (!id) {
        return reject(where + "its id is not a UUID");
    }

    // The stream must continue exactly where this replica's copy of it ends.
    MDB_val key = to_val(event.stream);
    MDB_val value{};
    int rc = mdb_get(txn_, databases_.stream_heads, &key, &value);
    if (rc != 0 && rc != MDB_NOTFOUND) {
        return rc;
    }
    StreamHead head;
    const bool stream_exists = rc == 0;
    if (stream_exists && !parse_stream_head_value(to_view(value), head)) {
        return MDB_CORRUPTED;
    }
    const bool continues =
        stream_exists ? event.version == head.version + 1 && previous_position == head.position
                      : event.version == 0 && previous_position == 0;
    if (!continues) {
        return reject(where + "version " + std::to_string(event.version) + " of stream '" +
                      event.stream + "' does not continue the stored stream");
    }

    const std::string log_key = position_key(position);
    key = to_val(log_key);
    value = to_val(record);
    if (rc = mdb_put(txn_, databases_.events, &key, &value, MDB_APPEND); rc != 0) {
        return rc;
    }
    if (event.version % kStreamIndexStride == 0) {
        const std::string stream_key = stream_index_key(event.stream, event.version);
        key = to_val(stream_key);
        value = to_val(log_key);
        if (rc = mdb_put(txn_, databases_.stream_index, &key, &value, MDB_NOOVERWRITE); rc != 0) {
            return rc;
        }
    }
    std::string timestamp_key = time_key(event.timestamp_us, position);
    const unsigned time_flags = timestamp_key > state_.last_time_key ? MDB_APPEND : 0u;
    key = to_val(timestamp_key);
    value = MDB_val{0, nullptr};
    if (rc = mdb_put(txn_, databases_.time_index, &key, &value, time_flags); rc != 0) {
        return rc;
    }
    if (time_flags == MDB_APPEND) {
        state_.last_time_key = std::move(timestamp_key);
    }
    key = to_val(*id);
    value = to_val(log_key);
    rc = mdb_put(txn_, databases_.event_ids, &key, &value, MDB_NOOVERWRITE);
    if (rc == MDB_KEYEXIST) {
        return reject(where + "event id " + event.id + " is already stored");
    }
    if (rc != 0) {
        return rc;
    }
    const std::string new_head = stream_head_value({event.version, position});
    key = to_val(event.stream);
    value = to_val(new_head);
    if (rc = mdb_put(txn_, databases_.stream_heads, &key, &value, 0); rc != 0) {
        return rc;
    }
    state_.head_position = position;
    ++events_written_;
    record_bytes_written_ += record.size();
    payload_bytes_written_ += event.data.size() + event.metadata.size();
    return 0;
}

}  // namespace annal::storage
