#include "server_fixture.hpp"

#include <doctest/doctest.h>

#include <cstdlib>
#include <filesystem>

namespace annal::api::test {

ServerFixture::ServerFixture(ServerOptions options, bool durable) {
    std::string pattern =
        (std::filesystem::temp_directory_path() / "annal-api-test-XXXXXX").string();
    REQUIRE(mkdtemp(pattern.data()) != nullptr);
    directory_ = pattern;
    storage::StoreOptions store_options;
    store_options.directory = directory_;
    store_options.durable = durable;
    std::string error;
    store_ = storage::EventStore::open(store_options, error);
    REQUIRE_MESSAGE(store_ != nullptr, error);
    options.port = 0;
    server_ = std::make_unique<HttpServer>(*store_, options);
    REQUIRE_MESSAGE(server_->start(error), error);
}

ServerFixture::~ServerFixture() {
    shut_down();
    server_.reset();
    store_.reset();
    std::error_code ignored;
    std::filesystem::remove_all(directory_, ignored);
}

void ServerFixture::shut_down() {
    if (!server_ || !store_) {
        return;
    }
    server_->begin_shutdown();
    server_->wait_for_appends(std::chrono::seconds(5));
    server_->stop();
    store_->close();
}

std::string events_body(std::size_t count, const std::string& expected_version) {
    std::string body = "{\"expected_version\":" + expected_version + ",\"events\":[";
    for (std::size_t i = 0; i < count; ++i) {
        if (i > 0) {
            body += ",";
        }
        body += "{\"type\":\"Test\",\"data\":{\"n\":" + std::to_string(i) + "}}";
    }
    body += "]}";
    return body;
}

}  // namespace annal::api::test
