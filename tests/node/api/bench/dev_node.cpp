// A minimal node for trying the API by hand and checking docs/API.md without the CLI:
//   annal_api_devnode [config.yaml] [--port N] [--data-dir DIR] [--no-fsync]
// (the real entry point is `annal node`, which owns every flag).
#include <cstdlib>
#include <iostream>
#include <string>

#include "api/node_config.hpp"
#include "api/node_runner.hpp"

int main(int argc, char** argv) {
    annal::api::NodeConfig config;
    for (int i = 1; i < argc; ++i) {
        const std::string arg = argv[i];
        if (arg == "--port" && i + 1 < argc) {
            config.listen_port = static_cast<std::uint16_t>(std::atoi(argv[++i]));
        } else if (arg == "--data-dir" && i + 1 < argc) {
            config.data_dir = argv[++i];
        } else if (arg == "--no-fsync") {
            config.fsync = false;
        } else {
            std::string error;
            if (!annal::api::load_node_config(arg, config, error)) {
                std::cerr << error << std::endl;
                return 2;
            }
        }
    }
    return annal::api::run_node(config);
}
