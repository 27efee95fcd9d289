// State shared by every connection of one HttpServer (internal to node/api).
#pragma once

#include <atomic>
#include <cstdint>

#include "api/api_handler.hpp"
#include "api/http_server.hpp"
#include "api/metrics.hpp"
#include "api/subscription_hub.hpp"

namespace annal::api {

struct ServerCore {
    ServerCore(storage::EventStore& event_store, ServerOptions server_options,
               ClusterAdmin* cluster)
        : store(event_store),
          options(std::move(server_options)),
          handler(event_store, ApiLimits{options.max_read_limit, 100}, metrics, flags, cluster),
          hub(event_store, metrics) {}

    storage::EventStore& store;
    const ServerOptions options;
    Metrics metrics;
    ServerFlags flags;
    ApiHandler handler;
    SubscriptionHub hub;
    // Appends submitted to the store whose reply has not been written yet.
    std::atomic<std::int64_t> appends_in_flight{0};
};

}  // namespace annal::api
