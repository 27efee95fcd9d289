#include "op/node_cluster_view.hpp"

#include <nlohmann/json.hpp>

namespace annal::op {
namespace {

using nlohmann::json;

// Unsigned counters must be non-negative integers; anything else is a broken reply.
bool read_u64(const json& object, const char* key, std::uint64_t& out, bool required) {
    const auto it = object.find(key);
    if (it == object.end())
        return !required;
    if (!it->is_number_unsigned())
        return false;
    out = it->get<std::uint64_t>();
    return true;
}

bool read_member(const json& item, NodeMemberView& member) {
    if (!item.is_object() || !read_u64(item, "id", member.id, true) || member.id == 0 ||
        !read_u64(item, "match_index", member.match_index, false) ||
        !read_u64(item, "lag", member.lag, false)) {
        return false;
    }
    member.address = item.value("address", std::string());
    member.role = item.value("role", std::string());
    member.voter = item.value("voter", false);
    member.healthy = item.value("healthy", false);
    return true;
}

// Throws json::type_error when value() meets a key of another type (caught by the caller).
std::optional<NodeClusterView> parse_or_throw(std::string_view body, std::string& error) {
    const json root = json::parse(body, nullptr, false);
    if (root.is_discarded() || !root.is_object()) {
        error = "the reply is not a JSON object";
        return std::nullopt;
    }
    if (root.value("mode", std::string()) == "standalone") {
        error = "the node runs standalone, not as a cluster member";
        return std::nullopt;
    }
    NodeClusterView view;
    const auto role = root.find("role");
    const auto members = root.find("members");
    if (!read_u64(root, "self", view.self, true) || view.self == 0 ||
        !read_u64(root, "term", view.term, true) || !read_u64(root, "leader", view.leader, false) ||
        !read_u64(root, "commit_index", view.commit_index, false) ||
        !read_u64(root, "applied_index", view.applied_index, false) || role == root.end() ||
        !role->is_string() || members == root.end() || !members->is_array()) {
        error = "the reply lacks self, term, role or members, or has a wrong type in them";
        return std::nullopt;
    }
    view.role = role->get<std::string>();
    view.leader_address = root.value("leader_address", std::string());
    for (const auto& item : *members) {
        NodeMemberView member;
        if (!read_member(item, member)) {
            error = "a member entry lacks its id or has a wrong type";
            return std::nullopt;
        }
        view.members.push_back(std::move(member));
    }
    return view;
}

}  // namespace

std::optional<NodeClusterView> parse_node_cluster_view(std::string_view body, std::string& error) {
    try {
        return parse_or_throw(body, error);
    } catch (const nlohmann::json::exception& e) {
        error = std::string("the reply has a field of the wrong type: ") + e.what();
        return std::nullopt;
    }
}

}  // namespace annal::op
