#include "replication/snapshot_staging.hpp"

#include <string_view>

#include "storage/event_store.hpp"
#include "storage/index_keys.hpp"
#include "storage/record_codec.hpp"

namespace annal::replication {
namespace {

constexpr std::string_view kTargetKey = "snapshot_staging_target";

int read_target(MDB_txn* txn, MDB_dbi meta, std::optional<SnapshotDescriptor>& target) {
    MDB_val key = storage::to_val(kTargetKey);
    MDB_val value{};
    const int rc = mdb_get(txn, meta, &key, &value);
    target.reset();
    if (rc == MDB_NOTFOUND) {
        return 0;
    }
    if (rc != 0) {
        return rc;
    }
    target = decode_descriptor(storage::to_view(value));
    return target ? 0 : MDB_CORRUPTED;
}

int edge_position(MDB_txn* txn, MDB_dbi staging, MDB_cursor_op op, std::uint64_t& position) {
    storage::Cursor cursor(txn, staging);
    if (cursor.open_status() != 0) {
        return cursor.open_status();
    }
    MDB_val key{};
    MDB_val value{};
    const int rc = cursor.get(key, value, op);
    position = 0;
    if (rc == MDB_NOTFOUND) {
        return 0;
    }
    if (rc == 0) {
        position = storage::position_from_key(storage::to_view(key));
    }
    return rc;
}

}  // namespace

bool StagingState::covers(const SnapshotDescriptor& descriptor, std::uint64_t head) const {
    if (head >= descriptor.head_position) {
        return true;
    }
    return target && target->same_point(descriptor) && first_position != 0 &&
           first_position <= head + 1 && last_position >= descriptor.head_position;
}

int read_staging(MDB_txn* txn, const storage::Databases& databases, StagingState& state) {
    state = StagingState{};
    if (const int rc = read_target(txn, databases.meta, state.target); rc != 0) {
        return rc;
    }
    if (const int rc =
            edge_position(txn, databases.snapshot_staging, MDB_FIRST, state.first_position);
        rc != 0) {
        return rc;
    }
    return edge_position(txn, databases.snapshot_staging, MDB_LAST, state.last_position);
}

int clear_staging(MDB_txn* txn, const storage::Databases& databases) {
    // mdb_drop frees the pages wholesale; deleting record by record would churn the free
    // list for nothing.
    if (const int rc = mdb_drop(txn, databases.snapshot_staging, 0); rc != 0) {
        return rc;
    }
    MDB_val key = storage::to_val(kTargetKey);
    const int rc = mdb_del(txn, databases.meta, &key, nullptr);
    return rc == MDB_NOTFOUND ? 0 : rc;
}

int stage_records(MDB_txn* txn, const storage::Databases& databases,
                  const SnapshotDescriptor& target,
                  const std::vector<storage::RawRecordView>& records, std::uint64_t& staged_through,
                  std::string& problem) {
    StagingState state;
    if (const int rc = read_staging(txn, databases, state); rc != 0) {
        return rc;
    }
    if (!state.target || !state.target->same_point(target)) {
        if (const int rc = clear_staging(txn, databases); rc != 0) {
            return rc;
        }
        const std::string encoded = encode_descriptor(target);
        MDB_val key = storage::to_val(kTargetKey);
        MDB_val value = storage::to_val(encoded);
        if (const int rc = mdb_put(txn, databases.meta, &key, &value, 0); rc != 0) {
            return rc;
        }
        state = StagingState{};
    }
    std::uint64_t last = state.last_position;
    storage::StoredEvent decoded;
    for (const storage::RawRecordView& record : records) {
        if (record.position <= last) {
            continue;
        }
        if (last != 0 && record.position != last + 1) {
            problem = "staged records jump from " + std::to_string(last) + " to " +
                      std::to_string(record.position);
            return MDB_CORRUPTED;
        }
        if (record.position > target.head_position) {
            problem = "record " + std::to_string(record.position) +
                      " is past the snapshot's head " + std::to_string(target.head_position);
            return MDB_CORRUPTED;
        }
        if (const auto result = storage::decode_record(record.position, record.record, decoded);
            result.status != storage::DecodeStatus::Ok) {
            problem = "record " + std::to_string(record.position) + ": " + result.problem;
            return MDB_CORRUPTED;
        }
        const std::string key_bytes = storage::position_key(record.position);
        MDB_val key = storage::to_val(key_bytes);
        MDB_val value = storage::to_val(record.record);
        if (const int rc = mdb_put(txn, databases.snapshot_staging, &key, &value, MDB_APPEND);
            rc != 0) {
            return rc;
        }
        last = record.position;
    }
    staged_through = last;
    return 0;
}

}  // namespace annal::replication
