// Options every `annal` subcommand shares.
#pragma once

#include <string>

#include "client/client.hpp"

namespace annal::cli {

struct GlobalOptions {
    std::string server = "http://127.0.0.1:2113";
    bool json = false;  // machine-readable output instead of tables
    // https:// servers: the CA the server's certificate must chain to (empty: the system's
    // trusted CAs), and an optional client certificate and key (mutual TLS).
    std::string ca_file;
    std::string cert_file;
    std::string key_file;

    client::ClientOptions client_options(client::ClientOptions options = {}) const {
        options.tls_ca_file = ca_file;
        options.tls_cert_file = cert_file;
        options.tls_key_file = key_file;
        return options;
    }
};

}  // namespace annal::cli
