#include <doctest/doctest.h>

#include "raft/memory_storage.hpp"

using namespace annal::raft;

TEST_CASE("memory storage: append truncates, snapshot and compaction keep term lookups") {
    MemoryStorage s(Membership{{1, 2, 3}, {}});
    CHECK(s.first_index() == 1);
    CHECK(s.last_index() == 0);
    CHECK(s.term(0) == 0u);
    s.append({Entry{1, 1, EntryType::Normal, "a"}, Entry{1, 2, EntryType::Normal, "b"},
              Entry{2, 3, EntryType::Normal, "c"}});
    s.append({Entry{3, 3, EntryType::Normal, "c2"}});  // conflicting suffix replaced
    CHECK(s.last_index() == 3);
    CHECK(s.term(3) == 3u);
    CHECK(s.entries(1, 4, UINT64_MAX).size() == 3);
    CHECK(s.entries(1, 4, 1).size() == 1);  // byte limit, but at least one entry
    s.create_snapshot(2, Membership{{1, 2, 3}, {}}, "state");
    s.compact(2);
    CHECK(s.first_index() == 3);
    CHECK(s.term(2) == 1u);              // the entry before the log is still known
    CHECK_FALSE(s.term(1).has_value());  // compacted
    CHECK(s.snapshot()->meta.index == 2);
    CHECK(s.snapshot()->data == "state");
    s.apply_snapshot(Snapshot{SnapshotMeta{10, 4, Membership{{1}, {}}}, "x"});
    CHECK(s.first_index() == 11);
    CHECK(s.last_index() == 10);
    CHECK(s.term(10) == 4u);
}
