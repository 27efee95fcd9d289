// The staging table of a snapshot fetch: events copied from a peer, kept in their own
// LMDB database ("snapshot_staging": position -> the raw stored record) until the install
// moves them into the event tables in one transaction. The descriptor the staging belongs
// to is recorded in the meta database next to it, so a fetch resumes after a broken
// connection or a restart from the last staged position, and staging for another
// snapshot is discarded instead of being mixed in.
//
// Each function works inside the caller's write (or read) transaction.
#pragma once

#include <lmdb.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "replication/snapshot_descriptor.hpp"
#include "storage/lmdb_environment.hpp"
#include "storage/raw_records.hpp"

namespace annal::replication {

struct StagingState {
    std::optional<SnapshotDescriptor> target;  // the snapshot being staged, if any
    std::uint64_t first_position = 0;          // 0: nothing staged
    std::uint64_t last_position = 0;

    // True when the staging covers (head, target.head_position] for `descriptor`.
    bool covers(const SnapshotDescriptor& descriptor, std::uint64_t head) const;
};

int read_staging(MDB_txn* txn, const storage::Databases& databases, StagingState& state);

// Stages `records` for `target`: staging for another point is dropped first; records at or
// before the last staged position are skipped (a resumed fetch may overlap); the rest must
// continue the staging without a gap, be at most target.head_position and pass their
// checksums. Returns MDB_CORRUPTED (and `problem`) otherwise. `staged_through` receives the
// last staged position.
int stage_records(MDB_txn* txn, const storage::Databases& databases,
                  const SnapshotDescriptor& target,
                  const std::vector<storage::RawRecordView>& records, std::uint64_t& staged_through,
                  std::string& problem);

// Empties the staging table and forgets its descriptor.
int clear_staging(MDB_txn* txn, const storage::Databases& databases);

}  // namespace annal::replication
