// Cluster-internal routes on the one port: what a member behind the retained Raft log
// fetches to install a snapshot (node/replication/snapshot_fetcher.hpp).
//
//   GET /internal/snapshot/events?after=A&upto=P&max_bytes=N
//     200, application/octet-stream: the stored records at positions (A, min(P, head)] in
//     the raw form of storage/raw_records.hpp, whole records up to about N bytes (at most
//     kMaxInternalChunkBytes; at least one record when there is one).
//
// Also the Prometheus lines of the snapshot transfer counters for /metrics.
#pragma once

#include <string>
#include <string_view>

#include "api/api_handler.hpp"
#include "storage/event_store.hpp"

namespace annal::api {

inline constexpr std::string_view kInternalPrefix = "/internal/";
inline constexpr std::size_t kMaxInternalChunkBytes = 8u << 20;

// `caller_is_cluster_member`: with TLS on, only a connection whose client certificate was
// verified against the cluster CA may read (the events of every stream leave the node);
// without TLS the route is as open as the peer port itself.
Reply internal_route(const storage::EventStore& store, std::string_view method,
                     std::string_view path, std::string_view query, bool caller_is_cluster_member);

std::string snapshot_transfer_metrics(const storage::SnapshotTransferStats& stats);

}  // namespace annal::api
