#include <doctest/doctest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "kube/kube_config.hpp"

using namespace annal::kube;
namespace fs = std::filesystem;

namespace {

// "-----BEGIN CERTIFICATE-----\nabc\n" in base64
constexpr const char* kCaB64 = "LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCmFiYwo=";

fs::path temp_dir() {
    fs::path dir =
        fs::temp_directory_path() / ("annal-kubeconfig-" + std::to_string(std::rand()) + "-" +
                                     std::to_string(reinterpret_cast<std::uintptr_t>(&kCaB64)));
    fs::create_directories(dir);
    return dir;
}

void write(const fs::path& p, const std::string& text) {
    std::ofstream(p) << text;
}

}  // namespace

TEST_CASE("kubeconfig with a token and inline CA, current context chosen") {
    const std::string yaml = std::string(R"(
apiVersion: v1
kind: Config
current-context: second
clusters:
- name: c1
  cluster: {server: "https://one:6443"}
- name: c2
  cluster:
    server: https://127.0.0.1:6443/
    certificate-authority-data: )") +
                             kCaB64 + R"(
contexts:
- name: first
  context: {cluster: c1, user: u1}
- name: second
  context: {cluster: c2, user: u2, namespace: team}
users:
- name: u1
  user: {token: wrong}
- name: u2
  user: {token: "secret-token"}
)";
    std::string error;
    auto config = parse_kubeconfig(yaml, "", error);
    REQUIRE_MESSAGE(config, error);
    CHECK(config->server == "https://127.0.0.1:6443");
    CHECK(config->token == "secret-token");
    CHECK(config->ca_pem == "-----BEGIN CERTIFICATE-----\nabc\n");
    CHECK(config->default_namespace == "team");
    CHECK(config->client_cert_pem.empty());
}

TEST_CASE("kubeconfig with client certificate files relative to the kubeconfig") {
    const fs::path dir = temp_dir();
    write(dir / "ca.crt", "CA-PEM");
    write(dir / "admin.crt", "CERT-PEM");
    write(dir / "admin.key", "KEY-PEM");
    write(dir / "config", R"(
current-context: ctx
clusters: [{name: c, cluster: {server: "https://h:1", certificate-authority: ca.crt}}]
contexts: [{name: ctx, context: {cluster: c, user: admin}}]
users: [{name: admin, user: {client-certificate: admin.crt, client-key: )" +
                              (dir / "admin.key").string() + "}}]\n");
    std::string error;
    auto config = load_kubeconfig((dir / "config").string(), error);
    REQUIRE_MESSAGE(config, error);
    CHECK(config->ca_pem == "CA-PEM");
    CHECK(config->client_cert_pem == "CERT-PEM");
    CHECK(config->client_key_pem == "KEY-PEM");
    CHECK(config->token.empty());
    fs::remove_all(dir);
}

TEST_CASE("kubeconfig with inline client certificate data") {
    const std::string yaml = std::string(R"(
current-context: x
clusters: [{name: c, cluster: {server: "https://h:1"}}]
contexts: [{name: x, context: {cluster: c, user: u}}]
users: [{name: u, user: {client-certificate-data: )") +
                             kCaB64 + ", client-key-data: " + kCaB64 + "}}]\n";
    std::string error;
    auto config = parse_kubeconfig(yaml, "", error);
    REQUIRE_MESSAGE(config, error);
    CHECK(config->client_cert_pem == "-----BEGIN CERTIFICATE-----\nabc\n");
    CHECK(config->client_key_pem == config->client_cert_pem);
}

TEST_CASE("broken kubeconfigs are reported, not thrown") {
    std::string error;
    CHECK_FALSE(parse_kubeconfig("current-context: [", "", error));
    CHECK_FALSE(error.empty());
    CHECK_FALSE(parse_kubeconfig("current-context: nope\ncontexts: []\n", "", error));
    CHECK(error.find("nope") != std::string::npos);
    const std::string bad_data = R"(
current-context: x
clusters: [{name: c, cluster: {server: "https://h:1", certificate-authority-data: "!!!"}}]
contexts: [{name: x, context: {cluster: c, user: u}}]
)";
    CHECK_FALSE(parse_kubeconfig(bad_data, "", error));
    CHECK(error.find("base64") != std::string::npos);
    const std::string missing_file = R"(
current-context: x
clusters: [{name: c, cluster: {server: "https://h:1", certificate-authority: /no/such/ca}}]
contexts: [{name: x, context: {cluster: c, user: u}}]
)";
    CHECK_FALSE(parse_kubeconfig(missing_file, "", error));
    CHECK(error.find("/no/such/ca") != std::string::npos);
}

TEST_CASE("in-cluster configuration from the service-account mount") {
    const fs::path dir = temp_dir();
    write(dir / "token", "sa-token\n");
    write(dir / "ca.crt", "CLUSTER-CA");
    write(dir / "namespace", "annal-system");
    setenv("KUBERNETES_SERVICE_HOST", "10.0.0.1", 1);
    setenv("KUBERNETES_SERVICE_PORT", "443", 1);
    std::string error;
    auto config = load_in_cluster(error, dir.string());
    REQUIRE_MESSAGE(config, error);
    CHECK(config->server == "https://10.0.0.1:443");
    CHECK(config->token == "sa-token");
    CHECK(config->ca_pem == "CLUSTER-CA");
    CHECK(config->default_namespace == "annal-system");
    unsetenv("KUBERNETES_SERVICE_HOST");
    CHECK_FALSE(load_in_cluster(error, dir.string()));
    unsetenv("KUBERNETES_SERVICE_PORT");
    fs::remove_all(dir);
}
