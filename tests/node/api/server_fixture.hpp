// An in-process store + HTTP server on an ephemeral loopback port, in a fresh temporary
// directory that is removed afterwards.
#pragma once

#include <memory>
#include <string>

#include "api/http_server.hpp"
#include "storage/event_store.hpp"

namespace annal::api::test {

class ServerFixture {
  public:
    explicit ServerFixture(ServerOptions options = {}, bool durable = false);
    ~ServerFixture();
    ServerFixture(const ServerFixture&) = delete;
    ServerFixture& operator=(const ServerFixture&) = delete;

    std::uint16_t port() const { return server_->port(); }
    storage::EventStore& store() { return *store_; }
    HttpServer& server() { return *server_; }
    // The documented shutdown order; idempotent.
    void shut_down();

  private:
    std::string directory_;
    std::unique_ptr<storage::EventStore> store_;
    std::unique_ptr<HttpServer> server_;
};

// A body for POST /v1/streams/{s} with `count` events of type "Test".
std::string events_body(std::size_t count, const std::string& expected_version = "\"any\"");

}  // namespace annal::api::test
