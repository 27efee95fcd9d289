#include "cli/cluster_command.hpp"

#include <iostream>
#include <nlohmann/json.hpp>

#include "cli/exit_code.hpp"
#include "cli/text_table.hpp"
#include "client/client.hpp"

namespace annal::cli {
namespace {

using nlohmann::json;

std::string text_of(const json& value) {
    return value.is_string() ? value.get<std::string>() : value.dump();
}

int print_status(const json& view, bool as_json) {
    if (as_json) {
        std::cout << view.dump() << '\n';
        return kExitOk;
    }
    if (view.value("mode", "") != "cluster") {
        std::cout << "standalone node (no cluster), head position "
                  << text_of(view.value("head_position", json(0))) << '\n';
        return kExitOk;
    }
    std::cout << "cluster " << text_of(view["cluster_id"]) << ": leader " << text_of(view["leader"])
              << " (" << text_of(view["leader_address"]) << "), term " << text_of(view["term"])
              << ", commit " << text_of(view["commit_index"])
              << (view.value("change_pending", false) ? ", membership change pending" : "") << "\n";
    TextTable table({"ID", "ADDRESS", "ROLE", "VOTER", "HEALTHY", "MATCH", "LAG"});
    for (const auto& member : view["members"]) {
        table.add_row({text_of(member["id"]), text_of(member["address"]), text_of(member["role"]),
                       member.value("voter", false) ? "yes" : "no",
                       member.value("healthy", false) ? "yes" : "no",
                       text_of(member["match_index"]), text_of(member["lag"])});
    }
    table.print(std::cout);
    return kExitOk;
}

}  // namespace

int run_cluster(const GlobalOptions& global, const ClusterOptions& options) {
    std::string error;
    const auto endpoint = client::Endpoint::parse(global.server, error);
    if (!endpoint) {
        return report_usage_error(error);
    }
    client::Client client(*endpoint, global.client_options());
    std::string method = "POST";
    std::string target;
    std::string body;
    if (options.action == "status") {
        auto reply = client.send("GET", "/admin/cluster", "");
        if (!reply) {
            return report_error("cluster status from " + endpoint->to_url(), reply.error());
        }
        const json view = json::parse(reply.value().body, nullptr, false);
        if (!view.is_object()) {
            return report_usage_error("unreadable /admin/cluster answer");
        }
        return print_status(view, global.json);
    }
    if (options.action == "add-learner") {
        target = "/admin/members";
        body = json{{"id", options.id}, {"address", options.address}}.dump();
    } else if (options.action == "promote") {
        target = "/admin/members/" + std::to_string(options.id) + "/promote";
    } else if (options.action == "remove") {
        method = "DELETE";
        target = "/admin/members/" + std::to_string(options.id);
    } else if (options.action == "transfer") {
        target = "/admin/leader/transfer";
        body = options.id == 0 ? "{}" : json{{"to", options.id}}.dump();
    } else {
        return report_usage_error("unknown cluster action '" + options.action + "'");
    }
    auto reply = client.send(method, target, body);
    if (!reply) {
        return report_error("cluster " + options.action, reply.error());
    }
    if (global.json) {
        std::cout << reply.value().body << '\n';
    } else {
        const json answer = json::parse(reply.value().body, nullptr, false);
        std::cout << "ok: "
                  << (answer.is_object() ? answer.value("message", std::string("done"))
                                         : std::string("done"))
                  << " (answered by " << client.endpoint().to_url() << ")\n";
    }
    return kExitOk;
}

}  // namespace annal::cli
