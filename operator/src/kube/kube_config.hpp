// How to reach and authenticate to a Kubernetes API server: read from a kubeconfig file
// (the current context) or from the in-cluster service-account mount.
#pragma once

#include <optional>
#include <string>

namespace annal::kube {

struct KubeConfig {
    std::string server;           // https://host:port, no trailing slash
    std::string ca_pem;           // cluster CA; empty means the system trust store
    std::string client_cert_pem;  // client certificate chain (mTLS), optional
    std::string client_key_pem;   // its private key, optional
    std::string token;            // bearer token, optional
    bool insecure_skip_verify = false;
    std::string default_namespace = "default";
};

// Parses kubeconfig YAML text. Relative file paths (client-certificate, ...) are resolved
// against `base_dir`. Returns nullopt and sets `error` when unusable.
std::optional<KubeConfig> parse_kubeconfig(const std::string& yaml_text,
                                           const std::string& base_dir, std::string& error);

// Reads and parses a kubeconfig file.
std::optional<KubeConfig> load_kubeconfig(const std::string& path, std::string& error);

// The in-cluster configuration: KUBERNETES_SERVICE_HOST/PORT and the files under
// `mount_dir` (token, ca.crt, namespace). The token is re-read by the caller if needed.
std::optional<KubeConfig> load_in_cluster(
    std::string& error,
    const std::string& mount_dir = "/var/run/secrets/kubernetes.io/serviceaccount");

// Reads a whole file; nullopt if it cannot be read.
std::optional<std::string> read_text_file(const std::string& path);

}  // namespace annal::kube
