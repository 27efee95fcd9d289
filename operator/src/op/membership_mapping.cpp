#include "op/membership_mapping.hpp"

#include <algorithm>
#include <charconv>
#include <map>

#include "op/desired_objects.hpp"

namespace annal::op {
namespace {

constexpr std::size_t kMaxErrorsInMessage = 3;

std::string join_errors(const std::vector<std::string>& errors) {
    std::string out;
    for (std::size_t i = 0; i < errors.size() && i < kMaxErrorsInMessage; ++i) {
        if (!out.empty())
            out += "; ";
        out += errors[i];
    }
    if (errors.size() > kMaxErrorsInMessage)
        out += "; and " + std::to_string(errors.size() - kMaxErrorsInMessage) + " more";
    return out;
}

}  // namespace

std::string member_pod_name(const ClusterSpec& c, std::uint64_t node_id) {
    return stateful_set_name(c) + "-" + std::to_string(node_id - 1);
}

int member_pod_ordinal(const ClusterSpec& c, const std::string& pod) {
    const std::string prefix = stateful_set_name(c) + "-";
    if (pod.size() <= prefix.size() || pod.compare(0, prefix.size(), prefix) != 0)
        return -1;
    int ordinal = -1;
    const char* last = pod.data() + pod.size();
    auto [end, ec] = std::from_chars(pod.data() + prefix.size(), last, ordinal);
    if (ec != std::errc() || end != last || ordinal < 0)
        return -1;
    return ordinal;
}

MembershipView membership_from_answers(const ClusterSpec& c, const std::vector<MemberPod>& pods,
                                       const std::vector<NodeAnswer>& answers) {
    std::map<std::uint64_t, MemberStatus> by_id;
    auto entry = [&](std::uint64_t id) -> MemberStatus& {
        auto [it, inserted] = by_id.try_emplace(id);
        if (inserted)
            it->second = {member_pod_name(c, id), std::to_string(id), "unknown", false, 0};
        return it->second;
    };
    for (int i = 0; i < c.replicas; ++i)
        entry(static_cast<std::uint64_t>(i) + 1);
    for (const auto& pod : pods) {
        if (pod.ordinal >= 0)
            entry(static_cast<std::uint64_t>(pod.ordinal) + 1);
    }

    // Only views from the node the pod should run count: anything else (a reused IP, a
    // misconfigured node) would attach another node's opinion to this pod.
    std::vector<std::string> errors;
    std::vector<const NodeClusterView*> views;
    for (const auto& answer : answers) {
        if (!answer.view) {
            errors.push_back(answer.pod + ": " + answer.error);
            continue;
        }
        const int ordinal = member_pod_ordinal(c, answer.pod);
        if (ordinal < 0 || answer.view->self != static_cast<std::uint64_t>(ordinal) + 1) {
            errors.push_back(answer.pod + ": answered as node " +
                             std::to_string(answer.view->self));
            continue;
        }
        views.push_back(&*answer.view);
    }
    std::uint64_t newest_term = 0;
    for (const auto* v : views)
        newest_term = std::max(newest_term, v->term);
    const NodeClusterView* leader_view = nullptr;
    const NodeClusterView* naming_view = nullptr;
    for (const auto* v : views) {
        if (v->term != newest_term)
            continue;  // a deposed leader may not know yet
        if (v->role == "leader" && leader_view == nullptr)
            leader_view = v;
        if (v->leader != 0 && naming_view == nullptr)
            naming_view = v;
    }

    MembershipView out;
    if (leader_view != nullptr) {
        for (const auto& m : leader_view->members) {
            MemberStatus& s = entry(m.id);
            const bool self = m.id == leader_view->self;
            s.role = self ? "leader" : m.role;
            s.healthy = m.healthy || self;  // it just answered us
            s.lag = m.lag;
        }
        out.leader = member_pod_name(c, leader_view->self);
    } else if (naming_view != nullptr) {
        std::map<std::string, bool> ready;
        for (const auto& pod : pods)
            ready[pod.name] = pod.ready;
        for (const auto& m : naming_view->members) {
            MemberStatus& s = entry(m.id);
            s.role = m.id == naming_view->leader ? "leader" : m.role;
            s.healthy = ready[s.name];
        }
        out.leader = member_pod_name(c, naming_view->leader);
    } else if (views.empty()) {
        out.problem = "no member answered GET /admin/cluster";
        if (!errors.empty())
            out.problem += " (" + join_errors(errors) + ")";
    } else {
        out.problem = "no member knows a leader (term " + std::to_string(newest_term) + ")";
    }
    for (auto& [id, status] : by_id)
        out.members.push_back(std::move(status));
    return out;
}

}  // namespace annal::op
