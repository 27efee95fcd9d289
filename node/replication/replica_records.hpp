// What a replica keeps next to the event tables in the storage `meta` database, written in
// the same transaction that applies committed entries: the applied index (so a restart
// resumes exactly where the tables are) and the members table (node id -> "host:port",
// filled by applied SetPeerAddress commands).
#pragma once

#include <lmdb.h>

#include <cstdint>
#include <map>
#include <string>

#include "raft/types.hpp"

namespace annal::replication {

// 0 when nothing has been applied yet.
int read_applied_index(MDB_txn* txn, MDB_dbi meta, raft::Index& applied);
int write_applied_index(MDB_txn* txn, MDB_dbi meta, raft::Index applied);

int read_peer_addresses(MDB_txn* txn, MDB_dbi meta, std::map<raft::NodeId, std::string>& out);
int write_peer_address(MDB_txn* txn, MDB_dbi meta, raft::NodeId node, const std::string& address);

}  // namespace annal::replication
