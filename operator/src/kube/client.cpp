#include "kube/client.hpp"

namespace annal::kube {
namespace {

using nlohmann::json;

std::string query(const ListOptions& options) {
    std::string q;
    auto add = [&q](const std::string& key, const std::string& value) {
        q += q.empty() ? "?" : "&";
        q += key + "=" + url_encode(value);
    };
    if (!options.label_selector.empty())
        add("labelSelector", options.label_selector);
    if (!options.field_selector.empty())
        add("fieldSelector", options.field_selector);
    return q;
}

std::string name_of(const json& object) {
    return object.value("/metadata/name"_json_pointer, std::string());
}

}  // namespace

std::string Result::message() const {
    if (!error.empty())
        return error;
    if (body.is_object() && body.contains("message") && body["message"].is_string()) {
        return body["message"].get<std::string>();
    }
    return "HTTP " + std::to_string(status);
}

Client::Client(std::shared_ptr<Transport> transport) : transport_(std::move(transport)) {}

Result Client::call(const std::string& method, const std::string& target, const std::string& body,
                    const std::string& content_type) {
    HttpResponse response = transport_->send({method, target, body, content_type});
    Result result;
    result.status = response.status;
    result.error = response.error;
    if (!response.body.empty()) {
        result.body = json::parse(response.body, nullptr, /*allow_exceptions=*/false);
        if (result.body.is_discarded())
            result.body = json{{"message", response.body}};
    }
    return result;
}

Result Client::get(const Resource& r, const std::string& ns, const std::string& name) {
    return call("GET", resource_path(r, ns, name), "");
}

Result Client::list(const Resource& r, const std::string& ns, const ListOptions& options) {
    return call("GET", resource_path(r, ns) + query(options), "");
}

Result Client::create(const Resource& r, const std::string& ns, const json& object) {
    return call("POST", resource_path(r, ns), object.dump());
}

Result Client::update(const Resource& r, const std::string& ns, const json& object) {
    return call("PUT", resource_path(r, ns, name_of(object)), object.dump());
}

Result Client::update_status(const Resource& r, const std::string& ns, const json& object) {
    return call("PUT", resource_path(r, ns, name_of(object), "status"), object.dump());
}

Result Client::remove(const Resource& r, const std::string& ns, const std::string& name,
                      const std::string& propagation_policy) {
    const json options = {
        {"kind", "DeleteOptions"}, {"apiVersion", "v1"}, {"propagationPolicy", propagation_policy}};
    return call("DELETE", resource_path(r, ns, name), options.dump());
}

Result Client::patch(const Resource& r, const std::string& ns, const std::string& name,
                     PatchType type, const json& patch, const std::string& subresource) {
    const char* content_type = type == PatchType::Merge ? "application/merge-patch+json"
                               : type == PatchType::StrategicMerge
                                   ? "application/strategic-merge-patch+json"
                                   : "application/json-patch+json";
    return call("PATCH", resource_path(r, ns, name, subresource), patch.dump(), content_type);
}

Result Client::patch_status(const Resource& r, const std::string& ns, const std::string& name,
                            const json& merge_patch) {
    return patch(r, ns, name, PatchType::Merge, merge_patch, "status");
}

Result Client::apply(const Resource& r, const std::string& ns, const json& object,
                     const std::string& field_manager, bool force) {
    std::string target =
        resource_path(r, ns, name_of(object)) + "?fieldManager=" + url_encode(field_manager);
    if (force)
        target += "&force=true";
    return call("PATCH", target, object.dump(), "application/apply-patch+yaml");
}

Result Client::get_path(const std::string& path) {
    return call("GET", path, "");
}

Result Client::update_with_retry(const Resource& r, const std::string& ns, const std::string& name,
                                 const std::function<bool(json&)>& mutate, int attempts) {
    Result last;
    for (int i = 0; i < attempts; ++i) {
        last = get(r, ns, name);
        if (!last.ok())
            return last;
        json object = last.body;
        if (!mutate(object))
            return last;
        last = update(r, ns, object);
        if (!last.conflict())
            return last;
    }
    return last;
}

WatchEnd Client::watch(const Resource& r, const std::string& ns, const ListOptions& options,
                       const std::string& resource_version, int timeout_seconds,
                       const std::function<bool(const WatchEvent&)>& on_event,
                       std::stop_token stop) {
    std::string target = resource_path(r, ns) + query(options);
    target += target.find('?') == std::string::npos ? "?" : "&";
    target += "watch=1&allowWatchBookmarks=true&timeoutSeconds=" + std::to_string(timeout_seconds) +
              "&resourceVersion=" + url_encode(resource_version);
    WatchEnd end;
    end.last_resource_version = resource_version;
    HttpResponse response = transport_->stream_lines(
        {"GET", target, "", "application/json"},
        [&](std::string_view line) {
            WatchEvent event = parse_watch_line(line);
            if (event.type == WatchEvent::Type::Invalid)
                return true;  // skip, keep reading
            if (is_gone(event)) {
                end.gone = true;
                return false;
            }
            if (event.type == WatchEvent::Type::Error) {
                end.error = event.object.value("message", std::string("watch error event"));
                return false;
            }
            const std::string rv =
                event.object.value("/metadata/resourceVersion"_json_pointer, std::string());
            if (!rv.empty())
                end.last_resource_version = rv;
            if (event.type == WatchEvent::Type::Bookmark)
                return true;
            return on_event(event);
        },
        stop);
    end.http_status = response.status;
    if (!response.error.empty())
        end.error = response.error;
    if (response.status >= 300 && end.error.empty()) {
        end.error = "watch answered HTTP " + std::to_string(response.status);
    }
    return end;
}

std::optional<std::string> Client::served_version(const std::string& group,
                                                  const std::vector<std::string>& candidates) {
    Result result = get_path("/apis/" + group);
    if (!result.ok() || !result.body.contains("versions"))
        return std::nullopt;
    for (const auto& candidate : candidates) {
        for (const auto& served : result.body["versions"]) {
            if (served.value("version", std::string()) == candidate)
                return candidate;
        }
    }
    return std::nullopt;
}

}  // namespace annal::kube
