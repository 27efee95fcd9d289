// Appends records that already carry their position (copied byte for byte from another
// replica's event log) to the event tables, maintaining every index exactly as BatchWriter
// does when it applies the commands that produced them: events, the sparse stream index,
// stream heads, the time index and the event id index. A snapshot install uses it to move
// staged events into the tables (node/replication/replicated_event_store.cpp).
//
// Every record is checked before anything is written: its checksum under its position,
// that it continues the log (position = head + 1) and its stream (version = stream head +
// 1, previous-position = the head's position), and that its id is new. A record that
// fails is reported as MDB_CORRUPTED with `problem()` set, and the transaction must be
// aborted: a replica never stores events that do not fit its own history.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "storage/batch_writer.hpp"
#include "storage/lmdb_environment.hpp"

namespace annal::storage {

class PositionedWriter {
  public:
    PositionedWriter(MDB_txn* txn, const Databases& databases, const CommittedState& committed);

    // Returns 0, MDB_CORRUPTED (see problem()) or another LMDB error.
    int append(std::uint64_t position, std::string_view record);

    const CommittedState& state() const { return state_; }
    std::uint64_t events_written() const { return events_written_; }
    std::uint64_t record_bytes_written() const { return record_bytes_written_; }
    // Data + metadata bytes, as BatchWriter::payload_bytes_written() counts them.
    std::uint64_t payload_bytes_written() const { return payload_bytes_written_; }
    const std::string& problem() const { return problem_; }

  private:
    int reject(std::string problem);

    MDB_txn* txn_;
    const Databases& databases_;
    CommittedState state_;
    std::uint64_t events_written_ = 0;
    std::uint64_t record_bytes_written_ = 0;
    std::uint64_t payload_bytes_written_ = 0;
    std::string problem_;
};

}  // namespace annal::storage
