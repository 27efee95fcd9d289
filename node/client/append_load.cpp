#include "client/append_load.hpp"

#include <algorithm>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <memory>
#include <random>

#include "client/client.hpp"
#include "client/latency_histogram.hpp"

namespace annal::client {

namespace {

namespace beast = boost::beast;
namespace http = boost::beast::http;
namespace net = boost::asio;
using tcp = net::ip::tcp;
using boost::system::error_code;
using Clock = std::chrono::steady_clock;

constexpr unsigned kMaxConsecutiveErrors = 100;
constexpr auto kErrorPause = std::chrono::milliseconds(10);
constexpr auto kProgressInterval = std::chrono::milliseconds(100);

// The error code from the API's error body ({"error":"code",...}); empty if absent. The
// body's shape is fixed by docs/API.md, so a JSON parser is not needed on this path.
std::string error_code_in(const std::string& body) {
    const std::string key = "\"error\":\"";
    const auto at = body.find(key);
    if (at == std::string::npos) {
        return {};
    }
    const auto begin = at + key.size();
    const auto end = body.find('"', begin);
    return end == std::string::npos ? std::string() : body.substr(begin, end - begin);
}

std::string append_body(std::size_t batch, std::size_t event_bytes) {
    // The data is a JSON string whose encoding is exactly event_bytes bytes.
    std::string data(std::max<std::size_t>(event_bytes, 2), 'x');
    data.front() = '"';
    data.back() = '"';
    const std::string event = "{\"type\":\"BenchEvent\",\"data\":" + data + "}";
    std::string body = "{\"events\":[";
    for (std::size_t i = 0; i < batch; ++i) {
        if (i != 0) {
            body += ',';
        }
        body += event;
    }
    body += "]}";
    return body;
}

double to_ms(std::uint64_t microseconds) {
    return static_cast<double>(microseconds) / 1000.0;
}

class LoadConnection;

// Everything the connections share. Only the event loop's thread touches it.
struct LoadRun {
    LoadRun(const AppendLoadOptions& load_options, std::function<void(std::uint64_t)> on_progress)
        : options(load_options),
          progress(std::move(on_progress)),
          deadline_timer(io),
          progress_timer(io) {}

    void record_error(const std::string& key, const std::string& description) {
        ++errors;
        ++errors_by_status[key];
        if (first_error.empty()) {
            first_error = description;
        }
    }
    void connection_ready();
    void connection_finished();
    void report_progress();

    const AppendLoadOptions& options;
    std::function<void(std::uint64_t)> progress;
    net::io_context io{1};
    tcp::resolver::results_type resolved;
    std::string host_header;
    std::string body;
    std::vector<std::unique_ptr<LoadConnection>> connections;
    std::size_t waiting_to_connect = 0;
    std::size_t active = 0;
    bool stopping = false;
    Clock::time_point began;
    Clock::time_point ended;
    net::steady_timer deadline_timer;
    net::steady_timer progress_timer;
    LatencyHistogram latencies;
    std::uint64_t appends = 0;
    std::uint64_t errors = 0;
    std::map<std::string, std::uint64_t> errors_by_status;
    std::string first_error;
};

// One keep-alive connection with at most one append in flight. Handlers capture `this`:
// the connections outlive the event loop's run, which ends only when none has work left.
class LoadConnection {
  public:
    LoadConnection(LoadRun& run, std::string stream, std::uint64_t quota)
        : run_(run),
          stream_name_(std::move(stream)),
          quota_(quota),
          socket_(run.io),
          pause_(run.io) {
        request_ = {http::verb::post, "/v1/streams/" + Client::percent_encode(stream_name_), 11};
        request_.set(http::field::host, run_.host_header);
        request_.set(http::field::user_agent, "annal-bench/1");
        request_.set(http::field::content_type, "application/json");
        request_.keep_alive(true);
        request_.body() = run_.body;
        request_.prepare_payload();
    }

    const std::string& stream_name() const { return stream_name_; }
    std::uint64_t acknowledged_events() const { return acknowledged_events_; }

    // Before the clock starts: connection set-up is not what is measured.
    void open() {
        connect([this](bool) { run_.connection_ready(); });
    }

    void start() {
        if (connected_) {
            send();
        } else {
            connect([this](bool ok) {
                if (ok) {
                    send();
                } else {
                    pause_then_continue();
                }
            });
        }
    }

  private:
    template <typename Then>
    void connect(Then then) {
        buffer_.clear();
        socket_.expires_after(run_.options.connect_timeout);
        socket_.async_connect(run_.resolved,
                              [this, then](const error_code& ec, const tcp::endpoint&) {
                                  if (ec) {
                                      transport_error("connect", ec);
                                      then(false);
                                      return;
                                  }
                                  error_code ignored;
                                  socket_.socket().set_option(tcp::no_delay(true), ignored);
                                  connected_ = true;
                                  then(true);
                              });
    }

    void send() {
        if (run_.stopping || acknowledged_appends_ >= quota_) {
            finish();
            return;
        }
        sent_at_ = Clock::now();
        socket_.expires_after(run_.options.request_timeout);
        http::async_write(socket_, request_, [this](const error_code& ec, std::size_t) {
            if (ec) {
                transport_error("write", ec);
                pause_then_continue();
                return;
            }
            response_ = {};
            http::async_read(socket_, buffer_, response_,
                             [this](const error_code& read_ec, std::size_t) { on_reply(read_ec); });
        });
    }

    void on_reply(const error_code& ec) {
        const auto elapsed = Clock::now() - sent_at_;
        if (ec) {
            transport_error("read", ec);
            pause_then_continue();
            return;
        }
        if (!response_.keep_alive()) {
            close();
        }
        const int status = response_.result_int();
        if (status == 200) {
            consecutive_errors_ = 0;
            ++acknowledged_appends_;
            acknowledged_events_ += run_.options.batch;
            ++run_.appends;
            run_.latencies.record(static_cast<std::uint64_t>(
                std::chrono::duration_cast<std::chrono::microseconds>(elapsed).count()));
            start();  // reconnects first if the server closed the connection
            return;
        }
        const std::string code = error_code_in(response_.body());
        const std::string key = std::to_string(status) + (code.empty() ? "" : " " + code);
        run_.record_error(key, "HTTP " + key + ": " + response_.body().substr(0, 200));
        pause_then_continue();
    }

    void transport_error(const char* step, const error_code& ec) {
        close();
        run_.record_error("transport: " + ec.message(),
                          std::string(step) + " " + run_.host_header + ": " + ec.message());
    }

    void pause_then_continue() {
        if (++consecutive_errors_ >= kMaxConsecutiveErrors) {
            // A dead or refusing server should end the run, not spin it.
            finish();
            return;
        }
        pause_.expires_after(kErrorPause);
        pause_.async_wait([this](const error_code&) { start(); });
    }

    void close() {
        if (connected_) {
            error_code ignored;
            socket_.socket().shutdown(tcp::socket::shutdown_both, ignored);
        }
        socket_.close();
        connected_ = false;
    }

    void finish() {
        if (finished_) {
            return;
        }
        finished_ = true;
        close();
        run_.connection_finished();
    }

    LoadRun& run_;
    std::string stream_name_;
    std::uint64_t quota_;
    beast::tcp_stream socket_;
    net::steady_timer pause_;
    http::request<http::string_body> request_;
    http::response<http::string_body> response_;
    beast::flat_buffer buffer_;
    Clock::time_point sent_at_;
    std::uint64_t acknowledged_appends_ = 0;
    std::uint64_t acknowledged_events_ = 0;
    unsigned consecutive_errors_ = 0;
    bool connected_ = false;
    bool finished_ = false;
};

void LoadRun::connection_ready() {
    if (--waiting_to_connect != 0) {
        return;
    }
    began = Clock::now();
    active = connections.size();
    if (!options.appends) {
        deadline_timer.expires_after(std::chrono::duration_cast<Clock::duration>(options.duration));
        deadline_timer.async_wait([this](const error_code& ec) {
            if (!ec) {
                stopping = true;
            }
        });
    }
    report_progress();
    for (auto& connection : connections) {
        connection->start();
    }
}

void LoadRun::connection_finished() {
    if (--active != 0) {
        return;
    }
    ended = Clock::now();
    deadline_timer.cancel();
    progress_timer.cancel();
}

void LoadRun::report_progress() {
    progress_timer.expires_after(kProgressInterval);
    progress_timer.async_wait([this](const error_code& ec) {
        if (ec || active == 0) {
            return;
        }
        progress(appends);
        report_progress();
    });
}

// The generator speaks plain HTTP/1.1 on raw sockets; TLS would need its own stream type.
std::optional<Error> refuse_https(const Endpoint& endpoint) {
    const std::string url = endpoint.to_url();
    if (url.rfind("https://", 0) != 0) {
        return std::nullopt;
    }
    Error error;
    error.code = "unsupported";
    error.message = "the append load generator speaks http only, not " + url;
    return error;
}

// Where the appends should go: a follower answers a (linearizable) read with a 307 to the
// leader, which the client follows once; a standalone node or the leader answers itself.
Result<Endpoint> find_append_target(const Endpoint& endpoint, const AppendLoadOptions& options,
                                    const std::string& stream) {
    ClientOptions client_options;
    client_options.max_redirects = 1;
    client_options.connect_timeout = options.connect_timeout;
    client_options.request_timeout = options.request_timeout;
    Client probe(endpoint, client_options);
    ReadStreamRequest request;
    request.stream = stream;
    request.limit = 1;
    auto page = probe.read_stream(request);
    if (!page) {
        const Error& error = page.error();
        if (error.kind == Error::Kind::Transport) {
            return error;
        }
        if (error.kind == Error::Kind::Http && error.http_status == 307) {
            Error redirected = error;
            redirected.message = "still redirected after following one 307 (from " +
                                 endpoint.to_url() + "): " + error.message;
            return redirected;
        }
    }
    return probe.endpoint();
}

}  // namespace

Result<AppendLoadReport> run_append_load(const Endpoint& endpoint, const AppendLoadOptions& options,
                                         const std::function<void(std::uint64_t)>& progress) {
    const unsigned connection_count = std::max(1u, options.connections);
    AppendLoadOptions effective = options;
    effective.connections = connection_count;
    effective.batch = std::max<std::size_t>(1, options.batch);
    const std::string run_id = std::to_string(std::random_device{}() % 1000000);
    const auto stream_name = [&](unsigned index) {
        return options.stream_prefix + "-" + run_id + "-" + std::to_string(index);
    };

    if (auto refused = refuse_https(endpoint)) {
        return *refused;
    }
    auto target = find_append_target(endpoint, effective, stream_name(0));
    if (!target) {
        return target.error();
    }
    if (auto refused = refuse_https(target.value())) {
        return *refused;
    }
    LoadRun run(effective, progress);
    error_code ec;
    tcp::resolver resolver(run.io);
    run.resolved = resolver.resolve(target.value().host, target.value().port, ec);
    if (ec) {
        Error error;
        error.code = "resolve";
        error.message = target.value().host + ":" + target.value().port + ": " + ec.message();
        return error;
    }
    run.host_header = target.value().host + ":" + target.value().port;
    run.body = append_body(effective.batch, effective.event_bytes);

    for (unsigned i = 0; i < connection_count; ++i) {
        std::uint64_t quota = UINT64_MAX;
        if (options.appends) {
            quota = *options.appends / connection_count +
                    (i < *options.appends % connection_count ? 1 : 0);
        }
        run.connections.push_back(std::make_unique<LoadConnection>(run, stream_name(i), quota));
    }
    run.waiting_to_connect = run.connections.size();
    for (auto& connection : run.connections) {
        connection->open();
    }
    run.io.run();
    progress(run.appends);

    AppendLoadReport report;
    report.target = target.value().to_url();
    report.connections = connection_count;
    report.batch = effective.batch;
    report.event_bytes = effective.event_bytes;
    report.seconds = std::chrono::duration<double>(run.ended - run.began).count();
    report.appends = run.appends;
    report.events = run.appends * effective.batch;
    report.errors = run.errors;
    report.errors_by_status = run.errors_by_status;
    report.first_error = run.first_error;
    if (report.seconds > 0) {
        report.appends_per_s = static_cast<double>(report.appends) / report.seconds;
        report.events_per_s = static_cast<double>(report.events) / report.seconds;
    }
    report.latency_mean_ms = run.latencies.mean_us() / 1000.0;
    report.latency_p50_ms = to_ms(run.latencies.percentile_us(0.50));
    report.latency_p90_ms = to_ms(run.latencies.percentile_us(0.90));
    report.latency_p99_ms = to_ms(run.latencies.percentile_us(0.99));
    report.latency_p999_ms = to_ms(run.latencies.percentile_us(0.999));
    report.latency_max_ms = to_ms(run.latencies.max_us());
    for (const auto& connection : run.connections) {
        report.streams.push_back({connection->stream_name(), connection->acknowledged_events()});
    }
    return report;
}

}  // namespace annal::client
