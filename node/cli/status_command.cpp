#include "cli/status_command.hpp"

#include <iostream>
#include <nlohmann/json.hpp>

#include "cli/exit_code.hpp"
#include "cli/text_table.hpp"
#include "client/client.hpp"

namespace annal::cli {

int run_status(const GlobalOptions& global) {
    std::string error;
    const auto endpoint = client::Endpoint::parse(global.server, error);
    if (!endpoint) {
        return report_usage_error(error);
    }
    client::Client client(*endpoint, global.client_options());
    auto status = client.status();
    if (!status) {
        return report_error("status of " + endpoint->to_url(), status.error());
    }
    if (global.json) {
        std::cout << status.value().raw_json << '\n';
        return kExitOk;
    }
    TextTable table({"FIELD", "VALUE"});
    table.add_row({"server", endpoint->to_url()});
    // Every scalar the node reports, nested objects flattened as "store.map_bytes".
    const auto add_fields = [&table](const auto& self, const nlohmann::json& object,
                                     const std::string& prefix) -> void {
        for (const auto& [key, value] : object.items()) {
            if (value.is_object()) {
                self(self, value, prefix + key + ".");
            } else {
                table.add_row({prefix + key, value.is_string() ? value.template get<std::string>()
                                                               : value.dump()});
            }
        }
    };
    add_fields(add_fields, nlohmann::json::parse(status.value().raw_json), "");
    table.print(std::cout);
    return kExitOk;
}

}  // namespace annal::cli
