#include "kube/kube_config.hpp"

#include <yaml-cpp/yaml.h>

#include <cstdlib>
#include <fstream>
#include <sstream>

#include "kube/base64.hpp"

namespace annal::kube {
namespace {

std::string resolve(const std::string& path, const std::string& base_dir) {
    if (path.empty() || path.front() == '/' || base_dir.empty())
        return path;
    return base_dir + "/" + path;
}

YAML::Node find_named(const YAML::Node& list, const std::string& name, const char* field) {
    if (!list || !list.IsSequence())
        return YAML::Node();
    for (const auto& entry : list) {
        if (entry["name"] && entry["name"].as<std::string>() == name)
            return entry[field];
    }
    return YAML::Node();
}

// Reads `<key>-data` (base64) or `<key>` (a file path) from a kubeconfig map.
bool read_pem(const YAML::Node& map, const std::string& key, const std::string& base_dir,
              std::string& out, std::string& error) {
    if (map[key + "-data"]) {
        auto decoded = base64_decode(map[key + "-data"].as<std::string>());
        if (!decoded) {
            error = key + "-data is not valid base64";
            return false;
        }
        out = *decoded;
    } else if (map[key]) {
        const std::string path = resolve(map[key].as<std::string>(), base_dir);
        auto text = read_text_file(path);
        if (!text) {
            error = "cannot read " + key + " file " + path;
            return false;
        }
        out = *text;
    }
    return true;
}

}  // namespace

std::optional<std::string> read_text_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in)
        return std::nullopt;
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
}

std::optional<KubeConfig> parse_kubeconfig(const std::string& yaml_text,
                                           const std::string& base_dir, std::string& error) {
    try {
        const YAML::Node root = YAML::Load(yaml_text);
        if (!root.IsMap()) {
            error = "kubeconfig is not a YAML map";
            return std::nullopt;
        }
        std::string context_name =
            root["current-context"] ? root["current-context"].as<std::string>() : "";
        YAML::Node context;
        if (!context_name.empty()) {
            context = find_named(root["contexts"], context_name, "context");
        } else if (root["contexts"] && root["contexts"].IsSequence() &&
                   root["contexts"].size() > 0) {
            context = root["contexts"][0]["context"];
        }
        if (!context.IsDefined() || !context.IsMap()) {
            error = "kubeconfig has no usable context '" + context_name + "'";
            return std::nullopt;
        }
        const std::string cluster_name =
            context["cluster"] ? context["cluster"].as<std::string>() : "";
        const std::string user_name = context["user"] ? context["user"].as<std::string>() : "";
        const YAML::Node cluster = find_named(root["clusters"], cluster_name, "cluster");
        if (!cluster.IsDefined() || !cluster.IsMap() || !cluster["server"]) {
            error = "kubeconfig cluster '" + cluster_name + "' has no server";
            return std::nullopt;
        }
        KubeConfig config;
        config.server = cluster["server"].as<std::string>();
        while (!config.server.empty() && config.server.back() == '/')
            config.server.pop_back();
        if (context["namespace"])
            config.default_namespace = context["namespace"].as<std::string>();
        if (cluster["insecure-skip-tls-verify"]) {
            config.insecure_skip_verify = cluster["insecure-skip-tls-verify"].as<bool>();
        }
        if (!read_pem(cluster, "certificate-authority", base_dir, config.ca_pem, error)) {
            return std::nullopt;
        }
        const YAML::Node user = find_named(root["users"], user_name, "user");
        if (user && user.IsMap()) {
            if (!read_pem(user, "client-certificate", base_dir, config.client_cert_pem, error) ||
                !read_pem(user, "client-key", base_dir, config.client_key_pem, error)) {
                return std::nullopt;
            }
            if (user["token"]) {
                config.token = user["token"].as<std::string>();
            } else if (user["tokenFile"]) {
                auto token = read_text_file(resolve(user["tokenFile"].as<std::string>(), base_dir));
                if (!token) {
                    error = "cannot read tokenFile";
                    return std::nullopt;
                }
                config.token = *token;
            }
        }
        while (!config.token.empty() &&
               (config.token.back() == '\n' || config.token.back() == '\r')) {
            config.token.pop_back();
        }
        if (config.client_cert_pem.empty() != config.client_key_pem.empty()) {
            error = "kubeconfig user has a client certificate without a key (or the reverse)";
            return std::nullopt;
        }
        return config;
    } catch (const YAML::Exception& e) {
        error = std::string("kubeconfig: ") + e.what();
        return std::nullopt;
    }
}

std::optional<KubeConfig> load_kubeconfig(const std::string& path, std::string& error) {
    auto text = read_text_file(path);
    if (!text) {
        error = "cannot read kubeconfig " + path;
        return std::nullopt;
    }
    const auto slash = path.rfind('/');
    const std::string base_dir = slash == std::string::npos ? "." : path.substr(0, slash);
    return parse_kubeconfig(*text, base_dir, error);
}

std::optional<KubeConfig> load_in_cluster(std::string& error, const std::string& mount_dir) {
    const char* host = std::getenv("KUBERNETES_SERVICE_HOST");
    const char* port = std::getenv("KUBERNETES_SERVICE_PORT");
    if (host == nullptr || port == nullptr) {
        error = "not running in a cluster (KUBERNETES_SERVICE_HOST/PORT unset)";
        return std::nullopt;
    }
    KubeConfig config;
    const std::string h = host;
    // An IPv6 service host needs brackets in a URL.
    config.server =
        "https://" + (h.find(':') != std::string::npos ? "[" + h + "]" : h) + ":" + port;
    auto token = read_text_file(mount_dir + "/token");
    auto ca = read_text_file(mount_dir + "/ca.crt");
    if (!token || !ca) {
        error = "cannot read the service-account token or CA under " + mount_dir;
        return std::nullopt;
    }
    config.token = *token;
    while (!config.token.empty() && (config.token.back() == '\n'))
        config.token.pop_back();
    config.ca_pem = *ca;
    if (auto ns = read_text_file(mount_dir + "/namespace"))
        config.default_namespace = *ns;
    return config;
}

}  // namespace annal::kube
