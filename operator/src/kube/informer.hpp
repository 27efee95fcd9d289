// List-then-watch for one resource: lists, hands every object to the handler, watches from
// the list's resourceVersion, resumes after a stream ends, and relists after 410 Gone
// (synthesising Deleted for objects that vanished meanwhile). Runs on the caller's thread.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <stop_token>
#include <string>

#include "kube/client.hpp"

namespace annal::kube {

struct InformerOptions {
    Resource resource;
    std::string ns;  // empty: all namespaces
    ListOptions list;
    int watch_timeout_seconds = 300;
    std::chrono::milliseconds error_backoff{1000};
};

class Informer {
  public:
    using Handler = std::function<void(WatchEvent::Type, const nlohmann::json& object)>;
    Informer(Client& client, InformerOptions options, Handler handler);

    void run(std::stop_token stop);
    bool synced() const { return synced_.load(); }
    std::size_t relists() const { return relists_.load(); }
    std::size_t watches() const { return watches_.load(); }

  private:
    void run_once(std::stop_token stop, std::string& resource_version, bool& need_list);
    bool relist(std::string& resource_version);
    void apply(WatchEvent::Type type, const nlohmann::json& object);

    Client& client_;
    InformerOptions options_;
    Handler handler_;
    std::map<std::string, nlohmann::json> known_;  // "ns/name" -> last seen object
    std::atomic<bool> synced_{false};
    std::atomic<std::size_t> relists_{0};
    std::atomic<std::size_t> watches_{0};
};

// "namespace/name" of an object.
std::string object_key(const nlohmann::json& object);

}  // namespace annal::kube
