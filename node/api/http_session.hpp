// One HTTP/1.1 connection (internal to node/api). Reads one request at a time and writes
// its reply before reading the next, so pipelined requests (already buffered) are
// answered in order. An append is handed to the store and the connection waits, without
// blocking its io thread, until the completion is posted back to the connection's strand.
#pragma once

#include <string_view>

#include "api/connection_stream.hpp"

namespace annal::api {

struct ServerCore;

// What the server knows about a connection's transport security, for every request on it.
struct ConnectionSecurity {
    bool tls = false;
    // The client presented a certificate that chains to the cluster CA (mutual TLS): only
    // other nodes of the cluster (and whoever holds a cluster certificate) have one.
    bool client_certificate_verified = false;
};

// `already_read`: bytes taken from the socket before the session starts (the acceptor's
// peek), parsed as the beginning of the first request.
void start_http_session(ServerCore& core, ConnectionSocket socket,
                        std::string_view already_read = {}, ConnectionSecurity security = {});

}  // namespace annal::api
