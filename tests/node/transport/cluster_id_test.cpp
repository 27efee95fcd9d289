#include <doctest/doctest.h>

#include "transport/cluster_id.hpp"
#include "transport/peer_transport.hpp"

using annal::transport::cluster_id_from_name;
using annal::transport::PeerTransport;

TEST_CASE("cluster id is the big-endian first 8 bytes of SHA-256 of the name") {
    // SHA-256("abc") = ba7816bf8f01cfea 414140de... (FIPS 180-2 test vector).
    CHECK(cluster_id_from_name("abc") == 0xba7816bf8f01cfeaULL);
    // SHA-256("") = e3b0c44298fc1c14 9afbf4c8...
    CHECK(cluster_id_from_name("") == 0xe3b0c44298fc1c14ULL);
    CHECK(cluster_id_from_name("annal") != cluster_id_from_name("annal2"));
}

TEST_CASE("peer preamble is exactly the frame magic") {
    CHECK(PeerTransport::is_peer_preamble("ANPR"));
    CHECK(PeerTransport::is_peer_preamble("ANPR\x01\x02"));
    CHECK_FALSE(PeerTransport::is_peer_preamble("GET "));
    CHECK_FALSE(PeerTransport::is_peer_preamble("ANP"));
    CHECK_FALSE(PeerTransport::is_peer_preamble("anpr"));
}
