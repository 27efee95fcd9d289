#include "fake_api.hpp"

#include <algorithm>

namespace annal::test {
namespace {

using nlohmann::json;

kube::HttpResponse reply(int status, const json& body) {
    return {status, body.dump(), ""};
}

kube::HttpResponse status_reply(int code, const std::string& reason, const std::string& msg) {
    return reply(code, {{"kind", "Status"}, {"code", code}, {"reason", reason}, {"message", msg}});
}

std::string decode(const std::string& s) {
    std::string out;
    for (std::size_t i = 0; i < s.size(); ++i) {
        if (s[i] == '%' && i + 2 < s.size()) {
            out.push_back(static_cast<char>(std::stoi(s.substr(i + 1, 2), nullptr, 16)));
            i += 2;
        } else {
            out.push_back(s[i]);
        }
    }
    return out;
}

std::map<std::string, std::string> parse_query(const std::string& q) {
    std::map<std::string, std::string> out;
    std::size_t start = 0;
    while (start < q.size()) {
        auto amp = q.find('&', start);
        if (amp == std::string::npos)
            amp = q.size();
        const std::string part = q.substr(start, amp - start);
        const auto eq = part.find('=');
        out[part.substr(0, eq)] = eq == std::string::npos ? "" : decode(part.substr(eq + 1));
        start = amp + 1;
    }
    return out;
}

bool matches(const json& object, const std::string& selector) {
    std::size_t start = 0;
    while (start < selector.size()) {
        auto comma = selector.find(',', start);
        if (comma == std::string::npos)
            comma = selector.size();
        const std::string term = selector.substr(start, comma - start);
        const auto eq = term.find('=');
        const std::string key = term.substr(0, eq);
        const std::string value = term.substr(eq + 1);
        const json labels = object["metadata"].value("labels", json::object());
        if (!labels.contains(key) || labels[key] != value)
            return false;
        start = comma + 1;
    }
    return true;
}

std::string segment(const std::string& path, std::size_t index) {
    std::size_t start = 1;
    for (std::size_t i = 0; i < index; ++i) {
        start = path.find('/', start);
        if (start == std::string::npos)
            return {};
        ++start;
    }
    return path.substr(start, path.find('/', start) - start);
}

// /api/v1/namespaces/NS/PLURAL or /apis/G/V/PLURAL (cluster-wide list), not .../NAME.
bool is_collection(const std::string& path) {
    const auto segments = static_cast<std::size_t>(std::count(path.begin(), path.end(), '/'));
    const std::size_t version = segment(path, 0) == "api" ? 1 : 2;
    if (segment(path, version + 1) == "namespaces")
        return segments == version + 4;
    return segments == version + 2;
}

}  // namespace

void FakeApi::put_object(const std::string& path, json object) {
    std::lock_guard lock(mutex_);
    object["metadata"]["resourceVersion"] = next_rv();
    if (!object["metadata"].contains("uid"))
        object["metadata"]["uid"] = "uid-" + next_rv();
    if (!object["metadata"].contains("generation"))
        object["metadata"]["generation"] = 1;
    objects_[path] = std::move(object);
}

json FakeApi::object(const std::string& path) const {
    std::lock_guard lock(mutex_);
    auto it = objects_.find(path);
    return it == objects_.end() ? json() : it->second;
}

std::vector<kube::HttpRequest> FakeApi::requests() const {
    std::lock_guard lock(mutex_);
    return requests_;
}

std::size_t FakeApi::count_writes() const {
    std::lock_guard lock(mutex_);
    std::size_t n = 0;
    for (const auto& r : requests_) {
        if (r.method != "GET" && r.target.find("/events") == std::string::npos)
            ++n;
    }
    return n;
}

kube::HttpResponse FakeApi::send(const kube::HttpRequest& request) {
    {
        std::lock_guard lock(mutex_);
        requests_.push_back(request);
    }
    if (intercept) {
        if (auto injected = intercept(request))
            return *injected;
    }
    std::lock_guard lock(mutex_);
    return serve(request);
}

kube::HttpResponse FakeApi::stream_lines(const kube::HttpRequest& request,
                                         const kube::LineHandler& on_line, std::stop_token) {
    {
        std::lock_guard lock(mutex_);
        requests_.push_back(request);
    }
    if (watch)
        return watch(request, on_line);
    return {200, "", ""};
}

kube::HttpResponse FakeApi::serve(const kube::HttpRequest& request) {
    const auto qmark = request.target.find('?');
    const std::string path = request.target.substr(0, qmark);
    const auto query =
        parse_query(qmark == std::string::npos ? "" : request.target.substr(qmark + 1));
    if (discovery.contains(path))
        return reply(200, discovery[path]);
    const bool status_sub = path.size() > 7 && path.compare(path.size() - 7, 7, "/status") == 0;
    const std::string object_path = status_sub ? path.substr(0, path.size() - 7) : path;

    if (request.method == "GET") {
        if (auto it = objects_.find(path); it != objects_.end())
            return reply(200, it->second);
        json items = json::array();
        for (const auto& [p, o] : objects_) {
            if (p.size() > path.size() && p.compare(0, path.size() + 1, path + "/") == 0 &&
                p.find('/', path.size() + 1) == std::string::npos &&
                (!query.count("labelSelector") || matches(o, query.at("labelSelector")))) {
                items.push_back(o);
            }
        }
        if (is_collection(path)) {
            return reply(200, {{"items", items}, {"metadata", {{"resourceVersion", next_rv()}}}});
        }
        return status_reply(404, "NotFound", path + " not found");
    }
    json body = request.body.empty() ? json() : json::parse(request.body);
    if (request.method == "POST") {
        std::string name = body["metadata"].value("name", std::string());
        if (name.empty())
            name = body["metadata"].value("generateName", std::string("x-")) +
                   std::to_string(++generated_);
        body["metadata"]["name"] = name;
        const std::string p = path + "/" + name;
        if (objects_.count(p))
            return status_reply(409, "AlreadyExists", name + " exists");
        body["metadata"]["resourceVersion"] = next_rv();
        body["metadata"]["uid"] = "uid-" + next_rv();
        body["metadata"]["generation"] = 1;
        objects_[p] = body;
        return reply(201, body);
    }
    auto it = objects_.find(object_path);
    if (request.method == "DELETE") {
        if (it == objects_.end())
            return status_reply(404, "NotFound", object_path);
        const json finalizers = it->second["metadata"].value("finalizers", json::array());
        if (!finalizers.empty()) {
            it->second["metadata"]["deletionTimestamp"] = "2024-01-01T00:00:00Z";
            it->second["metadata"]["resourceVersion"] = next_rv();
            return reply(200, it->second);
        }
        objects_.erase(it);
        return status_reply(200, "", "deleted");
    }
    const bool apply = request.content_type == "application/apply-patch+yaml";
    if (it == objects_.end()) {
        if (!apply)
            return status_reply(404, "NotFound", object_path + " not found");
        body["metadata"]["resourceVersion"] = next_rv();
        body["metadata"]["uid"] = "uid-" + next_rv();
        body["metadata"]["generation"] = 1;
        objects_[object_path] = body;
        return reply(201, body);
    }
    json updated = it->second;
    if (request.method == "PUT") {
        if (body["metadata"].value("resourceVersion", std::string()) !=
            it->second["metadata"].value("resourceVersion", std::string())) {
            return status_reply(409, "Conflict", "the object has been modified");
        }
        if (status_sub) {
            updated["status"] = body["status"];
        } else {
            const json status = updated.value("status", json());
            updated = body;
            if (!status.is_null())
                updated["status"] = status;
        }
    } else if (request.method == "PATCH") {
        if (status_sub) {
            json patched = updated;
            patched.merge_patch(body);
            updated["status"] = patched["status"];
        } else {
            updated.merge_patch(body);
        }
    }
    if (updated != it->second) {
        if (!status_sub && updated.value("spec", json()) != it->second.value("spec", json())) {
            updated["metadata"]["generation"] = updated["metadata"].value("generation", 1) + 1;
        }
        updated["metadata"]["resourceVersion"] = next_rv();
        const bool gone = updated["metadata"].contains("deletionTimestamp") &&
                          updated["metadata"].value("finalizers", json::array()).empty();
        if (gone) {
            objects_.erase(it);
            return reply(200, updated);
        }
        it->second = updated;
    }
    return reply(200, it->second);
}

}  // namespace annal::test
