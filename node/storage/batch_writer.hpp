// Validates and writes the append requests of one group commit inside one LMDB write
// transaction. Each request is checked against the transaction's view, which already
// contains the requests written before it in the same batch, so expected versions and
// duplicate ids behave exactly as if the requests had been committed one by one.
#pragma once

#include <cstdint>
#include <string>

#include "storage/event_store.hpp"
#include "storage/index_keys.hpp"
#include "storage/lmdb_environment.hpp"

namespace annal::storage {

// What the last commit left behind; the writer's starting point.
struct CommittedState {
    std::uint64_t head_position = 0;
    std::string last_time_key;  // largest time_index key, "" when empty
};

// Loads the committed state from the databases (at open).
int load_committed_state(MDB_txn* txn, const Databases& databases, CommittedState& state);

// Upper estimate of the map bytes one request adds (record, four index entries, B-tree
// slack), for growing the map before a batch.
std::uint64_t estimated_map_bytes(const AppendRequest& request);

class BatchWriter {
  public:
    BatchWriter(MDB_txn* txn, const Databases& databases, const CommittedState& committed);

    // Fills `result`. A request that fails validation gets its status and writes nothing.
    // Returns 0, or an LMDB error after which the transaction must be aborted (e.g.
    // MDB_MAP_FULL).
    int apply(const AppendRequest& request, AppendResult& result);

    const CommittedState& state() const { return state_; }
    std::uint64_t events_written() const { return events_written_; }
    std::uint64_t payload_bytes_written() const { return payload_bytes_written_; }

  private:
    int write_events(const AppendRequest& request, const std::string& id_bytes,
                     std::uint64_t first_version, std::uint64_t previous_position);
    int stream_head(std::string_view stream, std::optional<StreamHead>& head);

    MDB_txn* txn_;
    const Databases& databases_;
    CommittedState state_;
    std::uint64_t events_written_ = 0;
    std::uint64_t payload_bytes_written_ = 0;
    std::string record_buffer_;
};

}  // namespace annal::storage
