// The single-node event store: an append-only, checksummed event log on LMDB with
// stream, time and idempotency indexes, and group commit.
//
// Design (see docs/ARCHITECTURE.md for the whole append path):
// - Every stored event gets a gapless global position (1, 2, 3, ...) and a gapless
//   per-stream version (0, 1, 2, ...).
// - append() never blocks on disk. Requests are queued to one committer thread, which
//   takes everything queued, validates each request against the state left by the ones
//   before it in the same batch, writes the whole batch in ONE LMDB write transaction
//   and makes it durable with ONE commit (one fsync shared by every append in it), then
//   calls each request's completion. A request that fails validation (wrong expected
//   version, ...) is not written and does not disturb the others in its batch.
// - Completions run on the committer thread: they must be quick and must not throw
//   (hand work off to another executor). After a completion reports Ok, the events are
//   durable and visible to reads.
// - Reads use short read transactions (never held across requests) so freed pages can
//   be reused and the reader table never fills up.
// - Every record carries a format version byte and a CRC32C over its position and
//   contents; a record that fails the check is reported as ReadStatus::Corrupt (with its
//   position in the message) and never returned.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace annal::storage {

// Expected version of a stream for an optimistic-concurrency append.
struct ExpectedVersion {
    enum class Kind : std::uint8_t {
        Any,       // no check
        NoStream,  // the stream must have no events
        Exists,    // the stream must have at least one event
        Exact,     // the stream's last event must have exactly `version`
    };
    Kind kind = Kind::Any;
    std::uint64_t version = 0;  // only for Exact

    static ExpectedVersion any() { return {}; }
    static ExpectedVersion no_stream() { return {Kind::NoStream, 0}; }
    static ExpectedVersion exists() { return {Kind::Exists, 0}; }
    static ExpectedVersion exact(std::uint64_t v) { return {Kind::Exact, v}; }
};

// An event as the client proposes it. Validation of names and sizes happens in the API
// layer and again (cheaply) in the store, so a bad request never reaches the disk.
struct ProposedEvent {
    std::string id;  // canonical lower-case UUID text (36 chars)
    std::string type;
    std::int64_t timestamp_us = 0;  // microseconds since the Unix epoch (assigned by caller)
    std::string data;
    std::string metadata;
    bool data_is_json = true;  // false: opaque bytes
};

// An event as stored and read back.
struct StoredEvent {
    std::uint64_t position = 0;  // global, gapless, starts at 1
    std::uint64_t version = 0;   // within its stream, gapless, starts at 0
    std::string id;
    std::string stream;
    std::string type;
    std::int64_t timestamp_us = 0;
    std::string data;
    std::string metadata;
    bool data_is_json = true;
};

struct AppendRequest {
    std::string stream;
    ExpectedVersion expected;
    std::vector<ProposedEvent> events;  // appended atomically: all or none
};

enum class AppendStatus : std::uint8_t {
    Ok,
    WrongExpectedVersion,  // current_version tells the client what is there
    InvalidRequest,        // bad stream name / field / partially duplicated batch
    StorageFull,           // map cannot grow or disk is full: nothing was written
    IoError,               // the commit failed: nothing was written
    ShuttingDown,          // the store is closing and did not take the request
    NotLeader,             // replicated: this node is not the leader (see leader_hint)
    NotCommitted,          // replicated: lost in a leadership change; retry (ids make it safe)
};

// Why an append was InvalidRequest (maps onto the API's error codes).
enum class InvalidReason : std::uint8_t {
    None,
    InvalidStream,     // empty, > 255 bytes or control characters -> invalid_stream
    InvalidEvent,      // no events, bad id / type, field too large -> invalid_event
    DuplicateEventId,  // the same id twice in one request           -> invalid_event
    PartialDuplicate,  // some ids already stored, some new          -> partial_duplicate
    IdInOtherStream,   // an id is already stored in another stream  -> invalid_event
};

struct AppendResult {
    AppendStatus status = AppendStatus::Ok;
    InvalidReason invalid_reason = InvalidReason::None;  // only for InvalidRequest
    std::uint64_t first_position = 0;                    // of the events of this request (Ok)
    std::uint64_t last_position = 0;
    // Version of the stream's last event after the append (Ok), or now (conflict, and
    // deduplicated retries); nullopt when the stream has no events.
    std::optional<std::uint64_t> current_version;
    bool deduplicated = false;    // every event id was already stored: positions are originals
    std::string message;          // human-readable reason when status != Ok
    std::string leader_hint;      // NotLeader: the leader's "host:port" ("" when unknown)
    std::uint64_t leader_id = 0;  // NotLeader: the leader's node id (0 when unknown)
};

// Outcome of waiting until this node has applied everything committed before the call
// (a linearizable read point).
struct ReadBarrierResult {
    enum class Status : std::uint8_t {
        Ok,
        NotLeader,
        NoLeader,
        Timeout,
        ShuttingDown
    } status = Status::Ok;
    std::string leader_hint;
    std::uint64_t leader_id = 0;
    std::string message;
};
using ReadBarrierCallback = std::function<void(ReadBarrierResult)>;

enum class Direction : std::uint8_t { Forwards, Backwards };

enum class ReadStatus : std::uint8_t { Ok, Corrupt, IoError };

struct ReadResult {
    ReadStatus status = ReadStatus::Ok;
    std::vector<StoredEvent> events;
    std::string message;  // for Corrupt / IoError: what and where
};

// A run of raw stored records (positions after..upto), as one replica copies them from
// another for a snapshot install. `body` holds them in the form of raw_records.hpp.
struct RawRecords {
    ReadStatus status = ReadStatus::Ok;
    std::string message;        // for Corrupt / IoError
    std::string body;           // encoded records, in position order, gapless
    std::uint64_t records = 0;  // how many
    std::uint64_t head = 0;     // the serving store's head position
    bool supported = true;      // false: this store does not serve raw records
};

// The snapshot transfer that catches a cluster member up when it is behind the retained
// Raft log (cluster mode; all zero on a standalone node).
struct SnapshotTransferStats {
    std::uint64_t snapshots_sent = 0;       // Snapshot messages sent to followers
    std::uint64_t records_served = 0;       // raw records served to fetching peers
    std::uint64_t fetch_chunks = 0;         // chunks fetched and staged
    std::uint64_t fetch_bytes = 0;          // record bytes fetched and staged
    std::uint64_t fetch_retries = 0;        // failed or empty fetches, retried
    std::uint64_t snapshots_installed = 0;  // snapshots installed into the tables
};

struct StoreOptions {
    std::string directory;                          // created if missing
    std::uint64_t initial_map_bytes = 64ull << 20;  // LMDB map size at open
    std::uint64_t max_map_bytes = 1ull << 40;       // growth stops here -> StorageFull
    bool durable = true;                            // false: no fsync (tests/bench only)
    // false (with durable): a commit flushes its data pages but leaves the meta page to
    // the next commit's flush (MDB_NOMETASYNC), so a system crash may undo the last
    // commit but never corrupts the store. For stores whose writes can all be redone from
    // a log of their own (the replicated store's Raft write-ahead log).
    bool sync_meta = true;
    std::size_t max_batch_events = 8192;        // per group commit (soft: >= 1 request)
    std::size_t max_batch_bytes = 16ull << 20;  // per group commit (soft: >= 1 request)
    unsigned max_readers = 1024;                // LMDB reader slots (concurrent reads)
};

// Snapshot of a histogram with power-of-two buckets. buckets[i] (i < kBuckets - 1) counts
// samples v with upper_bound(i - 1) < v <= upper_bound(i) = 2^i (bucket 0: v <= 1); the
// last bucket counts everything larger (+Inf). Counts are NOT cumulative; Prometheus'
// `le` buckets are the running sums.
struct Histogram {
    static constexpr std::size_t kBuckets = 32;
    std::array<std::uint64_t, kBuckets> buckets{};
    std::uint64_t count = 0;
    std::uint64_t sum = 0;

    static constexpr std::uint64_t upper_bound(std::size_t i) { return 1ull << i; }
    static constexpr bool is_overflow(std::size_t i) { return i + 1 == kBuckets; }
};

struct StoreStats {
    std::uint64_t appends = 0;           // requests completed Ok (including deduplicated)
    std::uint64_t events = 0;            // events written
    std::uint64_t bytes = 0;             // payload bytes written (data + metadata)
    std::uint64_t commits = 0;           // commits that wrote events (fsyncs when durable)
    std::uint64_t head_position = 0;     // last durable global position
    std::uint64_t map_bytes = 0;         // current LMDB map size
    std::uint64_t map_used_bytes = 0;    // pages in use at the last commit
    std::uint64_t map_grows = 0;         // times the map was enlarged
    std::uint64_t map_full_retries = 0;  // batches retried after MDB_MAP_FULL (growth was late)
    std::uint64_t deduplicated = 0;      // Ok appends answered from the idempotency index
    std::uint64_t wrong_expected_version = 0;
    std::uint64_t invalid_requests = 0;
    std::uint64_t storage_full = 0;
    std::uint64_t io_errors = 0;
    std::uint64_t shutting_down = 0;
    std::uint64_t queued_requests = 0;  // appends waiting for the committer right now
    bool durable = true;
    Histogram batch_events;       // events written per commit
    Histogram commit_latency_us;  // write transaction begin -> durable commit, microseconds
    Histogram append_latency_us;  // append() -> completion, microseconds (all statuses)
};

class EventStore {
  public:
    using AppendCallback = std::function<void(AppendResult)>;
    // Called on the committer thread after each durable commit with the new head.
    using CommitListener = std::function<void(std::uint64_t head_position)>;

    virtual ~EventStore() = default;

    // Opens (or creates) the store. On failure returns nullptr and sets `error`.
    static std::unique_ptr<EventStore> open(const StoreOptions& options, std::string& error);

    // Thread-safe. `done` is called exactly once, on the committer thread -- except after
    // close() has begun, when it is called at once on the caller's thread with
    // ShuttingDown.
    virtual void append(AppendRequest request, AppendCallback done) = 0;

    // Thread-safe; each read uses its own short read transaction.
    // Forwards: versions from_version, from_version + 1, ...; Backwards: from_version,
    // from_version - 1, ..., 0 (a from_version past the end starts at the last event, so
    // UINT64_MAX means "from the end"). An unknown stream gives Ok with no events.
    virtual ReadResult read_stream(const std::string& stream, std::uint64_t from_version,
                                   Direction direction, std::size_t limit) const = 0;
    // Same rules by global position (forwards from 0 starts at 1).
    virtual ReadResult read_all(std::uint64_t from_position, Direction direction,
                                std::size_t limit) const = 0;
    // Events with from_us <= timestamp_us < to_us, ordered by (timestamp, position).
    virtual ReadResult read_time_range(std::int64_t from_us, std::int64_t to_us,
                                       std::size_t limit) const = 0;
    // Continues a time-range read: events with (timestamp_us, position) strictly after
    // (after_us, after_position) and timestamp_us < to_us, in the same order. The API's
    // `after=` cursor is the (timestamp_us, position) of the last event returned.
    virtual ReadResult read_time_range_after(std::int64_t after_us, std::uint64_t after_position,
                                             std::int64_t to_us, std::size_t limit) const = 0;
    // Version of the stream's last event, or nullopt if the stream has no events.
    virtual std::optional<std::uint64_t> stream_version(const std::string& stream) const = 0;

    virtual std::uint64_t head_position() const = 0;
    virtual StoreStats stats() const = 0;

    // Returns a token; remove_commit_listener(token) unregisters it (safe from any thread
    // except from inside the listener itself).
    virtual std::uint64_t add_commit_listener(CommitListener listener) = 0;
    virtual void remove_commit_listener(std::uint64_t token) = 0;

    // Calls `done` once reads on this node see every write committed before this call.
    // A single node sees its own commits at once; a replica first learns the cluster's
    // commit index (ReadIndex). `done` may run on any thread and must not block.
    virtual void read_barrier(ReadBarrierCallback done) { done(ReadBarrierResult{}); }

    // Cluster-internal: the stored records at positions (after, min(upto, head)], whole
    // records until the body reaches `max_bytes` (at least one). Stores that are not
    // cluster members answer supported = false.
    virtual RawRecords read_raw_records(std::uint64_t /*after*/, std::uint64_t /*upto*/,
                                        std::size_t /*max_bytes*/) const {
        RawRecords none;
        none.supported = false;
        return none;
    }
    virtual SnapshotTransferStats snapshot_transfer_stats() const { return {}; }

    // Stops taking appends (later ones complete with ShuttingDown), commits everything
    // already queued durably, completes it, and joins the committer. Idempotent; the
    // destructor calls it. Called from a completion or listener it only stops intake (the
    // committer cannot join itself); the destructor must then run on another thread.
    virtual void close() = 0;
};

}  // namespace annal::storage
