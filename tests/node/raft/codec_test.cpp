#include <doctest/doctest.h>

#include "raft/codec.hpp"

using namespace annal::raft;

TEST_CASE("codec: every value round-trips and corrupt input is rejected") {
    Message m;
    m.type = MessageType::Snapshot;
    m.group = 7;
    m.from = 1;
    m.to = 300;
    m.term = 1ULL << 40;
    m.log_term = 3;
    m.index = 99;
    m.commit = 98;
    m.reject = true;
    m.force = true;
    m.reject_hint = 5;
    m.read_seq = UINT64_MAX;
    m.context = std::string("ctx\0x", 5);
    m.entries = {Entry{1, 2, EntryType::Normal, "a"}, Entry{3, 4, EntryType::Config, ""}};
    m.snapshot = SnapshotMeta{10, 2, Membership{{1, 2, 3}, {9}}};
    m.snapshot_offset = 4;
    m.snapshot_size = 12;
    m.snapshot_chunk = "chunk";
    const std::string bytes = encode(m);
    auto back = decode_message(bytes);
    REQUIRE(back.has_value());
    CHECK(*back == m);

    // Every strict prefix is rejected, as are trailing bytes and a wrong version.
    for (std::size_t n = 0; n < bytes.size(); ++n) {
        CHECK_FALSE(decode_message(std::string_view(bytes).substr(0, n)).has_value());
    }
    CHECK_FALSE(decode_message(bytes + "x").has_value());
    std::string wrong_version = bytes;
    wrong_version[0] = 2;
    CHECK_FALSE(decode_message(wrong_version).has_value());
    std::string wrong_type = bytes;
    wrong_type[1] = 99;
    CHECK_FALSE(decode_message(wrong_type).has_value());

    const Entry e{5, 6, EntryType::Noop, "payload"};
    CHECK(decode_entry(encode(e)) == e);
    const HardState hs{4, 2, 17};
    CHECK(decode_hard_state(encode(hs)) == hs);
    const Membership mem{{1, 5}, {7}};
    CHECK(decode_membership(encode(mem)) == mem);
    CHECK(decode_snapshot_meta(encode(m.snapshot)) == m.snapshot);
    // Unsorted member lists are corrupt.
    std::string unsorted = encode(Membership{{5, 1}, {}});
    CHECK_FALSE(decode_membership(unsorted).has_value());
}
