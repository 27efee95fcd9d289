// The peer transport's counters in Prometheus text format, for a cluster node's /metrics
// (api::ReplicatedClusterAdmin appends them). Separate from the admin so the rendering can
// be checked against a bare transport, without a replicated store.
#pragma once

#include <string>

#include "transport/transport_options.hpp"

namespace annal::transport {

std::string render_transport_metrics(const TransportStats& stats);

}  // namespace annal::transport
