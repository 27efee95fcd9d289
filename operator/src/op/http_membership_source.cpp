#include "op/http_membership_source.hpp"

#include "kube/base64.hpp"
#include "op/cluster_certificates.hpp"
#include "op/desired_objects.hpp"
#include "op/membership_mapping.hpp"

namespace annal::op {
namespace {

using nlohmann::json;
namespace res = kube::resources;

bool pod_ready(const json& pod) {
    const json conditions = pod.value("/status/conditions"_json_pointer, json::array());
    for (const auto& c : conditions) {
        if (c.value("type", "") == "Ready")
            return c.value("status", "") == "True";
    }
    return false;
}

std::vector<MemberPod> member_pods(const ClusterSpec& c, const json& list) {
    std::vector<MemberPod> pods;
    for (const auto& pod : list.value("items", json::array())) {
        MemberPod p;
        p.name = pod.value("/metadata/name"_json_pointer, std::string());
        p.ordinal = member_pod_ordinal(c, p.name);
        if (p.ordinal < 0)
            continue;
        p.ip = pod.value("/status/podIP"_json_pointer, std::string());
        p.ready = pod_ready(pod);
        pods.push_back(std::move(p));
    }
    return pods;
}

// The CA to trust and the certificate to present: the Secret the pods mount.
bool load_tls(kube::Client& client, const ClusterSpec& c, NodeAdminTls& tls, std::string& error) {
    const std::string name = c.tls_mode == TlsMode::Secret ? c.tls_secret : tls_secret_name(c);
    kube::Result secret = client.get(res::secrets(), c.ns, name);
    if (!secret.ok()) {
        error = "reading Secret " + name + " for the node CA: " + secret.message();
        return false;
    }
    auto field = [&](const char* key) {
        const std::string encoded = secret.body["data"].value(key, std::string());
        return kube::base64_decode(encoded).value_or(std::string());
    };
    tls.ca_pem = field("ca.crt");
    tls.client_cert_pem = field("tls.crt");
    tls.client_key_pem = field("tls.key");
    if (tls.ca_pem.empty()) {
        error = "Secret " + name + " has no ca.crt to verify the nodes with";
        return false;
    }
    return true;
}

}  // namespace

std::optional<MembershipView> HttpMembershipSource::view(const ClusterSpec& c) {
    kube::Result listed =
        client_.list(res::pods(), c.ns, kube::ListOptions{selector_string(c), {}});
    if (!listed.ok()) {
        MembershipView unknown = membership_from_answers(c, {}, {});
        unknown.problem = "cannot list the member pods: " + listed.message();
        return unknown;
    }
    const std::vector<MemberPod> pods = member_pods(c, listed.body);

    NodeAdminTls tls;
    const bool use_tls = c.tls_mode != TlsMode::Disabled;
    if (use_tls) {
        std::string error;
        if (!load_tls(client_, c, tls, error)) {
            MembershipView unknown = membership_from_answers(c, pods, {});
            unknown.problem = error;
            return unknown;
        }
    }
    std::vector<NodeAdminTarget> targets;
    for (const auto& pod : pods) {
        if (pod.ip.empty())
            continue;
        const std::string host =
            pod.ip.find(':') == std::string::npos ? pod.ip : "[" + pod.ip + "]";
        targets.push_back(
            {pod.name,
             (use_tls ? "https://" : "http://") + host + ":" + std::to_string(node_port(c)),
             pod.name + "." + headless_service_name(c) + "." + c.ns + ".svc"});
    }
    const std::vector<NodeAdminReply> replies =
        nodes_.fetch_cluster_views(targets, use_tls ? &tls : nullptr);
    std::vector<NodeAnswer> answers;
    for (std::size_t i = 0; i < targets.size() && i < replies.size(); ++i) {
        NodeAnswer answer;
        answer.pod = targets[i].pod;
        const NodeAdminReply& reply = replies[i];
        if (reply.status == 200) {
            answer.view = parse_node_cluster_view(reply.body, answer.error);
        } else if (reply.status == 0) {
            answer.error = reply.error;
        } else {
            answer.error = "HTTP " + std::to_string(reply.status);
        }
        answers.push_back(std::move(answer));
    }
    return membership_from_answers(c, pods, answers);
}

}  // namespace annal::op
