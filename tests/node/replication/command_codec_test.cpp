#include <doctest/doctest.h>

#include "replication/command_codec.hpp"
#include "replication/raft_log_store.hpp"
#include "storage/lmdb_environment.hpp"
#include "test_support.hpp"

namespace annal::replication {
namespace {

TEST_CASE("command codec: append and peer address round trip; damage is rejected") {
    storage::AppendRequest request;
    request.stream = "orders-1";
    request.expected = storage::ExpectedVersion::exact(41);
    storage::ProposedEvent event;
    event.id = "00000000-0000-4000-8000-000000000001";
    event.type = "Placed";
    event.timestamp_us = -5;
    event.data = std::string("\0\x01binary", 8);
    event.metadata = "{}";
    event.data_is_json = false;
    request.events = {event, event};
    request.events[1].data_is_json = true;

    const std::string bytes = encode_command(request);
    const auto decoded = decode_command(bytes);
    REQUIRE(decoded);
    const auto* back = std::get_if<storage::AppendRequest>(&*decoded);
    REQUIRE(back != nullptr);
    CHECK(back->stream == request.stream);
    CHECK(back->expected.kind == storage::ExpectedVersion::Kind::Exact);
    CHECK(back->expected.version == 41);
    REQUIRE(back->events.size() == 2);
    CHECK(back->events[0].data == event.data);
    CHECK(back->events[0].timestamp_us == -5);
    CHECK_FALSE(back->events[0].data_is_json);
    CHECK(back->events[1].data_is_json);

    const auto peer = decode_command(encode_command(SetPeerAddress{7, "10.0.0.7:2113"}));
    REQUIRE(peer);
    const auto* set = std::get_if<SetPeerAddress>(&*peer);
    REQUIRE(set != nullptr);
    CHECK(set->node == 7);
    CHECK(set->address == "10.0.0.7:2113");

    CHECK_FALSE(decode_command(""));
    CHECK_FALSE(decode_command(std::string(1, '\x09')));
    for (std::size_t cut = 1; cut < bytes.size(); ++cut) {
        CHECK_FALSE(decode_command(std::string_view(bytes).substr(0, cut)));
    }
    CHECK_FALSE(decode_command(bytes + "x"));
}

TEST_CASE("raft log store: persist runs the caller's writes in the same transaction") {
    test::TempDir dir;
    storage::StoreOptions options;
    options.directory = dir.str();
    options.durable = false;
    std::string error;
    auto environment = storage::LmdbEnvironment::open(options, error);
    REQUIRE_MESSAGE(environment, error);
    LogStoreOptions log_options;
    auto log = RaftLogStore::open_shared(*environment, log_options, error);
    REQUIRE_MESSAGE(log, error);
    REQUIRE(log->create_group(1, raft::Membership{{1}, {}}, error) != nullptr);
    const MDB_dbi meta = environment->databases().meta;
    auto put = [&](MDB_txn* txn, const std::string& key) {
        MDB_val k = storage::to_val(key);
        MDB_val v = storage::to_val("value");
        return mdb_put(txn, meta, &k, &v, 0);
    };
    auto present = [&](const std::string& key) {
        storage::ReadTransaction txn(*environment);
        MDB_val k = storage::to_val(key);
        MDB_val v{};
        return mdb_get(txn.get(), meta, &k, &v) == 0;
    };

    raft::Ready ready;
    ready.entries = {test::entry(1, 1)};
    ready.hard_state = raft::HardState{1, 1, 1};
    const GroupReady one{1, &ready};
    CHECK(log->persist(std::span<const GroupReady>(&one, 1),
                       [&](MDB_txn* txn) { return put(txn, "applied-1"); })
              .ok());
    CHECK(present("applied-1"));
    CHECK(log->group(1)->last_index() == 1);

    // A failing extra write aborts the Ready too: neither is visible.
    raft::Ready second;
    second.entries = {test::entry(2, 1)};
    const GroupReady two{1, &second};
    const auto failed = log->persist(std::span<const GroupReady>(&two, 1), [&](MDB_txn* txn) {
        put(txn, "applied-2");
        return MDB_BAD_VALSIZE;
    });
    CHECK_FALSE(failed.ok());
    CHECK_FALSE(present("applied-2"));
    CHECK(log->group(1)->last_index() == 1);

    // Reopened on a new environment: the shared databases hold both kinds of data.
    log.reset();
    environment.reset();
    environment = storage::LmdbEnvironment::open(options, error);
    REQUIRE(environment);
    log = RaftLogStore::open_shared(*environment, log_options, error);
    REQUIRE(log);
    CHECK(log->group(1)->last_index() == 1);
    CHECK(present("applied-1"));
    CHECK(log->verify(1).empty());
}

}  // namespace
}  // namespace annal::replication
