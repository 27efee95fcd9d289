// Where a replica behind the retained log gets the events a snapshot stands for: another
// member's event log, over the network. The node implements it with an HTTP GET on the
// peer's one port (node/api/http_snapshot_source.hpp); tests use an in-process fake. Kept
// in its own header so the store depends on this seam, not on the HTTP code.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace annal::replication {

struct FetchResult {
    bool ok = false;
    std::string body;   // ok: records in the form of storage/raw_records.hpp (maybe none)
    std::string error;  // !ok: why (logged; the fetch is retried)
};

class SnapshotSource {
  public:
    virtual ~SnapshotSource() = default;
    // The records at positions (after_position, upto_position] held by the member at
    // `address`, whole records up to about `max_bytes`. Called on the fetcher's own thread
    // and may block (bounded by the implementation's timeouts).
    virtual FetchResult fetch(const std::string& address, std::uint64_t after_position,
                              std::uint64_t upto_position, std::size_t max_bytes) = 0;
    // Ends a fetch in flight at once (it fails) and fails every later one: the store calls
    // it when it closes, so a close never waits for a peer's timeout. Any thread. (So a
    // source that implements it serves one store.)
    virtual void stop() {}
};

}  // namespace annal::replication
