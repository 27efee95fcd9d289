#include "op/controller.hpp"

#include <condition_variable>
#include <mutex>
#include <set>
#include <thread>
#include <vector>

#include "kube/informer.hpp"
#include "op/logger.hpp"
#include "op/metrics.hpp"

namespace annal::op {
namespace {

using nlohmann::json;

std::pair<std::string, std::string> split_key(const std::string& key) {
    const auto slash = key.find('/');
    return {key.substr(0, slash), key.substr(slash + 1)};
}

}  // namespace

std::string owner_key(const json& object) {
    if (!object.is_object() || !object.contains("metadata"))
        return {};
    const json& meta = object["metadata"];
    const std::string ns = meta.value("namespace", std::string());
    if (object.value("kind", std::string()) == "AnnalCluster") {
        return ns + "/" + meta.value("name", std::string());
    }
    for (const auto& ref : meta.value("ownerReferences", json::array())) {
        if (ref.value("kind", std::string()) == "AnnalCluster" &&
            ref.value("apiVersion", std::string()).rfind("annal.dev/", 0) == 0 &&
            ref.value("controller", false)) {
            return ns + "/" + ref.value("name", std::string());
        }
    }
    const json labels = meta.value("labels", json::object());
    if (labels.value("app.kubernetes.io/name", std::string()) == "annal" &&
        labels.contains("app.kubernetes.io/instance")) {
        return ns + "/" + labels["app.kubernetes.io/instance"].get<std::string>();
    }
    return {};
}

Controller::Controller(kube::Client& client, Reconciler& reconciler, ControllerOptions options)
    : client_(client),
      reconciler_(reconciler),
      options_(std::move(options)),
      queue_(options_.backoff) {}

void Controller::work() {
    while (auto key = queue_.get()) {
        const auto [ns, name] = split_key(*key);
        const auto started = std::chrono::steady_clock::now();
        ReconcileResult result;
        try {
            result = reconciler_.reconcile(ns, name);
        } catch (const std::exception& e) {
            // An object of an unexpected shape must cost one retry, not the worker thread.
            result = {false, std::string("unexpected: ") + e.what(), {}};
        }
        const double seconds =
            std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
        metrics().add("annal_operator_reconcile_seconds_sum", seconds);
        if (result.ok) {
            metrics().add("annal_operator_reconcile_total{result=\"success\"}");
            queue_.forget(*key);
            if (result.requeue_after.count() > 0)
                queue_.add_after(*key, result.requeue_after);
        } else {
            metrics().add("annal_operator_reconcile_total{result=\"error\"}");
            const auto delay = queue_.add_rate_limited(*key);
            log::warn("reconcile failed",
                      {{"key", *key}, {"error", result.error}, {"retry_in_ms", delay.count()}});
        }
        metrics().set("annal_operator_queue_depth", static_cast<double>(queue_.depth()));
        queue_.done(*key);
    }
}

void Controller::run(std::stop_token stop) {
    std::mutex known_mutex;
    std::set<std::string> known_clusters;
    auto enqueue_owner = [this](kube::WatchEvent::Type, const json& object) {
        const std::string key = owner_key(object);
        if (!key.empty())
            queue_.add(key);
    };
    auto on_cluster = [&](kube::WatchEvent::Type type, const json& object) {
        const std::string key = owner_key(object);
        {
            std::lock_guard lock(known_mutex);
            if (type == kube::WatchEvent::Type::Deleted) {
                known_clusters.erase(key);
            } else {
                known_clusters.insert(key);
            }
        }
        if (type != kube::WatchEvent::Type::Deleted)
            queue_.add(key);
    };
    const kube::ListOptions owned{"app.kubernetes.io/managed-by=annal-operator", {}};
    const kube::ListOptions pods{"app.kubernetes.io/name=annal", {}};
    auto options_for = [this](kube::Resource r, kube::ListOptions l) {
        return kube::InformerOptions{std::move(r), options_.watch_namespace, std::move(l),
                                     options_.watch_timeout_seconds,
                                     std::chrono::milliseconds(1000)};
    };
    std::vector<std::unique_ptr<kube::Informer>> informers;
    informers.push_back(std::make_unique<kube::Informer>(
        client_, options_for(kube::resources::annal_clusters(), {}), on_cluster));
    for (auto r : {kube::resources::stateful_sets(), kube::resources::services(),
                   kube::resources::config_maps(), kube::resources::secrets(),
                   kube::resources::pod_disruption_budgets(options_.pdb_api_version)}) {
        informers.push_back(
            std::make_unique<kube::Informer>(client_, options_for(r, owned), enqueue_owner));
    }
    informers.push_back(std::make_unique<kube::Informer>(
        client_, options_for(kube::resources::pods(), pods), enqueue_owner));

    std::stop_source stop_all;
    std::stop_callback forward(stop, [&] {
        stop_all.request_stop();
        queue_.shut_down();
    });
    {
        std::vector<std::jthread> threads;
        for (auto& informer : informers) {
            threads.emplace_back(
                [&informer, token = stop_all.get_token()] { informer->run(token); });
        }
        for (int i = 0; i < options_.workers; ++i)
            threads.emplace_back([this] { work(); });
        // Periodic resync: a safety net for anything a watch could have missed.
        threads.emplace_back([&, token = stop_all.get_token()] {
            std::mutex m;
            std::condition_variable_any cv;
            std::unique_lock lock(m);
            while (true) {
                cv.wait_for(lock, token, options_.resync, [] { return false; });
                if (token.stop_requested())
                    break;
                std::lock_guard known_lock(known_mutex);
                for (const auto& key : known_clusters)
                    queue_.add(key);
            }
        });
        log::info("controller started", {{"namespace", options_.watch_namespace},
                                         {"workers", options_.workers},
                                         {"pdb_api_version", options_.pdb_api_version}});
        // jthreads join here, after the stop callback shut the queue and the watches down.
        std::mutex m;
        std::condition_variable_any cv;
        std::unique_lock lock(m);
        cv.wait(lock, stop, [] { return false; });
    }
    log::info("controller stopped");
}

}  // namespace annal::op
