#include "op/reconciler.hpp"

#include <algorithm>

#include "kube/time_format.hpp"
#include "op/cluster_certificates.hpp"
#include "op/conditions.hpp"
#include "op/desired_objects.hpp"
#include "op/logger.hpp"
#include "op/metrics.hpp"

namespace annal::op {
namespace {

using nlohmann::json;
namespace res = kube::resources;
using namespace std::chrono_literals;

constexpr std::chrono::milliseconds kMembershipRecheck = 10000ms;

std::string now_text() {
    return kube::format_time(std::chrono::system_clock::now());
}

std::string rv_of(const json& object) {
    return object.value("/metadata/resourceVersion"_json_pointer, std::string());
}

bool owned_by(const json& object, const std::string& uid) {
    const json refs = object.value("/metadata/ownerReferences"_json_pointer, json::array());
    return std::any_of(refs.begin(), refs.end(),
                       [&](const json& r) { return r.value("uid", std::string()) == uid; });
}

// Leader changes and lag show up in no watched object, so a cluster whose members are
// observed is looked at again periodically.
std::chrono::milliseconds membership_requeue(const Observation& observed,
                                             std::chrono::milliseconds requeue) {
    if (!observed.membership)
        return requeue;
    return requeue == 0ms ? kMembershipRecheck : std::min(requeue, kMembershipRecheck);
}

// Spec changes bump metadata.generation; objects without one (Services, ConfigMaps) are
// compared by resourceVersion, which only our apply changes for them. (A StatefulSet's
// resourceVersion also moves with its status, written by its controller at any time.)
bool changed_by_apply(const json& before, const json& after) {
    const auto generation = "/metadata/generation"_json_pointer;
    if (before.contains(generation) && after.contains(generation)) {
        return before[generation] != after[generation];
    }
    return rv_of(before) != rv_of(after);
}

}  // namespace

Reconciler::Reconciler(kube::Client& client, EventRecorder& events, MembershipSource& membership,
                       std::string pdb_api_version)
    : client_(client),
      events_(events),
      membership_(membership),
      pdb_api_version_(std::move(pdb_api_version)) {}

Reconciler::Applied Reconciler::apply_owned(const json& cr, const ClusterSpec& c,
                                            const kube::Resource& resource, const json& desired) {
    Applied out;
    const std::string name = desired["metadata"]["name"].get<std::string>();
    const std::string what = resource.kind + " " + name;
    kube::Result before = client_.get(resource, c.ns, name);
    if (!before.ok() && !before.not_found()) {
        out.error = "reading " + what + ": " + before.message();
        return out;
    }
    // Never take over an object someone else created under our name.
    if (before.ok() && !owned_by(before.body, c.uid)) {
        out.error = what + " exists and is not owned by this AnnalCluster";
        return out;
    }
    kube::Result applied = client_.apply(resource, c.ns, desired, kFieldManager, true);
    metrics().add("annal_operator_apply_total{kind=\"" + resource.kind + "\"}");
    if (!applied.ok()) {
        out.error = "applying " + what + ": " + applied.message();
        return out;
    }
    out.ok = true;
    out.object = applied.body;
    if (before.not_found()) {
        std::string detail;
        if (resource.kind == "StatefulSet") {
            detail = " with " + std::to_string(c.replicas) + " replicas";
        }
        events_.record(cr, "Normal", "Created", "Created " + what + detail);
    } else if (changed_by_apply(before.body, applied.body)) {
        const int old_replicas = before.body.value("/spec/replicas"_json_pointer, -1);
        if (resource.kind == "StatefulSet" && old_replicas != c.replicas) {
            events_.record(cr, "Normal", "Scaled",
                           "Scaled " + what + " from " + std::to_string(old_replicas) + " to " +
                               std::to_string(c.replicas) + " replicas because spec.replicas is " +
                               std::to_string(c.replicas));
        } else {
            events_.record(cr, "Normal", "Updated",
                           "Updated " + what + " to match the AnnalCluster spec");
        }
    }
    return out;
}

bool Reconciler::ensure_finalizer(const ClusterSpec& c, bool wanted) {
    const bool present =
        std::find(c.finalizers.begin(), c.finalizers.end(), kVolumeFinalizer) != c.finalizers.end();
    if (present == wanted)
        return true;
    kube::Result r =
        client_.update_with_retry(res::annal_clusters(), c.ns, c.name, [wanted](json& object) {
            json& list = object["metadata"]["finalizers"];
            if (!list.is_array())
                list = json::array();
            auto it = std::find(list.begin(), list.end(), json(kVolumeFinalizer));
            if (wanted == (it != list.end()))
                return false;
            if (wanted) {
                list.push_back(kVolumeFinalizer);
            } else {
                list.erase(it);
            }
            return true;
        });
    return r.ok();
}

bool Reconciler::delete_removed_volumes(const json& cr, const ClusterSpec& c, std::string& error) {
    const kube::ListOptions by_cluster{selector_string(c), {}};
    kube::Result pvcs = client_.list(res::persistent_volume_claims(), c.ns, by_cluster);
    kube::Result pods = client_.list(res::pods(), c.ns, by_cluster);
    if (!pvcs.ok() || !pods.ok()) {
        error = "listing volumes and pods: " + (pvcs.ok() ? pods.message() : pvcs.message());
        return false;
    }
    bool waiting = false;
    for (const auto& pvc : pvcs.body["items"]) {
        const std::string name = pvc["metadata"].value("name", std::string());
        const int ordinal = pvc_ordinal(c, name);
        if (ordinal < c.replicas)
            continue;  // also skips -1: not one of ours
        if (pvc["metadata"].contains("deletionTimestamp"))
            continue;
        const std::string pod_name = stateful_set_name(c) + "-" + std::to_string(ordinal);
        const bool pod_exists =
            std::any_of(pods.body["items"].begin(), pods.body["items"].end(),
                        [&](const json& p) { return p["metadata"]["name"] == pod_name; });
        // The pod still runs (or terminates) on this volume: come back when it is gone.
        if (pod_exists) {
            waiting = true;
            continue;
        }
        kube::Result removed =
            client_.remove(res::persistent_volume_claims(), c.ns, name, "Background");
        if (removed.ok() || removed.not_found()) {
            events_.record(cr, "Normal", "DeletedVolume",
                           "Deleted PersistentVolumeClaim " + name + " of removed member " +
                               std::to_string(ordinal) + " (storage.onScaleDown is Delete)");
        } else {
            error = "deleting PersistentVolumeClaim " + name + ": " + removed.message();
        }
    }
    return waiting;
}

bool Reconciler::ensure_certificates(const json& cr, const ClusterSpec& c, std::string& revision,
                                     std::string& error) {
    const auto now = clock_();
    auto read_owned = [&](const std::string& name, json& out) {
        kube::Result got = client_.get(res::secrets(), c.ns, name);
        if (!got.ok() && !got.not_found()) {
            error = "reading Secret " + name + ": " + got.message();
            return false;
        }
        // Never take over (or overwrite) a Secret someone else created under our name.
        if (got.ok() && !owned_by(got.body, c.uid)) {
            error = "Secret " + name + " exists and is not owned by this AnnalCluster";
            return false;
        }
        out = got.ok() ? got.body : json();
        return true;
    };
    json ca_object;
    if (!read_owned(ca_secret_name(c), ca_object))
        return false;
    std::optional<PemKeyPair> ca = ca_from_secret(ca_object);
    const CaVerdict ca_verdict = check_ca(ca, now);
    if (ca_verdict != CaVerdict::Valid) {
        ca = create_certificate_authority(ca_common_name(c), now, kCaValidity, error);
        if (!ca)
            return false;
        Applied applied = apply_owned(cr, c, res::secrets(), ca_secret(c, *ca));
        if (!applied.ok) {
            error = applied.error;
            return false;
        }
        events_.record(cr, "Normal", "CreatedCertificateAuthority",
                       "Created the cluster CA in Secret " + ca_secret_name(c) +
                           " (previous CA: " + to_string(ca_verdict) + ")");
    }
    json node_object;
    if (!read_owned(tls_secret_name(c), node_object))
        return false;
    const NodeCertificateVerdict verdict = check_node_certificate(c, node_object, *ca, now);
    if (verdict != NodeCertificateVerdict::Valid) {
        auto issued = issue_certificate(*ca, node_certificate_request(c, now), error);
        if (!issued)
            return false;
        Applied applied =
            apply_owned(cr, c, res::secrets(), tls_secret(c, *issued, ca->certificate));
        if (!applied.ok) {
            error = applied.error;
            return false;
        }
        node_object = applied.object;
        events_.record(cr, "Normal", "IssuedCertificate",
                       "Issued the node certificate in Secret " + tls_secret_name(c) + " for " +
                           std::to_string(c.replicas) +
                           " members (previous certificate: " + to_string(verdict) + ")");
        log::info("issued node certificate", {{"namespace", c.ns},
                                              {"name", c.name},
                                              {"reason", to_string(verdict)},
                                              {"replicas", c.replicas}});
    }
    revision = tls_revision(node_object);
    return true;
}

ReconcileResult Reconciler::handle_deletion(const json& cr, const ClusterSpec& c) {
    const bool has_finalizer =
        std::find(c.finalizers.begin(), c.finalizers.end(), kVolumeFinalizer) != c.finalizers.end();
    if (!has_finalizer)
        return {};  // garbage collection removes the owned objects
    if (c.on_delete == VolumePolicy::Delete) {
        // Delete the StatefulSet first and wait for its pods: deleting volumes under live
        // pods could let the StatefulSet controller recreate them.
        kube::Result sts = client_.get(res::stateful_sets(), c.ns, stateful_set_name(c));
        if (sts.ok() && !sts.body["metadata"].contains("deletionTimestamp")) {
            client_.remove(res::stateful_sets(), c.ns, stateful_set_name(c), "Background");
            events_.record(cr, "Normal", "DeletingVolumes",
                           "Deleting StatefulSet " + stateful_set_name(c) +
                               " before its volumes (storage.onDelete is Delete)");
        }
        const kube::ListOptions by_cluster{selector_string(c), {}};
        kube::Result pods = client_.list(res::pods(), c.ns, by_cluster);
        if (!pods.ok())
            return {false, "listing pods: " + pods.message(), 0ms};
        if (!pods.body["items"].empty())
            return {true, "", 1000ms};
        kube::Result pvcs = client_.list(res::persistent_volume_claims(), c.ns, by_cluster);
        if (!pvcs.ok())
            return {false, "listing volumes: " + pvcs.message(), 0ms};
        for (const auto& pvc : pvcs.body["items"]) {
            const std::string name = pvc["metadata"].value("name", std::string());
            if (pvc_ordinal(c, name) < 0)
                continue;
            kube::Result removed =
                client_.remove(res::persistent_volume_claims(), c.ns, name, "Background");
            if (!removed.ok() && !removed.not_found()) {
                return {false, "deleting " + name + ": " + removed.message(), 0ms};
            }
            log::info("deleted volume", {{"namespace", c.ns}, {"pvc", name}});
        }
    }
    if (!ensure_finalizer(c, false))
        return {false, "cannot remove the finalizer", 0ms};
    log::info("finalized", {{"namespace", c.ns}, {"name", c.name}});
    return {};
}

ReconcileResult Reconciler::finish(const json& cr, const ClusterSpec& c, Observation observed,
                                   std::chrono::milliseconds requeue_after) {
    const json previous = cr.value("status", json::object());
    json status = compute_status(c, observed, previous, now_text());
    ReconcileResult result;
    result.ok = observed.reconcile_error.empty();
    result.error = observed.reconcile_error;
    result.requeue_after = requeue_after;
    if (status != previous) {
        json patch = status;
        // A merge patch keeps keys it does not mention; null removes them.
        for (const auto& [key, value] : previous.items()) {
            if (!status.contains(key))
                patch[key] = nullptr;
        }
        kube::Result patched =
            client_.patch_status(res::annal_clusters(), c.ns, c.name, json{{"status", patch}});
        if (!patched.ok() && !patched.not_found()) {
            result.ok = false;
            result.error = "updating status: " + patched.message();
        }
    }
    // Keep watching progress even if no watched object changes (e.g. pods coming up).
    const json progressing = find_condition(status["conditions"], "Progressing");
    if (result.ok && result.requeue_after == 0ms && progressing.is_object() &&
        progressing.value("status", "") == "True") {
        result.requeue_after = 5000ms;
    }
    return result;
}

ReconcileResult Reconciler::reconcile(const std::string& ns, const std::string& name) {
    kube::Result got = client_.get(res::annal_clusters(), ns, name);
    if (got.not_found())
        return {};  // deleted; owner references clean up the rest
    if (!got.ok())
        return {false, "reading AnnalCluster: " + got.message(), 0ms};
    const json& cr = got.body;
    std::string parse_error;
    auto parsed = parse_cluster(cr, parse_error);
    if (!parsed) {
        events_.record(cr, "Warning", "InvalidSpec", parse_error);
        ClusterSpec minimal;
        minimal.name = name;
        minimal.ns = ns;
        minimal.generation = cr.value("/metadata/generation"_json_pointer, std::int64_t{0});
        Observation observed;
        observed.reconcile_error = parse_error;
        observed.reconcile_error_reason = "InvalidSpec";
        ReconcileResult r = finish(cr, minimal, observed, 0ms);
        r.ok = true;  // retrying cannot help; a spec change will trigger us again
        return r;
    }
    const ClusterSpec& c = *parsed;
    if (c.deleting)
        return handle_deletion(cr, c);

    Observation observed;
    if (c.paused) {
        const json previous = cr.value("status", json::object());
        const json was = find_condition(previous.value("conditions", json()), "Progressing");
        if (!was.is_object() || was.value("reason", "") != "Paused") {
            events_.record(cr, "Normal", "Paused",
                           "spec.paused is true: reconciliation is suspended");
        }
        kube::Result sts = client_.get(res::stateful_sets(), c.ns, stateful_set_name(c));
        if (sts.ok())
            observed.stateful_set = sts.body;
        // Status is still reported while paused: observing the members changes nothing.
        observed.membership = membership_.view(c);
        return finish(cr, c, observed, membership_requeue(observed, 0ms));
    }
    if (!ensure_finalizer(c, c.on_delete == VolumePolicy::Delete)) {
        return {false, "cannot update the finalizer", 0ms};
    }

    std::string tls_revision;
    if (c.tls_mode == TlsMode::OperatorGenerated) {
        step("Certificates");
        std::string error;
        if (!ensure_certificates(cr, c, tls_revision, error)) {
            events_.record(cr, "Warning", "CertificateFailed", error);
            observed.reconcile_error = error;
            observed.reconcile_error_reason = "CertificateFailed";
            kube::Result sts = client_.get(res::stateful_sets(), c.ns, stateful_set_name(c));
            if (sts.ok())
                observed.stateful_set = sts.body;
            return finish(cr, c, observed, 0ms);
        }
    }

    struct Step {
        kube::Resource resource;
        json desired;
    };
    const Step steps[] = {
        {res::config_maps(), config_map(c)},
        {res::services(), headless_service(c)},
        {res::services(), client_service(c)},
        {res::stateful_sets(), stateful_set(c, tls_revision)},
        {res::pod_disruption_budgets(pdb_api_version_), pod_disruption_budget(c, pdb_api_version_)},
    };
    for (const auto& s : steps) {
        step(s.resource.kind);
        Applied applied = apply_owned(cr, c, s.resource, s.desired);
        if (!applied.ok) {
            events_.record(cr, "Warning", "ApplyFailed", applied.error);
            observed.reconcile_error = applied.error;
            observed.reconcile_error_reason = "ApplyFailed";
            kube::Result sts = client_.get(res::stateful_sets(), c.ns, stateful_set_name(c));
            if (sts.ok())
                observed.stateful_set = sts.body;
            return finish(cr, c, observed, 0ms);
        }
        if (s.resource.kind == "StatefulSet")
            observed.stateful_set = applied.object;
    }
    step("Volumes");
    std::chrono::milliseconds requeue = 0ms;
    if (c.on_scale_down == VolumePolicy::Delete) {
        std::string volume_error;
        if (delete_removed_volumes(cr, c, volume_error))
            requeue = 2000ms;
        if (!volume_error.empty()) {
            observed.reconcile_error = volume_error;
            observed.reconcile_error_reason = "VolumeCleanupFailed";
        }
    }
    observed.membership = membership_.view(c);
    step("Status");
    return finish(cr, c, observed, membership_requeue(observed, requeue));
}

}  // namespace annal::op
