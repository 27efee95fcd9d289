// One HTTP/1.1 connection (internal to node/api). Reads one request at a time and writes
// its reply before reading the next, so pipelined requests (already buffered) are
// answered in order. An append is handed to the store and the connection waits, without
// blocking its io thread, until the completion is posted back to the connection's strand.
#pragma once

#include "api/connection_stream.hpp"

namespace annal::api {

struct ServerCore;

void start_http_session(ServerCore& core, ConnectionSocket socket);

}  // namespace annal::api
