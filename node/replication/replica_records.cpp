#include "replication/replica_records.hpp"

#include <string_view>

#include "storage/byte_order.hpp"
#include "storage/lmdb_environment.hpp"

namespace annal::replication {
namespace {

constexpr std::string_view kAppliedKey = "raft_applied";
constexpr std::string_view kPeerPrefix = "raft_peer/";

std::string peer_key(raft::NodeId node) {
    std::string key(kPeerPrefix);
    storage::put_u64_be(key, node);
    return key;
}

}  // namespace

int read_applied_index(MDB_txn* txn, MDB_dbi meta, raft::Index& applied) {
    MDB_val key = storage::to_val(kAppliedKey);
    MDB_val value{};
    const int rc = mdb_get(txn, meta, &key, &value);
    if (rc == MDB_NOTFOUND) {
        applied = 0;
        return 0;
    }
    if (rc != 0) {
        return rc;
    }
    if (value.mv_size != 8) {
        return MDB_CORRUPTED;
    }
    applied = storage::get_u64_be(static_cast<const unsigned char*>(value.mv_data));
    return 0;
}

int write_applied_index(MDB_txn* txn, MDB_dbi meta, raft::Index applied) {
    std::string bytes;
    storage::put_u64_be(bytes, applied);
    MDB_val key = storage::to_val(kAppliedKey);
    MDB_val value = storage::to_val(bytes);
    return mdb_put(txn, meta, &key, &value, 0);
}

int read_peer_addresses(MDB_txn* txn, MDB_dbi meta, std::map<raft::NodeId, std::string>& out) {
    storage::Cursor cursor(txn, meta);
    if (cursor.open_status() != 0) {
        return cursor.open_status();
    }
    MDB_val key = storage::to_val(kPeerPrefix);
    MDB_val value{};
    for (int rc = cursor.get(key, value, MDB_SET_RANGE); rc == 0;
         rc = cursor.get(key, value, MDB_NEXT)) {
        const std::string_view k = storage::to_view(key);
        if (k.size() != kPeerPrefix.size() + 8 || k.substr(0, kPeerPrefix.size()) != kPeerPrefix) {
            break;
        }
        const auto node = storage::get_u64_be(reinterpret_cast<const unsigned char*>(k.data()) +
                                              kPeerPrefix.size());
        out[node] = std::string(storage::to_view(value));
    }
    return 0;
}

int write_peer_address(MDB_txn* txn, MDB_dbi meta, raft::NodeId node, const std::string& address) {
    const std::string k = peer_key(node);
    MDB_val key = storage::to_val(k);
    MDB_val value = storage::to_val(address);
    return mdb_put(txn, meta, &key, &value, 0);
}

}  // namespace annal::replication
