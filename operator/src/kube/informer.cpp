#include "kube/informer.hpp"

#include <condition_variable>
#include <mutex>
#include <set>
#include <thread>

namespace annal::kube {
namespace {

// Sleeps up to `duration`, waking early when a stop is requested.
void sleep_for(std::chrono::milliseconds duration, std::stop_token stop) {
    std::mutex m;
    std::condition_variable_any cv;
    std::unique_lock lock(m);
    cv.wait_for(lock, stop, duration, [] { return false; });
}

}  // namespace

std::string object_key(const nlohmann::json& object) {
    return object.value("/metadata/namespace"_json_pointer, std::string()) + "/" +
           object.value("/metadata/name"_json_pointer, std::string());
}

Informer::Informer(Client& client, InformerOptions options, Handler handler)
    : client_(client), options_(std::move(options)), handler_(std::move(handler)) {}

void Informer::apply(WatchEvent::Type type, const nlohmann::json& object) {
    const std::string key = object_key(object);
    if (type == WatchEvent::Type::Deleted) {
        known_.erase(key);
    } else {
        known_[key] = object;
    }
    handler_(type, object);
}

bool Informer::relist(std::string& resource_version) {
    Result result = client_.list(options_.resource, options_.ns, options_.list);
    if (!result.ok())
        return false;
    ++relists_;
    resource_version = result.body.value("/metadata/resourceVersion"_json_pointer, std::string());
    std::set<std::string> seen;
    for (auto& item : result.body["items"]) {
        // List items carry no apiVersion/kind; handlers may want them.
        item["apiVersion"] = options_.resource.api_version;
        item["kind"] = options_.resource.kind;
        seen.insert(object_key(item));
        apply(known_.count(object_key(item)) ? WatchEvent::Type::Modified : WatchEvent::Type::Added,
              item);
    }
    std::vector<nlohmann::json> vanished;
    for (const auto& [key, object] : known_) {
        if (!seen.count(key))
            vanished.push_back(object);
    }
    for (const auto& object : vanished)
        apply(WatchEvent::Type::Deleted, object);
    synced_ = true;
    return true;
}

void Informer::run(std::stop_token stop) {
    std::string resource_version;
    bool need_list = true;
    while (!stop.stop_requested()) {
        try {
            run_once(stop, resource_version, need_list);
        } catch (const std::exception&) {
            // A malformed object from the server: start over from a fresh list.
            need_list = true;
            sleep_for(options_.error_backoff, stop);
        }
    }
}

void Informer::run_once(std::stop_token stop, std::string& resource_version, bool& need_list) {
    if (need_list) {
        if (!relist(resource_version)) {
            sleep_for(options_.error_backoff, stop);
            return;
        }
        need_list = false;
    }
    ++watches_;
    WatchEnd end = client_.watch(
        options_.resource, options_.ns, options_.list, resource_version,
        options_.watch_timeout_seconds,
        [this](const WatchEvent& event) {
            apply(event.type, event.object);
            return true;
        },
        stop);
    if (stop.stop_requested())
        return;
    resource_version = end.last_resource_version;
    switch (decide_after_watch(end)) {
        case AfterWatch::Relist:
            need_list = true;
            break;
        case AfterWatch::RewatchBackoff:
            sleep_for(options_.error_backoff, stop);
            break;
        case AfterWatch::Rewatch:
            break;
    }
}

}  // namespace annal::kube
