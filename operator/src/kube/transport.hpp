// The HTTP seam of the Kubernetes client: one request/response, or one streamed response
// read line by line (watch). A fake implementation drives the unit tests.
#pragma once

#include <functional>
#include <stop_token>
#include <string>
#include <string_view>

namespace annal::kube {

struct HttpRequest {
    std::string method;  // GET, POST, PUT, PATCH, DELETE
    std::string target;  // path and query, e.g. /api/v1/pods?watch=1
    std::string body;
    std::string content_type = "application/json";
};

struct HttpResponse {
    int status = 0;     // 0: the request never got an HTTP answer (see `error`)
    std::string body;   // for streams: empty unless the server answered with an error
    std::string error;  // transport-level failure, human readable
};

// Returns false to stop reading the stream.
using LineHandler = std::function<bool(std::string_view line)>;

class Transport {
  public:
    virtual ~Transport() = default;
    virtual HttpResponse send(const HttpRequest& request) = 0;
    // Calls `on_line` for each newline-terminated line of a 2xx body as it arrives; returns
    // when the body ends, `on_line` returns false, or `stop` is requested.
    virtual HttpResponse stream_lines(const HttpRequest& request, const LineHandler& on_line,
                                      std::stop_token stop) = 0;
};

}  // namespace annal::kube
