#include <doctest/doctest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "api/initial_cluster.hpp"
#include "api/kubernetes_cluster_file.hpp"
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

TEST_CASE("node config: cluster keys are read from YAML") {
    const auto path = write_temp(
        "node_id: 2\ncluster_id: prod\ninitial_cluster: 1=a:2113,2=b:2113,3=c:2113\n"
        "advertise_address: b:2113\ntick_ms: 50\nelection_ticks: 20\nheartbeat_ticks: 2\n"
        "log_retain_entries: 1000\njoin: false\n");
    NodeConfig config;
    std::string error;
    REQUIRE_MESSAGE(load_node_config(path, config, error), error);
    CHECK(config.node_id == 2);
    CHECK(config.cluster_id == "prod");
    CHECK(config.initial_cluster == "1=a:2113,2=b:2113,3=c:2113");
    CHECK(config.advertise_address == "b:2113");
    CHECK(config.tick_ms == 50);
    CHECK(config.election_ticks == 20);
    CHECK(config.heartbeat_ticks == 2);
    CHECK(config.log_retain_entries == 1000);
    CHECK(annal::api::is_cluster_mode(config));
    REQUIRE_MESSAGE(annal::api::finalize_node_config(config, error), error);
    std::filesystem::remove(path);
}

TEST_CASE("node config: standalone stays standalone and needs no cluster settings") {
    NodeConfig config;
    std::string error;
    CHECK_FALSE(annal::api::is_cluster_mode(config));
    REQUIRE_MESSAGE(annal::api::finalize_node_config(config, error), error);
    CHECK(config.advertise_address.empty());
}

TEST_CASE("node config: advertise address defaults to the listen address in a cluster") {
    NodeConfig config;
    config.node_id = 1;
    config.listen_port = 2200;
    config.initial_cluster = "1=127.0.0.1:2200,2=127.0.0.1:2201";
    std::string error;
    REQUIRE_MESSAGE(annal::api::finalize_node_config(config, error), error);
    CHECK(config.advertise_address == "127.0.0.1:2200");
}

TEST_CASE("node config: cluster validation names what is wrong") {
    struct Case {
        std::uint64_t node_id;
        const char* initial_cluster;
        const char* listen_address;
        bool join;
        std::uint32_t heartbeat_ticks;
        const char* expected;
    };
    const Case cases[] = {
        {0, "1=a:1", "127.0.0.1", false, 1, "node_id must be at least 1"},
        {4, "1=a:1,2=b:1,3=c:1", "127.0.0.1", false, 1, "node_id 4 is not in initial_cluster"},
        {1, "1=a", "127.0.0.1", false, 1, "has no port"},
        {1, "1=a:99999", "127.0.0.1", false, 1, "no valid port"},
        {1, "1=a:1,1=b:1", "127.0.0.1", false, 1, "node id 1 appears twice"},
        {1, "1=a:1,2=a:1", "127.0.0.1", false, 1, "address a:1 appears twice"},
        {1, "0=a:1", "127.0.0.1", false, 1, "the id must be an integer >= 1"},
        {1, "1=a:1,,2=b:1", "127.0.0.1", false, 1, "empty member"},
        {1, "x", "127.0.0.1", false, 1, "is not id=host:port"},
        {1, "1=a:1", "0.0.0.0", false, 1, "advertise_address is required"},
        {5, "", "127.0.0.1", true, 1, "join needs initial_cluster to list the existing members"},
        {1, "1=a:1", "127.0.0.1", false, 10, "must be smaller than election_ticks"},
    };
    for (const auto& c : cases) {
        CAPTURE(c.initial_cluster);
        NodeConfig config;
        config.node_id = c.node_id;
        config.initial_cluster = c.initial_cluster;
        config.listen_address = c.listen_address;
        config.join = c.join;
        config.heartbeat_ticks = c.heartbeat_ticks;
        std::string error;
        CHECK_FALSE(annal::api::finalize_node_config(config, error));
        CHECK_MESSAGE(error.find(c.expected) != std::string::npos, error);
    }
}

TEST_CASE("node config: max_inflight_appends comes from YAML and must be at least 1") {
    const auto path = write_temp("max_inflight_appends: 8\n");
    NodeConfig config;
    std::string error;
    REQUIRE_MESSAGE(load_node_config(path, config, error), error);
    CHECK(config.max_inflight_appends == 8);
    std::filesystem::remove(path);
    CHECK(NodeConfig{}.max_inflight_appends == 2);

    config.node_id = 1;
    config.initial_cluster = "1=127.0.0.1:2113";
    REQUIRE_MESSAGE(annal::api::finalize_node_config(config, error), error);
    config.max_inflight_appends = 0;
    CHECK_FALSE(annal::api::finalize_node_config(config, error));
    CHECK_MESSAGE(error.find("max_inflight_appends must be at least 1") != std::string::npos,
                  error);
}

TEST_CASE("node config: host:port forms") {
    annal::api::HostPort parsed;
    std::string error;
    REQUIRE(annal::api::parse_host_port("[::1]:2113", parsed, error));
    CHECK(parsed.host == "::1");
    CHECK(parsed.port == 2113);
    REQUIRE(annal::api::parse_host_port("node-0.annal.ns.svc:2113", parsed, error));
    CHECK(parsed.host == "node-0.annal.ns.svc");
    CHECK_FALSE(annal::api::parse_host_port("::1:2113", parsed, error));
    CHECK_FALSE(annal::api::parse_host_port(":2113", parsed, error));
    CHECK_FALSE(annal::api::parse_host_port("[::1]2113", parsed, error));
}

TEST_CASE("node config: the operator's cluster.yaml gives id, members and cluster id") {
    const auto path = write_temp(
        "# Written by annal-operator.\ncluster_name: \"orders\"\nnamespace: \"shop\"\n"
        "replicas: 3\npeers:\n"
        "  - ordinal: 0\n    name: orders-0\n    address: orders-0.orders-peers.shop.svc:2113\n"
        "  - ordinal: 1\n    name: orders-1\n    address: orders-1.orders-peers.shop.svc:2113\n"
        "  - ordinal: 2\n    name: orders-2\n    address: orders-2.orders-peers.shop.svc:2113\n");
    NodeConfig config;
    config.listen_address = "0.0.0.0";
    std::string error;
    REQUIRE_MESSAGE(annal::api::apply_kubernetes_cluster_file(path, "orders-1", config, error),
                    error);
    CHECK(config.node_id == 2);
    CHECK(config.cluster_id == "shop/orders");
    CHECK(config.initial_cluster ==
          "1=orders-0.orders-peers.shop.svc:2113,2=orders-1.orders-peers.shop.svc:2113,"
          "3=orders-2.orders-peers.shop.svc:2113");
    CHECK(config.advertise_address == "orders-1.orders-peers.shop.svc:2113");
    REQUIRE_MESSAGE(annal::api::finalize_node_config(config, error), error);

    NodeConfig other;
    CHECK_FALSE(annal::api::apply_kubernetes_cluster_file(path, "orders-7", other, error));
    CHECK(error.find("no peer is named 'orders-7'") != std::string::npos);
    std::filesystem::remove(path);
}

TEST_CASE("node config: the Kubernetes environment is ignored when initial_cluster is set") {
    const auto path = write_temp("cluster_name: x\nnamespace: y\npeers: []\n");
    setenv("ANNAL_CLUSTER_FILE", path.c_str(), 1);
    setenv("POD_NAME", "x-0", 1);
    NodeConfig config;
    config.initial_cluster = "1=a:1";
    std::string error;
    CHECK(annal::api::apply_kubernetes_environment(config, error));
    CHECK(config.initial_cluster == "1=a:1");
    NodeConfig derived;
    CHECK_FALSE(annal::api::apply_kubernetes_environment(derived, error));
    CHECK(error.find("non-empty peers list") != std::string::npos);
    unsetenv("ANNAL_CLUSTER_FILE");
    unsetenv("POD_NAME");
    std::filesystem::remove(path);
}
