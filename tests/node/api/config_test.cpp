#include <doctest/doctest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "api/node_config.hpp"

using annal::api::load_node_config;
using annal::api::NodeConfig;

namespace {

std::string write_temp(const std::string& text) {
    std::string pattern = (std::filesystem::temp_directory_path() / "annal-config-XXXXXX").string();
    const int fd = mkstemp(pattern.data());
    REQUIRE(fd >= 0);
    std::ofstream(pattern) << text;
    return pattern;
}

}  // namespace

TEST_CASE("node config: YAML values override defaults") {
    const auto path = write_temp(
        "data_dir: /var/lib/annal\nlisten_port: 9000\nio_threads: 4\nfsync: false\n"
        "max_body_bytes: 1048576\n");
    NodeConfig config;
    std::string error;
    REQUIRE_MESSAGE(load_node_config(path, config, error), error);
    CHECK(config.data_dir == "/var/lib/annal");
    CHECK(config.listen_port == 9000);
    CHECK(config.io_threads == 4);
    CHECK_FALSE(config.fsync);
    CHECK(config.max_body_bytes == 1048576);
    CHECK(config.listen_address == "127.0.0.1");  // untouched default
    std::filesystem::remove(path);
}

TEST_CASE("node config: errors name the file and line") {
    struct Case {
        const char* text;
        const char* expected;
    };
    const Case cases[] = {
        {"listen_port: 2113\nlisten_prot: 1\n", ":2: unknown option 'listen_prot'"},
        {"listen_port: 70000\n", ":1: listen_port: integer out of range"},
        {"data_dir: x\nio_threads: many\n", ":2: io_threads: expected an integer"},
        {"fsync: maybe\n", ":1: fsync: expected true or false"},
        {"a: [1, 2\n", ":"},
        {"- 1\n- 2\n", "expected a mapping"},
        {"io_threads: 0\n", "io_threads must be at least 1"},
    };
    for (const auto& c : cases) {
        CAPTURE(c.text);
        const auto path = write_temp(c.text);
        NodeConfig config;
        std::string error;
        CHECK_FALSE(load_node_config(path, config, error));
        CHECK(error.find(c.expected) != std::string::npos);
        CHECK(error.rfind(path, 0) == 0);
        CHECK(config.listen_port == 2113);  // nothing applied on failure
        std::filesystem::remove(path);
    }
    NodeConfig config;
    std::string error;
    CHECK_FALSE(load_node_config("/nonexistent/annal.yaml", config, error));
    CHECK(error.find("cannot open") != std::string::npos);
}
