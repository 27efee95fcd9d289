#include "kube/leader_elector.hpp"

#include <condition_variable>
#include <mutex>

#include "kube/time_format.hpp"

namespace annal::kube {
namespace {

using nlohmann::json;

bool sleep_or_stop(std::chrono::milliseconds duration, std::stop_token stop) {
    std::mutex m;
    std::condition_variable_any cv;
    std::unique_lock lock(m);
    cv.wait_for(lock, stop, duration, [] { return false; });
    return !stop.stop_requested();
}

int whole_seconds(std::chrono::milliseconds d) {
    return std::max(1, static_cast<int>((d.count() + 999) / 1000));
}

}  // namespace

LeaderElector::LeaderElector(Client& client, LeaderElectionConfig config)
    : client_(client), config_(std::move(config)) {}

bool LeaderElector::try_acquire_or_renew() {
    try {
        return try_acquire_or_renew_unguarded();
    } catch (const std::exception&) {
        return false;  // a Lease of an unexpected shape: not ours to hold
    }
}

bool LeaderElector::try_acquire_or_renew_unguarded() {
    const Resource lease = resources::leases();
    const auto now_wall = std::chrono::system_clock::now();
    const std::string now_text = format_micro_time(now_wall);
    Result current = client_.get(lease, config_.lease_namespace, config_.lease_name);
    if (current.not_found()) {
        json object = {
            {"apiVersion", "coordination.k8s.io/v1"},
            {"kind", "Lease"},
            {"metadata", {{"name", config_.lease_name}, {"namespace", config_.lease_namespace}}},
            {"spec",
             {{"holderIdentity", config_.identity},
              {"leaseDurationSeconds", whole_seconds(config_.lease_duration)},
              {"acquireTime", now_text},
              {"renewTime", now_text},
              {"leaseTransitions", 0}}}};
        Result created = client_.create(lease, config_.lease_namespace, object);
        if (!created.ok())
            return false;
        observed_spec_ = created.body["spec"].dump();
        observed_at_ = SteadyClock::now();
        return true;
    }
    if (!current.ok())
        return false;
    json object = current.body;
    json& spec = object["spec"];
    if (spec.is_null())
        spec = json::object();
    const std::string spec_text = spec.dump();
    if (spec_text != observed_spec_) {
        observed_spec_ = spec_text;
        observed_at_ = SteadyClock::now();
    }
    const std::string holder = spec.value("holderIdentity", std::string());
    const bool held_by_other = !holder.empty() && holder != config_.identity;
    if (held_by_other) {
        const auto duration = std::chrono::seconds(spec.value("leaseDurationSeconds", 15));
        if (SteadyClock::now() < observed_at_ + duration)
            return false;
    }
    if (holder != config_.identity) {
        spec["acquireTime"] = now_text;
        spec["leaseTransitions"] = spec.value("leaseTransitions", 0) + (holder.empty() ? 0 : 1);
    }
    spec["holderIdentity"] = config_.identity;
    spec["leaseDurationSeconds"] = whole_seconds(config_.lease_duration);
    spec["renewTime"] = now_text;
    // The resourceVersion we read makes this a compare-and-swap: a 409 means someone
    // else wrote the lease in between, and this round is lost.
    Result updated = client_.update(lease, config_.lease_namespace, object);
    if (!updated.ok())
        return false;
    observed_spec_ = updated.body["spec"].dump();
    observed_at_ = SteadyClock::now();
    return true;
}

bool LeaderElector::acquire(std::stop_token stop) {
    while (!stop.stop_requested()) {
        if (try_acquire_or_renew())
            return true;
        if (!sleep_or_stop(config_.retry_period, stop))
            break;
    }
    return false;
}

bool LeaderElector::hold(std::stop_token stop) {
    auto last_renew = SteadyClock::now();
    while (sleep_or_stop(config_.retry_period, stop)) {
        if (try_acquire_or_renew()) {
            last_renew = SteadyClock::now();
        } else if (SteadyClock::now() - last_renew > config_.renew_deadline) {
            return false;
        }
    }
    return true;
}

void LeaderElector::release() {
    client_.update_with_retry(
        resources::leases(), config_.lease_namespace, config_.lease_name, [this](json& object) {
            json& spec = object["spec"];
            if (spec.value("holderIdentity", std::string()) != config_.identity) {
                return false;
            }
            spec["holderIdentity"] = "";
            spec["leaseDurationSeconds"] = 1;
            spec["renewTime"] = format_micro_time(std::chrono::system_clock::now());
            return true;
        });
}

}  // namespace annal::kube
