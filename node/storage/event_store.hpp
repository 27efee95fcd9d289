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
#pragma once

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
};

struct AppendResult {
    AppendStatus status = AppendStatus::Ok;
    std::uint64_t first_position = 0;  // of the events of this request (Ok)
    std::uint64_t last_position = 0;
    // Version of the stream's last event after the append (Ok) or now (conflict);
    // nullopt when the stream has no events.
    std::optional<std::uint64_t> current_version;
    bool deduplicated = false;  // every event id was already stored: positions are originals
    std::string message;        // human-readable reason when status != Ok
};

enum class Direction : std::uint8_t { Forwards, Backwards };

enum class ReadStatus : std::uint8_t { Ok, Corrupt, IoError };

struct ReadResult {
    ReadStatus status = ReadStatus::Ok;
    std::vector<StoredEvent> events;
    std::string message;  // for Corrupt / IoError: what and where
};

struct StoreOptions {
    std::string directory;                                   // created if missing
    std::uint64_t initial_map_bytes = 64ull << 20;           // LMDB map size at open
    std::uint64_t max_map_bytes = 1ull << 40;                // growth stops here -> StorageFull
    bool durable = true;                                     // false: no fsync (tests/bench only)
    std::size_t max_batch_events = 8192;                     // per group commit
    std::size_t max_batch_bytes = 16ull << 20;               // per group commit
};

struct StoreStats {
    std::uint64_t appends = 0;          // requests completed Ok
    std::uint64_t events = 0;           // events written
    std::uint64_t bytes = 0;            // payload bytes written
    std::uint64_t commits = 0;          // durable commits (fsyncs)
    std::uint64_t head_position = 0;    // last durable global position
    std::uint64_t map_bytes = 0;        // current LMDB map size
};

class EventStore {
public:
    using AppendCallback = std::function<void(AppendResult)>;
    // Called on the committer thread after each durable commit with the new head.
    using CommitListener = std::function<void(std::uint64_t head_position)>;

    virtual ~EventStore() = default;

    // Opens (or creates) the store. On failure returns nullptr and sets `error`.
    static std::unique_ptr<EventStore> open(const StoreOptions& options, std::string& error);

    // Thread-safe. `done` is called exactly once, on the committer thread.
    virtual void append(AppendRequest request, AppendCallback done) = 0;

    // Thread-safe; each read uses its own short read transaction.
    virtual ReadResult read_stream(const std::string& stream, std::uint64_t from_version,
                                   Direction direction, std::size_t limit) const = 0;
    virtual ReadResult read_all(std::uint64_t from_position, Direction direction,
                                std::size_t limit) const = 0;
    // Events with from_us <= timestamp_us < to_us, ordered by (timestamp, position).
    virtual ReadResult read_time_range(std::int64_t from_us, std::int64_t to_us,
                                       std::size_t limit) const = 0;
    // Version of the stream's last event, or nullopt if the stream has no events.
    virtual std::optional<std::uint64_t> stream_version(const std::string& stream) const = 0;

    virtual std::uint64_t head_position() const = 0;
    virtual StoreStats stats() const = 0;

    // Returns a token; remove_commit_listener(token) unregisters it (safe from any thread
    // except from inside the listener itself).
    virtual std::uint64_t add_commit_listener(CommitListener listener) = 0;
    virtual void remove_commit_listener(std::uint64_t token) = 0;

    // Stops taking appends (later ones complete with ShuttingDown), commits everything
    // already queued durably, completes it, and joins the committer. Idempotent; the
    // destructor calls it.
    virtual void close() = 0;
};

}  // namespace annal::storage
