#include <doctest/doctest.h>

#include "transport/peer_address.hpp"

using annal::transport::split_host_port;

TEST_CASE("peer addresses split into host and port") {
    auto v4 = split_host_port("127.0.0.1:2113");
    REQUIRE(v4);
    CHECK(v4->host == "127.0.0.1");
    CHECK(v4->port == "2113");

    auto name = split_host_port("annal-0.annal.default.svc:65535");
    REQUIRE(name);
    CHECK(name->host == "annal-0.annal.default.svc");
    CHECK(name->port == "65535");

    auto v6 = split_host_port("[::1]:2114");
    REQUIRE(v6);
    CHECK(v6->host == "::1");
    CHECK(v6->port == "2114");
}

TEST_CASE("malformed peer addresses are refused") {
    CHECK_FALSE(split_host_port(""));
    CHECK_FALSE(split_host_port("localhost"));
    CHECK_FALSE(split_host_port(":2113"));
    CHECK_FALSE(split_host_port("host:"));
    CHECK_FALSE(split_host_port("host:0"));
    CHECK_FALSE(split_host_port("host:65536"));
    CHECK_FALSE(split_host_port("host:21a3"));
    CHECK_FALSE(split_host_port("::1:2113"));
    CHECK_FALSE(split_host_port("[::1]2113"));
    CHECK_FALSE(split_host_port("[::1]:"));
}
