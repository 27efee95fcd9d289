// Cluster-mode behaviour of the HTTP API against fakes: redirects to the leader, read
// barriers, admin endpoints, readiness, and the one-port peer/HTTP split.
#include <doctest/doctest.h>

#include <atomic>
#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>
#include <cstdlib>
#include <filesystem>
#include <future>
#include <mutex>
#include <nlohmann/json.hpp>
#include <thread>

#include "api/cluster_admin.hpp"
#include "api/http_server.hpp"
#include "server_fixture.hpp"
#include "storage/event_store.hpp"
#include "test_client.hpp"
#include "tls/socket_stream.hpp"

using namespace annal;
using namespace annal::api;
using namespace annal::api::test;
using nlohmann::json;

namespace {

// A real store whose cluster answers (append status, read barrier) the test chooses.
class ScriptedStore final : public storage::EventStore {
  public:
    explicit ScriptedStore(std::unique_ptr<storage::EventStore> inner) : inner_(std::move(inner)) {}

    std::optional<storage::AppendResult> append_answer;  // set: append answers this
    storage::ReadBarrierResult barrier_answer;
    std::atomic<int> barriers{0};

    void append(storage::AppendRequest request, AppendCallback done) override {
        if (append_answer) {
            done(*append_answer);
            return;
        }
        inner_->append(std::move(request), std::move(done));
    }
    void read_barrier(storage::ReadBarrierCallback done) override {
        barriers.fetch_add(1);
        // From another thread, as a replicated store would.
        std::thread([done = std::move(done), answer = barrier_answer] { done(answer); }).detach();
    }
    storage::ReadResult read_stream(const std::string& stream, std::uint64_t from,
                                    storage::Direction direction,
                                    std::size_t limit) const override {
        return inner_->read_stream(stream, from, direction, limit);
    }
    storage::ReadResult read_all(std::uint64_t from, storage::Direction direction,
                                 std::size_t limit) const override {
        return inner_->read_all(from, direction, limit);
    }
    storage::ReadResult read_time_range(std::int64_t from_us, std::int64_t to_us,
                                        std::size_t limit) const override {
        return inner_->read_time_range(from_us, to_us, limit);
    }
    storage::ReadResult read_time_range_after(std::int64_t after_us, std::uint64_t after_position,
                                              std::int64_t to_us,
                                              std::size_t limit) const override {
        return inner_->read_time_range_after(after_us, after_position, to_us, limit);
    }
    std::optional<std::uint64_t> stream_version(const std::string& stream) const override {
        return inner_->stream_version(stream);
    }
    std::uint64_t head_position() const override { return inner_->head_position(); }
    storage::StoreStats stats() const override { return inner_->stats(); }
    std::uint64_t add_commit_listener(CommitListener listener) override {
        return inner_->add_commit_listener(std::move(listener));
    }
    void remove_commit_listener(std::uint64_t token) override {
        inner_->remove_commit_listener(token);
    }
    void close() override { inner_->close(); }

  private:
    std::unique_ptr<storage::EventStore> inner_;
};

class FakeAdmin final : public ClusterAdmin {
  public:
    mutable std::mutex mutex;
    ClusterStatus current;
    AdminOutcome answer;
    std::vector<std::string> calls;

    std::string cluster_id() const override { return "test-cluster"; }
    ClusterStatus status() const override {
        std::lock_guard lock(mutex);
        return current;
    }
    void add_learner(std::uint64_t id, std::string address, AdminDone done) override {
        record("add_learner " + std::to_string(id) + " " + address, std::move(done));
    }
    void promote(std::uint64_t id, AdminDone done) override {
        record("promote " + std::to_string(id), std::move(done));
    }
    void remove_member(std::uint64_t id, AdminDone done) override {
        record("remove " + std::to_string(id), std::move(done));
    }
    void transfer_leadership(std::uint64_t target, AdminDone done) override {
        record("transfer " + std::to_string(target), std::move(done));
    }
    std::string log_digest(std::uint64_t upto) const override {
        return "digest-upto-" + std::to_string(upto);
    }
    std::string extra_metrics() const override { return "annal_peer_fake 1\n"; }

  private:
    void record(std::string call, AdminDone done) {
        AdminOutcome outcome;
        {
            std::lock_guard lock(mutex);
            calls.push_back(std::move(call));
            outcome = answer;
        }
        std::thread([done = std::move(done), outcome] { done(outcome); }).detach();
    }
};

class ClusterServer {
  public:
    explicit ClusterServer(bool with_admin = true, PeerAcceptor acceptor = {}) {
        std::string pattern =
            (std::filesystem::temp_directory_path() / "annal-cluster-api-XXXXXX").string();
        REQUIRE(mkdtemp(pattern.data()) != nullptr);
        directory_ = pattern;
        storage::StoreOptions options;
        options.directory = directory_;
        options.durable = false;
        std::string error;
        auto inner = storage::EventStore::open(options, error);
        REQUIRE_MESSAGE(inner != nullptr, error);
        store = std::make_unique<ScriptedStore>(std::move(inner));
        server =
            std::make_unique<HttpServer>(*store, ServerOptions{}, with_admin ? &admin : nullptr);
        if (acceptor) {
            server->set_peer_acceptor(std::move(acceptor));
        }
        REQUIRE_MESSAGE(server->start(error), error);
    }
    ~ClusterServer() {
        server->stop();
        store->close();
        server.reset();
        store.reset();
        std::error_code ignored;
        std::filesystem::remove_all(directory_, ignored);
    }
    std::uint16_t port() const { return server->port(); }

    FakeAdmin admin;
    std::unique_ptr<ScriptedStore> store;
    std::unique_ptr<HttpServer> server;

  private:
    std::string directory_;
};

storage::AppendResult not_leader(std::string hint, std::uint64_t id) {
    storage::AppendResult result;
    result.status = storage::AppendStatus::NotLeader;
    result.leader_hint = std::move(hint);
    result.leader_id = id;
    return result;
}

}  // namespace

TEST_CASE("cluster api: a follower redirects appends to the leader with 307") {
    ClusterServer node;
    HttpClient client(node.port());
    node.store->append_answer = not_leader("10.0.0.2:2114", 2);
    auto reply = client.request("POST", "/v1/streams/orders?x=1", events_body(1));
    CHECK(reply.status == 307);
    CHECK(reply.headers["location"] == "http://10.0.0.2:2114/v1/streams/orders?x=1");
    auto body = json::parse(reply.body);
    CHECK(body["error"] == "not_leader");
    CHECK(body["leader"] == "10.0.0.2:2114");
    CHECK(body["leader_id"] == 2);

    node.store->append_answer = not_leader("", 0);
    reply = client.request("POST", "/v1/streams/orders", events_body(1));
    CHECK(reply.status == 503);
    CHECK(reply.headers["retry-after"] == "1");
    CHECK(json::parse(reply.body)["error"] == "no_leader");

    storage::AppendResult lost;
    lost.status = storage::AppendStatus::NotCommitted;
    node.store->append_answer = lost;
    reply = client.request("POST", "/v1/streams/orders", events_body(1));
    CHECK(reply.status == 503);
    body = json::parse(reply.body);
    CHECK(body["error"] == "not_committed");
    CHECK(body["message"].get<std::string>().find("retry") != std::string::npos);
}

TEST_CASE("cluster api: reads pass the read barrier unless consistency=stale") {
    ClusterServer node;
    HttpClient client(node.port());
    REQUIRE(client.request("POST", "/v1/streams/s", events_body(2)).status == 200);

    auto reply = client.request("GET", "/v1/streams/s");
    CHECK(reply.status == 200);
    CHECK(json::parse(reply.body)["events"].size() == 2);
    CHECK(node.store->barriers.load() == 1);
    CHECK(client.request("GET", "/v1/all").status == 200);
    CHECK(client.request("GET", "/v1/time").status == 200);
    CHECK(node.store->barriers.load() == 3);

    reply = client.request("GET", "/v1/streams/s?consistency=stale");
    CHECK(reply.status == 200);
    CHECK(node.store->barriers.load() == 3);

    reply = client.request("GET", "/v1/all?consistency=eventual");
    CHECK(reply.status == 400);
    CHECK(json::parse(reply.body)["error"] == "invalid_parameter");

    node.store->barrier_answer.status = storage::ReadBarrierResult::Status::NoLeader;
    reply = client.request("GET", "/v1/streams/s");
    CHECK(reply.status == 503);
    CHECK(json::parse(reply.body)["error"] == "no_leader");
    node.store->barrier_answer.status = storage::ReadBarrierResult::Status::NotLeader;
    node.store->barrier_answer.leader_hint = "h:1";
    reply = client.request("GET", "/v1/all?limit=1");
    CHECK(reply.status == 307);
    CHECK(reply.headers["location"] == "http://h:1/v1/all?limit=1");
    node.store->barrier_answer.status = storage::ReadBarrierResult::Status::Timeout;
    CHECK(client.request("GET", "/v1/all").status == 504);
    // Stale reads still work without a leader.
    CHECK(client.request("GET", "/v1/all?consistency=stale").status == 200);
}

TEST_CASE("cluster api: a subscription waits for the barrier before its catch-up") {
    ClusterServer node;
    HttpClient writer(node.port());
    REQUIRE(writer.request("POST", "/v1/streams/s", events_body(3)).status == 200);
    HttpClient subscriber(node.port());
    auto head = subscriber.start_ndjson("/v1/subscribe?from=1");
    CHECK(head.status == 200);
    CHECK(subscriber.read_ndjson_lines(3, std::chrono::seconds(5)).size() == 3);
    CHECK(node.store->barriers.load() == 1);
}

TEST_CASE("cluster api: the standalone node reads without a barrier and says so in /admin") {
    ClusterServer node(false);
    HttpClient client(node.port());
    REQUIRE(client.request("POST", "/v1/streams/s", events_body(1)).status == 200);
    CHECK(client.request("GET", "/v1/streams/s").status == 200);
    CHECK(node.store->barriers.load() == 0);
    CHECK(client.request("GET", "/v1/streams/s?consistency=stale").status == 200);
    CHECK(client.request("GET", "/v1/streams/s?consistency=strong").status == 400);
    auto reply = client.request("GET", "/admin/cluster");
    CHECK(reply.status == 200);
    auto body = json::parse(reply.body);
    CHECK(body["mode"] == "standalone");
    CHECK(body["head_position"] == 1);
    reply = client.request("POST", "/admin/members", R"({"id":4,"address":"a:1"})");
    CHECK(reply.status == 409);
    CHECK(json::parse(reply.body)["reason"] == "standalone");
    CHECK(client.request("GET", "/readyz").status == 200);
}

TEST_CASE("cluster api: admin endpoints call the cluster and map its answers") {
    ClusterServer node;
    HttpClient client(node.port());
    {
        std::lock_guard lock(node.admin.mutex);
        node.admin.current.self = 1;
        node.admin.current.leader = 1;
        node.admin.current.leader_address = "127.0.0.1:2113";
        node.admin.current.term = 3;
        node.admin.current.role = "leader";
        node.admin.current.commit_index = 9;
        node.admin.current.applied_index = 9;
        node.admin.current.members = {{1, "127.0.0.1:2113", "leader", true, true, 9, 0},
                                      {2, "127.0.0.1:2114", "follower", true, true, 8, 1}};
    }
    auto reply = client.request("GET", "/admin/cluster");
    REQUIRE(reply.status == 200);
    auto body = json::parse(reply.body);
    CHECK(body["mode"] == "cluster");
    CHECK(body["cluster_id"] == "test-cluster");
    CHECK(body["leader"] == 1);
    CHECK(body["term"] == 3);
    CHECK(body["members"].size() == 2);
    CHECK(body["members"][1]["lag"] == 1);
    CHECK(body["members"][1]["role"] == "follower");

    CHECK(
        client.request("POST", "/admin/members", R"({"id":4,"address":"127.0.0.1:2116"})").status ==
        200);
    CHECK(client.request("POST", "/admin/members/4/promote").status == 200);
    CHECK(client.request("DELETE", "/admin/members/4").status == 200);
    CHECK(client.request("POST", "/admin/leader/transfer", R"({"to":2})").status == 200);
    CHECK(client.request("POST", "/admin/leader/transfer", "").status == 200);
    {
        std::lock_guard lock(node.admin.mutex);
        CHECK(node.admin.calls == std::vector<std::string>{"add_learner 4 127.0.0.1:2116",
                                                           "promote 4", "remove 4", "transfer 2",
                                                           "transfer 0"});
    }

    CHECK(client.request("POST", "/admin/members", R"({"id":0,"address":"a:1"})").status == 400);
    CHECK(client.request("POST", "/admin/members", R"({"id":4})").status == 400);
    CHECK(client.request("POST", "/admin/members", "{").status == 400);
    CHECK(client.request("GET", "/admin/members/4/promote").status == 405);
    CHECK(client.request("DELETE", "/admin/members/x").status == 404);
    CHECK(client.request("POST", "/admin/leader/transfer", R"({"to":"two"})").status == 400);

    node.admin.answer = AdminOutcome{AdminOutcome::Status::Refused, "would_lose_quorum",
                                     "removing 2 leaves no quorum", "", 0};
    reply = client.request("DELETE", "/admin/members/2");
    CHECK(reply.status == 409);
    body = json::parse(reply.body);
    CHECK(body["error"] == "refused");
    CHECK(body["reason"] == "would_lose_quorum");
    node.admin.answer = AdminOutcome{AdminOutcome::Status::NotLeader, "", "", "127.0.0.1:2115", 3};
    reply = client.request("POST", "/admin/members/5/promote");
    CHECK(reply.status == 307);
    CHECK(reply.headers["location"] == "http://127.0.0.1:2115/admin/members/5/promote");
    node.admin.answer = AdminOutcome{AdminOutcome::Status::Timeout, "", "", "", 0};
    CHECK(client.request("DELETE", "/admin/members/2").status == 504);
    node.admin.answer = AdminOutcome{AdminOutcome::Status::NoLeader, "", "", "", 0};
    CHECK(client.request("DELETE", "/admin/members/2").status == 503);

    REQUIRE(client.request("POST", "/v1/streams/s", events_body(3)).status == 200);
    reply = client.request("GET", "/admin/digest?upto=2");
    REQUIRE(reply.status == 200);
    body = json::parse(reply.body);
    CHECK(body["upto"] == 2);
    CHECK(body["digest"] == "digest-upto-2");
    body = json::parse(client.request("GET", "/admin/digest").body);
    CHECK(body["upto"] == 3);  // absent: the applied head

    reply = client.request("GET", "/metrics");
    CHECK(reply.body.find("annal_raft_term 3") != std::string::npos);
    CHECK(reply.body.find("annal_raft_role{role=\"leader\"} 1") != std::string::npos);
    CHECK(reply.body.find("annal_peer_fake 1") != std::string::npos);
}

TEST_CASE("cluster api: /readyz waits for a leader and for applying what was committed") {
    ClusterServer node;
    HttpClient client(node.port());
    auto reply = client.request("GET", "/readyz");
    CHECK(reply.status == 503);
    CHECK(reply.body == "no leader");
    {
        std::lock_guard lock(node.admin.mutex);
        node.admin.current.leader = 2;
        node.admin.current.commit_index = 10;
        node.admin.current.applied_index = 4;
    }
    reply = client.request("GET", "/readyz");
    CHECK(reply.status == 503);
    CHECK(reply.body == "catching up");
    {
        std::lock_guard lock(node.admin.mutex);
        node.admin.current.commit_index = 20;  // the target stays what was learned first
        node.admin.current.applied_index = 10;
    }
    CHECK(client.request("GET", "/readyz").status == 200);
}

TEST_CASE("one port: the peer magic goes to the peer acceptor, everything else is HTTP") {
    namespace net = boost::asio;
    std::promise<std::pair<net::ip::tcp::socket, std::string>> handed;
    ClusterServer node(true, [&handed](tls::SocketStream stream, std::string first) {
        CHECK_FALSE(stream.is_tls());  // no TLS context on this server
        handed.set_value({std::move(stream.socket()), std::move(first)});
    });

    net::io_context io;
    net::ip::tcp::socket peer(io);
    peer.connect({net::ip::make_address("127.0.0.1"), node.port()});
    // Split across writes: the server must wait for all four magic bytes.
    net::write(peer, net::buffer(std::string("AN")));
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    net::write(peer, net::buffer(std::string("PRhello")));
    auto future = handed.get_future();
    REQUIRE(future.wait_for(std::chrono::seconds(5)) == std::future_status::ready);
    auto [socket, first] = future.get();
    // The promise's state still holds the moved-from socket, whose executor is a strand of
    // the server's io_context: release it while that io_context exists.
    handed = {};
    CHECK(first == "ANPR");
    std::string rest(5, '\0');
    net::read(socket, net::buffer(rest.data(), rest.size()));
    CHECK(rest == "hello");

    // A client sending "GET " one byte at a time is HTTP as soon as "G" arrives.
    HttpClient slow(node.port());
    slow.send_raw("G");
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    slow.send_raw("ET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
    auto reply = slow.read_response();
    CHECK(reply.status == 200);
    CHECK(reply.body == "ok");

    // A prefix of the magic followed by something else is HTTP too (and not valid HTTP).
    HttpClient confused(node.port());
    confused.send_raw(std::string("AN\x01\x02 / HTTP/1.1\r\n\r\n"));
    CHECK(confused.read_until_close(std::chrono::seconds(5)).find("400") != std::string::npos);
    // Normal requests keep working on the same port.
    HttpClient normal(node.port());
    CHECK(normal.request("GET", "/healthz").status == 200);
}
