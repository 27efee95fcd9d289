// The /admin/ endpoints of ApiHandler (docs/API.md "Cluster administration").
#include <charconv>
#include <nlohmann/json.hpp>

#include "api/api_handler.hpp"
#include "api/json_writer.hpp"
#include "api/query_params.hpp"

namespace annal::api {
namespace {

using nlohmann::json;

constexpr std::string_view kMembersPath = "/admin/members";

ApiError bad_request(std::string message) {
    return ApiError{400, "bad_request", std::move(message), false, std::nullopt};
}

std::optional<std::uint64_t> parse_id(std::string_view text) {
    std::uint64_t value = 0;
    const auto [end, status] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (text.empty() || status != std::errc() || end != text.data() + text.size() || value == 0) {
        return std::nullopt;
    }
    return value;
}

Reply refused_standalone() {
    Reply reply;
    reply.status = 409;
    reply.body =
        R"({"error":"refused","reason":"standalone","message":"this node runs standalone (no initial_cluster); cluster administration needs a replicated node"})";
    return reply;
}

Reply method_not_allowed(std::string_view allow) {
    Reply reply = ApiHandler::error_reply(
        ApiError{405, "method_not_allowed", "use " + std::string(allow), false, std::nullopt});
    reply.allow = allow;
    return reply;
}

std::string cluster_json(const std::string& cluster_id, const ClusterStatus& status) {
    json members = json::array();
    for (const auto& member : status.members) {
        members.push_back({{"id", member.id},
                           {"address", member.address},
                           {"role", member.role},
                           {"voter", member.voter},
                           {"healthy", member.healthy},
                           {"match_index", member.match_index},
                           {"lag", member.lag}});
    }
    const json body = {{"mode", "cluster"},
                       {"cluster_id", cluster_id},
                       {"self", status.self},
                       {"leader", status.leader},
                       {"leader_address", status.leader_address},
                       {"term", status.term},
                       {"role", status.role},
                       {"commit_index", status.commit_index},
                       {"applied_index", status.applied_index},
                       {"last_index", status.last_index},
                       {"first_index", status.first_index},
                       {"change_pending", status.change_pending},
                       {"members", std::move(members)}};
    return body.dump();
}

// Parses a JSON object body; an empty body counts as {}.
std::optional<json> object_body(std::string_view body, ApiError& error) {
    if (body.find_first_not_of(" \t\r\n") == std::string_view::npos) {
        return json::object();
    }
    json parsed = json::parse(body, nullptr, false);
    if (parsed.is_discarded() || !parsed.is_object()) {
        error = ApiError{400, "malformed_json", "expected a JSON object", false, std::nullopt};
        return std::nullopt;
    }
    return parsed;
}

}  // namespace

Reply ApiHandler::admin_reply(const AdminOutcome& outcome, std::string_view target) {
    using Status = AdminOutcome::Status;
    switch (outcome.status) {
        case Status::Ok: {
            Reply reply;
            reply.body = "{\"ok\":true,\"message\":";
            append_json_string(outcome.message.empty() ? "done" : outcome.message, reply.body);
            reply.body.push_back('}');
            return reply;
        }
        case Status::NotLeader:
            return not_leader_reply(outcome.leader_hint, outcome.leader_id, target,
                                    outcome.message);
        case Status::NoLeader:
            return not_leader_reply({}, 0, target, outcome.message);
        case Status::Refused: {
            Reply reply;
            reply.status = 409;
            reply.body = "{\"error\":\"refused\",\"reason\":";
            append_json_string(outcome.reason, reply.body);
            reply.body.append(",\"message\":");
            append_json_string(outcome.message, reply.body);
            reply.body.push_back('}');
            return reply;
        }
        case Status::BadRequest:
            return error_reply(bad_request(outcome.message));
        case Status::Timeout:
            return error_reply(ApiError{
                504, "timeout",
                outcome.message.empty() ? "the change was not committed in time" : outcome.message,
                false, std::nullopt});
        case Status::ShuttingDown:
            break;
    }
    return error_reply(
        ApiError{503, "shutting_down", "the node is shutting down", false, std::nullopt});
}

Routed ApiHandler::admin(std::string_view method, std::string_view path, std::string_view query,
                         std::string_view body) const {
    if (path == "/admin/cluster") {
        if (method != "GET") {
            return method_not_allowed("GET");
        }
        if (cluster_ == nullptr) {
            Reply reply;
            reply.body = "{\"mode\":\"standalone\",\"head_position\":";
            append_json_uint(store_.head_position(), reply.body);
            reply.body.push_back('}');
            return reply;
        }
        Reply reply;
        reply.body = cluster_json(cluster_->cluster_id(), cluster_->status());
        return reply;
    }
    if (path == "/admin/digest") {
        if (method != "GET") {
            return method_not_allowed("GET");
        }
        if (cluster_ == nullptr) {
            return refused_standalone();
        }
        std::string bad_name;
        const auto params = QueryParams::parse(query, bad_name);
        std::uint64_t upto = store_.head_position();
        if (const auto text = params ? params->get("upto") : std::nullopt) {
            const auto value = parse_id(*text);
            if (!value) {
                return error_reply(ApiError{400, "invalid_parameter",
                                            "query parameter 'upto' must be an integer >= 1", false,
                                            std::nullopt});
            }
            upto = std::min(*value, upto);
        }
        Reply reply;
        reply.body = "{\"upto\":";
        append_json_uint(upto, reply.body);
        reply.body.append(",\"digest\":");
        append_json_string(cluster_->log_digest(upto), reply.body);
        reply.body.push_back('}');
        return reply;
    }
    if (path == "/admin/leader/transfer") {
        if (method != "POST") {
            return method_not_allowed("POST");
        }
        if (cluster_ == nullptr) {
            return refused_standalone();
        }
        ApiError error;
        const auto parsed = object_body(body, error);
        if (!parsed) {
            return error_reply(error);
        }
        std::uint64_t to = 0;
        if (const auto it = parsed->find("to"); it != parsed->end() && !it->is_null()) {
            if (!it->is_number_unsigned() || it->get<std::uint64_t>() == 0) {
                return error_reply(bad_request("'to' must be a node id >= 1 (or absent: any)"));
            }
            to = it->get<std::uint64_t>();
        }
        return AdminJob{[cluster = cluster_, to](AdminDone done) {
            cluster->transfer_leadership(to, std::move(done));
        }};
    }
    if (path == kMembersPath) {
        if (method != "POST") {
            return method_not_allowed("POST");
        }
        if (cluster_ == nullptr) {
            return refused_standalone();
        }
        ApiError error;
        const auto parsed = object_body(body, error);
        if (!parsed) {
            return error_reply(error);
        }
        const auto id = parsed->find("id");
        const auto address = parsed->find("address");
        if (id == parsed->end() || !id->is_number_unsigned() || id->get<std::uint64_t>() == 0) {
            return error_reply(bad_request("'id' must be a node id >= 1"));
        }
        if (address == parsed->end() || !address->is_string() ||
            address->get<std::string>().find(':') == std::string::npos) {
            return error_reply(bad_request("'address' must be \"host:port\""));
        }
        return AdminJob{[cluster = cluster_, node = id->get<std::uint64_t>(),
                         where = address->get<std::string>()](AdminDone done) {
            cluster->add_learner(node, where, std::move(done));
        }};
    }
    if (path.substr(0, kMembersPath.size() + 1) == std::string(kMembersPath) + "/") {
        std::string_view rest = path.substr(kMembersPath.size() + 1);
        const bool promote = rest.size() > 8 && rest.substr(rest.size() - 8) == "/promote";
        if (promote) {
            rest.remove_suffix(8);
        }
        const auto id = parse_id(rest);
        if (!id) {
            return error_reply(ApiError{404, "not_found", "no route for " + std::string(path),
                                        false, std::nullopt});
        }
        if (promote ? method != "POST" : method != "DELETE") {
            return method_not_allowed(promote ? "POST" : "DELETE");
        }
        if (cluster_ == nullptr) {
            return refused_standalone();
        }
        if (promote) {
            return AdminJob{[cluster = cluster_, node = *id](AdminDone done) {
                cluster->promote(node, std::move(done));
            }};
        }
        return AdminJob{[cluster = cluster_, node = *id](AdminDone done) {
            cluster->remove_member(node, std::move(done));
        }};
    }
    return error_reply(
        ApiError{404, "not_found", "no route for " + std::string(path), false, std::nullopt});
}

}  // namespace annal::api
