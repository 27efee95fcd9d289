#include "storage/batch_writer.hpp"

#include <algorithm>
#include <unordered_set>

#include "storage/byte_order.hpp"
#include "storage/event_id.hpp"
#include "storage/index_keys.hpp"
#include "storage/record_codec.hpp"

namespace annal::storage {
namespace {

constexpr std::size_t kIdBytes = 16;

AppendResult invalid(InvalidReason reason, std::string message) {
    AppendResult result;
    result.status = AppendStatus::InvalidRequest;
    result.invalid_reason = reason;
    result.message = std::move(message);
    return result;
}

bool has_control_character(std::string_view text) {
    return std::any_of(text.begin(), text.end(), [](char c) {
        const auto byte = static_cast<unsigned char>(c);
        return byte < 0x20 || byte == 0x7F;
    });
}

// Shape checks that need no database: the API layer checks the same and more; these keep
// a request the store could not encode from reaching the disk.
std::optional<AppendResult> check_shape(const AppendRequest& request, std::string& id_bytes) {
    if (request.stream.empty() || request.stream.size() > kMaxNameBytes ||
        has_control_character(request.stream)) {
        return invalid(InvalidReason::InvalidStream,
                       "stream name must be 1..255 bytes without control characters");
    }
    if (request.events.empty()) {
        return invalid(InvalidReason::InvalidEvent, "an append needs at least one event");
    }
    id_bytes.clear();
    id_bytes.reserve(request.events.size() * kIdBytes);
    for (std::size_t i = 0; i < request.events.size(); ++i) {
        const ProposedEvent& event = request.events[i];
        const std::string where = "event " + std::to_string(i) + ": ";
        const auto id = event_id_to_bytes(event.id);
        if (!id) {
            return invalid(InvalidReason::InvalidEvent, where + "id is not a UUID");
        }
        id_bytes += *id;
        if (event.type.empty() || event.type.size() > kMaxNameBytes ||
            has_control_character(event.type)) {
            return invalid(InvalidReason::InvalidEvent,
                           where + "type must be 1..255 bytes without control characters");
        }
        if (event.data.size() > kMaxFieldBytes || event.metadata.size() > kMaxFieldBytes) {
            return invalid(InvalidReason::InvalidEvent, where + "data or metadata too large");
        }
    }
    std::unordered_set<std::string_view> seen;
    for (std::size_t i = 0; i < request.events.size(); ++i) {
        if (!seen.insert(std::string_view(id_bytes).substr(i * kIdBytes, kIdBytes)).second) {
            return invalid(InvalidReason::DuplicateEventId, "event " + std::to_string(i) + ": id " +
                                                                request.events[i].id +
                                                                " appears twice in the request");
        }
    }
    return std::nullopt;
}

std::string describe(std::optional<std::uint64_t> version) {
    return version ? std::to_string(*version) : std::string("none (no stream)");
}

std::optional<std::string> expected_version_problem(const ExpectedVersion& expected,
                                                    std::optional<std::uint64_t> current) {
    switch (expected.kind) {
        case ExpectedVersion::Kind::Any:
            return std::nullopt;
        case ExpectedVersion::Kind::NoStream:
            if (current) {
                return "expected no stream, current version is " + describe(current);
            }
            return std::nullopt;
        case ExpectedVersion::Kind::Exists:
            if (!current) {
                return std::string("expected an existing stream, the stream has no events");
            }
            return std::nullopt;
        case ExpectedVersion::Kind::Exact:
            if (current != expected.version) {
                return "expected version " + std::to_string(expected.version) +
                       ", current version is " + describe(current);
            }
            return std::nullopt;
    }
    return std::string("unknown expected version kind");
}

}  // namespace

int load_committed_state(MDB_txn* txn, const Databases& databases, CommittedState& state) {
    state = CommittedState{};
    {
        Cursor cursor(txn, databases.events);
        if (cursor.open_status() != 0) {
            return cursor.open_status();
        }
        MDB_val key{};
        MDB_val value{};
        const int rc = cursor.get(key, value, MDB_LAST);
        if (rc == 0) {
            state.head_position = position_from_key(to_view(key));
        } else if (rc != MDB_NOTFOUND) {
            return rc;
        }
    }
    Cursor cursor(txn, databases.time_index);
    if (cursor.open_status() != 0) {
        return cursor.open_status();
    }
    MDB_val key{};
    MDB_val value{};
    const int rc = cursor.get(key, value, MDB_LAST);
    if (rc == 0) {
        state.last_time_key.assign(to_view(key));
    } else if (rc != MDB_NOTFOUND) {
        return rc;
    }
    return 0;
}

std::uint64_t estimated_map_bytes(const AppendRequest& request) {
    std::uint64_t bytes = 0;
    for (const ProposedEvent& event : request.events) {
        // Record + its key, stream/time/id index entries with node headers; doubled for
        // half-full pages after splits and for the copy-on-write copies of touched pages.
        bytes += 2 * (encoded_record_size(request.stream.size(), event) +
                      2 * request.stream.size() + 160);
    }
    return bytes + 16 * 4096;
}

BatchWriter::BatchWriter(MDB_txn* txn, const Databases& databases, const CommittedState& committed)
    : txn_(txn), databases_(databases), state_(committed) {}

int BatchWriter::stream_head(std::string_view stream, std::optional<StreamHead>& head) {
    MDB_val key = to_val(stream);
    MDB_val value{};
    const int rc = mdb_get(txn_, databases_.stream_heads, &key, &value);
    if (rc == MDB_NOTFOUND) {
        head.reset();
        return 0;
    }
    if (rc == 0) {
        StreamHead parsed;
        if (!parse_stream_head_value(to_view(value), parsed)) {
            return MDB_CORRUPTED;
        }
        head = parsed;
    }
    return rc;
}

int BatchWriter::apply(const AppendRequest& request, AppendResult& result) {
    std::string id_bytes;
    if (auto problem = check_shape(request, id_bytes)) {
        result = std::move(*problem);
        return 0;
    }

    // Idempotency: ids already stored decide before the expected version does, so a
    // retried append succeeds even though its own first attempt moved the version.
    std::vector<std::uint64_t> stored_positions(request.events.size(), 0);
    std::size_t stored = 0;
    for (std::size_t i = 0; i < request.events.size(); ++i) {
        MDB_val key = to_val(std::string_view(id_bytes).substr(i * kIdBytes, kIdBytes));
        MDB_val value{};
        int rc = mdb_get(txn_, databases_.event_ids, &key, &value);
        if (rc == MDB_NOTFOUND) {
            continue;
        }
        if (rc != 0) {
            return rc;
        }
        const std::uint64_t position = position_from_key(to_view(value));
        const std::string record_key = position_key(position);
        MDB_val record_key_val = to_val(record_key);
        MDB_val record{};
        rc = mdb_get(txn_, databases_.events, &record_key_val, &record);
        StoredEvent original;
        if (rc != 0 ||
            decode_record(position, to_view(record), original).status != DecodeStatus::Ok) {
            result.status = AppendStatus::IoError;
            result.message = "event id index points to an unreadable record at position " +
                             std::to_string(position);
            return 0;
        }
        if (original.stream != request.stream) {
            result = invalid(InvalidReason::IdInOtherStream,
                             "event " + std::to_string(i) + ": id " + request.events[i].id +
                                 " is already stored in stream '" + original.stream + "'");
            return 0;
        }
        stored_positions[i] = position;
        ++stored;
    }

    std::optional<StreamHead> head;
    if (int rc = stream_head(request.stream, head); rc != 0) {
        return rc;
    }
    std::optional<std::uint64_t> current;
    if (head) {
        current = head->version;
    }
    if (stored == request.events.size()) {
        result = AppendResult{};
        result.deduplicated = true;
        result.first_position = stored_positions.front();
        result.last_position = stored_positions.back();
        result.current_version = current;
        return 0;
    }
    if (stored > 0) {
        result = invalid(InvalidReason::PartialDuplicate,
                         std::to_string(stored) + " of " + std::to_string(request.events.size()) +
                             " event ids are already stored: partial duplicate");
        return 0;
    }
    if (auto problem = expected_version_problem(request.expected, current)) {
        result = AppendResult{};
        result.status = AppendStatus::WrongExpectedVersion;
        result.current_version = current;
        result.message = std::move(*problem);
        return 0;
    }

    const std::uint64_t first_version = current ? *current + 1 : 0;
    const std::uint64_t first_position = state_.head_position + 1;
    if (int rc = write_events(request, id_bytes, first_version, head ? head->position : 0);
        rc != 0) {
        return rc;
    }
    result = AppendResult{};
    result.first_position = first_position;
    result.last_position = state_.head_position;
    result.current_version = first_version + request.events.size() - 1;
    return 0;
}

int BatchWriter::write_events(const AppendRequest& request, const std::string& id_bytes,
                              std::uint64_t first_version, std::uint64_t previous_position) {
    for (std::size_t i = 0; i < request.events.size(); ++i) {
        const ProposedEvent& event = request.events[i];
        const std::uint64_t position = state_.head_position + 1;
        const std::uint64_t version = first_version + i;
        const std::string id = id_bytes.substr(i * kIdBytes, kIdBytes);
        const std::string log_key = position_key(position);

        record_buffer_.clear();
        encode_record(record_buffer_, position, version, previous_position, request.stream, id,
                      event);
        previous_position = position;
        MDB_val key = to_val(log_key);
        MDB_val value = to_val(record_buffer_);
        // Positions only grow, so the log is always appended at its end.
        if (int rc = mdb_put(txn_, databases_.events, &key, &value, MDB_APPEND); rc != 0) {
            return rc;
        }

        if (version % kStreamIndexStride == 0) {
            const std::string stream_key = stream_index_key(request.stream, version);
            key = to_val(stream_key);
            value = to_val(log_key);
            if (int rc = mdb_put(txn_, databases_.stream_index, &key, &value, MDB_NOOVERWRITE);
                rc != 0) {
                return rc;
            }
        }

        // Server-assigned timestamps mostly increase: append when the key is the new last.
        std::string timestamp_key = time_key(event.timestamp_us, position);
        const unsigned time_flags = timestamp_key > state_.last_time_key ? MDB_APPEND : 0u;
        key = to_val(timestamp_key);
        value = MDB_val{0, nullptr};
        if (int rc = mdb_put(txn_, databases_.time_index, &key, &value, time_flags); rc != 0) {
            return rc;
        }
        if (time_flags == MDB_APPEND) {
            state_.last_time_key = std::move(timestamp_key);
        }

        key = to_val(id);
        value = to_val(log_key);
        if (int rc = mdb_put(txn_, databases_.event_ids, &key, &value, MDB_NOOVERWRITE); rc != 0) {
            return rc;
        }

        state_.head_position = position;
        ++events_written_;
        payload_bytes_written_ += event.data.size() + event.metadata.size();
    }
    const std::string head =
        stream_head_value({first_version + request.events.size() - 1, previous_position});
    MDB_val key = to_val(request.stream);
    MDB_val value = to_val(head);
    return mdb_put(txn_, databases_.stream_heads, &key, &value, 0);
}

}  // namespace annal::storage
