// `annal node`: runs a node. Every NodeConfig field is a flag of the same name with
// dashes; `--config FILE` (YAML) is loaded first and flags given on the command line
// override it.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "api/node_config.hpp"

namespace CLI {
class App;
}

namespace annal::cli {

class NodeCommand {
  public:
    // Registers the `node` subcommand and its flags on `parent`.
    explicit NodeCommand(CLI::App& parent);

    CLI::App& command() { return *command_; }
    int run() const;

  private:
    CLI::App* command_ = nullptr;
    std::string config_file_;
    api::NodeConfig flag_values_;
    // One per flag: copies the flag's value into a config when it was given.
    std::vector<std::function<void(api::NodeConfig&)>> overrides_;
};

}  // namespace annal::cli
