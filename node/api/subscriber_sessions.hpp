// Live subscriptions (GET /v1/subscribe) once the HTTP request has been read: chunked
// NDJSON on the same connection, or a WebSocket after the upgrade. Internal to node/api.
#pragma once

#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>

#include "api/api_handler.hpp"
#include "api/connection_stream.hpp"

namespace annal::api {

struct ServerCore;

// Takes over the connection; the HTTP session that read the request is done with it.
void start_ndjson_subscription(ServerCore& core, ConnectionStream stream, unsigned http_version,
                               SubscribeJob job);
void start_websocket_subscription(
    ServerCore& core, ConnectionStream stream,
    boost::beast::http::request<boost::beast::http::string_body> request, SubscribeJob job);

}  // namespace annal::api
