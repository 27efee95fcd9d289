// The client in a cluster: follows a follower's 307 to the leader (and stays there),
// retries 503 no_leader / not_committed with the same event ids, and gives up after
// 5 redirects. Against scripted loopback HTTP servers.
#include <doctest/doctest.h>

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/streambuf.hpp>
#include <boost/asio/write.hpp>
#include <functional>
#include <istream>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "client/client.hpp"

namespace {

namespace net = boost::asio;
using tcp = net::ip::tcp;

struct SeenRequest {
    std::string request_line;
    std::string body;
};

// Answers each request with what `script` returns for the n-th request (0-based).
class ScriptedServer {
  public:
    using Script = std::function<std::string(std::size_t n, const SeenRequest& request)>;

    explicit ScriptedServer(Script script)
        : script_(std::move(script)),
          acceptor_(io_, tcp::endpoint(net::ip::make_address("127.0.0.1"), 0)) {
        thread_ = std::thread([this] { serve(); });
    }
    ~ScriptedServer() {
        stopping_ = true;
        boost::system::error_code ignored;
        tcp::socket poke(io_);
        poke.connect(acceptor_.local_endpoint(), ignored);
        thread_.join();
    }
    unsigned short port() const { return acceptor_.local_endpoint().port(); }
    std::vector<SeenRequest> seen() {
        std::lock_guard lock(mutex_);
        return seen_;
    }

  private:
    void serve() {
        while (!stopping_) {
            tcp::socket socket(io_);
            boost::system::error_code ec;
            acceptor_.accept(socket, ec);
            if (ec || stopping_) {
                return;
            }
            net::streambuf buffer;
            for (;;) {
                const auto header_size = net::read_until(socket, buffer, "\r\n\r\n", ec);
                if (ec) {
                    break;
                }
                std::string head(header_size, '\0');
                std::istream(&buffer).read(head.data(), static_cast<std::streamsize>(header_size));
                std::size_t length = 0;
                const auto at = head.find("Content-Length: ");
                if (at != std::string::npos) {
                    length = std::stoul(head.substr(at + 16));
                }
                if (buffer.size() < length) {
                    net::read(socket, buffer, net::transfer_exactly(length - buffer.size()), ec);
                }
                SeenRequest request{head.substr(0, head.find("\r\n")), std::string(length, '\0')};
                std::istream(&buffer).read(request.body.data(),
                                           static_cast<std::streamsize>(length));
                std::size_t n = 0;
                {
                    std::lock_guard lock(mutex_);
                    n = seen_.size();
                    seen_.push_back(request);
                }
                net::write(socket, net::buffer(script_(n, request)), ec);
                if (ec) {
                    break;
                }
            }
        }
    }

    Script script_;
    net::io_context io_;
    tcp::acceptor acceptor_;
    std::atomic<bool> stopping_{false};
    std::mutex mutex_;
    std::vector<SeenRequest> seen_;
    std::thread thread_;
};

std::string response(int status, const std::string& body, const std::string& extra = {}) {
    return "HTTP/1.1 " + std::to_string(status) + " X\r\nContent-Type: application/json\r\n" +
           extra + "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
}

const std::string kAppended =
    R"({"stream":"s","first_position":1,"last_position":1,"version":0,"deduplicated":false})";

annal::client::Endpoint endpoint_of(unsigned short port) {
    annal::client::Endpoint endpoint;
    endpoint.port = std::to_string(port);
    return endpoint;
}

}  // namespace

TEST_CASE("client: follows 307 to the leader, retries no_leader, keeps the leader") {
    ScriptedServer leader([](std::size_t n, const SeenRequest&) {
        if (n == 0) {
            return response(503, R"({"error":"no_leader","message":"election"})",
                            "Retry-After: 1\r\n");
        }
        if (n == 1) {
            return response(503, R"({"error":"not_committed","message":"leadership changed"})");
        }
        return response(200, kAppended);
    });
    const std::string location =
        "http://127.0.0.1:" + std::to_string(leader.port()) + "/v1/streams/s";
    ScriptedServer follower([&location](std::size_t, const SeenRequest&) {
        return response(307, R"({"error":"not_leader","message":"ask the leader","leader_id":2})",
                        "Location: " + location + "\r\n");
    });

    annal::client::Client client(endpoint_of(follower.port()));
    auto appended = client.append("s", annal::client::ExpectedVersion::any(),
                                  {annal::client::NewEvent{"", "T", "", "{}", std::nullopt, ""}});
    REQUIRE_MESSAGE(appended.ok(), appended.error().describe());
    CHECK(appended.value().first_position == 1);
    CHECK(client.endpoint().port == std::to_string(leader.port()));
    const auto at_leader = leader.seen();
    REQUIRE(at_leader.size() == 3);
    // Every retry carries the same body: the event ids were fixed before the first try.
    CHECK(at_leader[0].body == follower.seen().at(0).body);
    CHECK(at_leader[1].body == at_leader[0].body);
    CHECK(at_leader[2].body == at_leader[0].body);
    CHECK(at_leader[0].request_line == "POST /v1/streams/s HTTP/1.1");

    // Later requests go straight to the leader.
    CHECK(client
              .append("s", annal::client::ExpectedVersion::any(),
                      {annal::client::NewEvent{"", "T", "", "{}", std::nullopt, ""}})
              .ok());
    CHECK(follower.seen().size() == 1);
}

TEST_CASE("client: a redirect loop ends after 5 hops with the 307 as the error") {
    std::string self_location;
    ScriptedServer looping([&self_location](std::size_t, const SeenRequest&) {
        return response(307, R"({"error":"not_leader","message":"loop"})",
                        "Location: " + self_location + "\r\n");
    });
    self_location = "http://127.0.0.1:" + std::to_string(looping.port()) + "/admin/cluster";
    annal::client::Client client(endpoint_of(looping.port()));
    auto reply = client.send("GET", "/admin/cluster", "");
    REQUIRE_FALSE(reply.ok());
    CHECK(reply.error().http_status == 307);
    CHECK(reply.error().code == "not_leader");
    CHECK(looping.seen().size() == 6);  // the first try and 5 hops
}

TEST_CASE("client: a raw append is not retried after not_committed (its ids are unknown)") {
    ScriptedServer node([](std::size_t, const SeenRequest&) {
        return response(503, R"({"error":"not_committed","message":"leadership changed"})");
    });
    annal::client::Client client(endpoint_of(node.port()));
    auto reply = client.append_raw("s", R"({"events":[{"type":"T"}]})");
    REQUIRE_FALSE(reply.ok());
    CHECK(reply.error().code == "not_committed");
    CHECK(node.seen().size() == 1);
}
