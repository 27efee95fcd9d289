// annal-operator: reconciles AnnalCluster resources. With --leader-elect only the holder
// of the Lease reconciles; losing the lease ends the process at once (the Deployment
// restarts it as a standby), which is the only way to be sure no write follows the loss.
#include <CLI/CLI.hpp>

#include <pthread.h>
#include <unistd.h>
#include <csignal>
#include <cstdlib>
#include <thread>

#include "kube/client.hpp"
#include "kube/cpprest_transport.hpp"
#include "kube/kube_config.hpp"
#include "kube/leader_elector.hpp"
#include "op/cluster_status.hpp"
#include "op/controller.hpp"
#include "op/event_recorder.hpp"
#include "op/http_endpoint.hpp"
#include "op/http_membership_source.hpp"
#include "op/logger.hpp"
#include "op/metrics.hpp"
#include "op/node_admin_client.hpp"
#include "op/reconciler.hpp"

namespace {

using namespace annal;

std::string default_identity() {
    char host[256] = {};
    gethostname(host, sizeof host - 1);
    return std::string(host) + "-" + std::to_string(getpid());
}

std::chrono::milliseconds millis(double seconds) {
    return std::chrono::milliseconds(static_cast<long long>(seconds * 1000));
}

}  // namespace

#if defined(__SANITIZE_ADDRESS__)
// LeakSanitizer, in this binary only: cpprestsdk's thread pool is never joined, and OpenSSL
// keeps each of those threads' error queue and random generators in thread-local keys that
// LSan does not scan, so at exit every one is reported as leaked (allocated under
// ERR_clear_error / RAND_get0_public from boost::asio::ssl). The unit tests, which run our
// own OpenSSL code (certificate_authority.cpp), keep full leak checking.
extern "C" const char* __lsan_default_suppressions() {
    return "leak:libcrypto.so\n";
}
#endif

int main(int argc, char** argv) {
    CLI::App app{"annal-operator: reconciles AnnalCluster resources"};
    std::string kubeconfig_path;
    if (const char* env = std::getenv("KUBECONFIG"))
        kubeconfig_path = env;
    std::string watch_namespace;
    bool leader_elect = false;
    std::string lease_name = "annal-operator";
    std::string lease_namespace;
    int metrics_port = 8080;
    std::string metrics_address = "0.0.0.0";
    std::string identity = default_identity();
    double lease_duration = 15, renew_deadline = 10, retry_period = 2;
    int workers = 2;
    double resync = 60;
    std::string fail_at_step;
    std::string membership_mode = "http";
    double node_admin_timeout = 2;
    app.add_option("--kubeconfig", kubeconfig_path,
                   "kubeconfig file (default $KUBECONFIG, else the in-cluster config)");
    app.add_option("--namespace", watch_namespace, "namespace to watch (default: all)");
    app.add_flag("--leader-elect", leader_elect, "elect a leader through a Lease");
    app.add_option("--lease-name", lease_name, "name of the Lease")->capture_default_str();
    app.add_option("--lease-namespace", lease_namespace,
                   "namespace of the Lease (default: --namespace, else the pod's, else default)");
    app.add_option("--lease-duration", lease_duration, "seconds")->capture_default_str();
    app.add_option("--renew-deadline", renew_deadline, "seconds")->capture_default_str();
    app.add_option("--retry-period", retry_period, "seconds")->capture_default_str();
    app.add_option("--metrics-port", metrics_port, "port of /metrics and /healthz (0: off)")
        ->capture_default_str();
    app.add_option("--metrics-address", metrics_address)->capture_default_str();
    app.add_option("--id", identity, "identity in the Lease (default: hostname-pid)");
    app.add_option("--workers", workers, "concurrent reconciles")->check(CLI::Range(1, 64));
    app.add_option("--resync", resync, "seconds between full resyncs")->capture_default_str();
    app.add_option("--membership", membership_mode,
                   "where status.members/leader come from: http (the nodes' GET /admin/cluster) "
                   "or none (left empty; for tests without real nodes)")
        ->check(CLI::IsMember({"http", "none"}))
        ->capture_default_str();
    app.add_option("--node-admin-timeout", node_admin_timeout,
                   "seconds to wait for a node's /admin/cluster")
        ->check(CLI::Range(0.1, 60.0))
        ->capture_default_str();
    app.add_option("--test-exit-at-step", fail_at_step,
                   "testing only: _exit(3) when a reconcile reaches this step (e.g. StatefulSet)")
        ->group("");
    CLI11_PARSE(app, argc, argv);

    op::log::set_global_field("component", "annal-operator");
    op::log::set_global_field("id", identity);

    std::string error;
    std::optional<kube::KubeConfig> config = kubeconfig_path.empty()
                                                 ? kube::load_in_cluster(error)
                                                 : kube::load_kubeconfig(kubeconfig_path, error);
    if (!config) {
        op::log::error("no usable Kubernetes configuration", {{"error", error}});
        return 2;
    }
    if (lease_namespace.empty()) {
        const char* pod_ns = std::getenv("POD_NAMESPACE");
        lease_namespace = !watch_namespace.empty() ? watch_namespace
                          : pod_ns != nullptr      ? pod_ns
                                                   : config->default_namespace;
    }

    // Signals are taken by one thread with sigwait, never by async handlers.
    sigset_t signals;
    sigemptyset(&signals);
    sigaddset(&signals, SIGTERM);
    sigaddset(&signals, SIGINT);
    pthread_sigmask(SIG_BLOCK, &signals, nullptr);

    kube::Client client(std::make_shared<kube::CppRestTransport>(*config));
    std::atomic<bool> leading{!leader_elect};

    std::unique_ptr<op::HttpEndpoint> endpoint;
    if (metrics_port > 0) {
        endpoint = std::make_unique<op::HttpEndpoint>(
            metrics_address, static_cast<std::uint16_t>(metrics_port),
            [&leading](const std::string& target) {
                op::EndpointResponse r;
                if (target == "/healthz" || target == "/readyz") {
                    r.body = "ok\n";
                } else if (target == "/metrics") {
                    op::metrics().set("annal_operator_leader", leading ? 1 : 0);
                    r.content_type = "text/plain; version=0.0.4";
                    r.body = op::metrics().render();
                } else {
                    r.status = 404;
                    r.body = "not found\n";
                }
                return r;
            });
        if (!endpoint->start(error)) {
            op::log::error("metrics endpoint", {{"error", error}});
            return 2;
        }
    }

    // policy/v1 from Kubernetes 1.21; 1.20 serves only v1beta1, 1.25+ only v1.
    std::string pdb_version = "policy/v1";
    for (int attempt = 0;; ++attempt) {
        if (auto v = client.served_version("policy", {"v1", "v1beta1"})) {
            pdb_version = "policy/" + *v;
            break;
        }
        if (attempt == 30) {
            op::log::error("cannot discover the policy API group", {{"server", config->server}});
            return 2;
        }
        std::this_thread::sleep_for(std::chrono::seconds(1));
    }

    std::stop_source stop;
    std::jthread signal_thread([&stop, signals] {
        int received = 0;
        sigwait(&signals, &received);
        op::log::info("signal received, shutting down", {{"signal", received}});
        stop.request_stop();
    });

    op::EventRecorder events(client, "annal-operator");
    op::CppRestNodeAdminClient node_admin(millis(node_admin_timeout));
    op::HttpMembershipSource http_membership(client, node_admin);
    op::NoMembershipSource no_membership;
    op::MembershipSource& membership = membership_mode == "http"
                                           ? static_cast<op::MembershipSource&>(http_membership)
                                           : static_cast<op::MembershipSource&>(no_membership);
    op::Reconciler reconciler(client, events, membership, pdb_version);
    if (!fail_at_step.empty()) {
        reconciler.set_step_hook([fail_at_step](const std::string& step) {
            if (step == fail_at_step) {
                op::log::warn("test exit at step", {{"step", step}});
                _exit(3);
            }
        });
    }
    op::ControllerOptions options;
    options.watch_namespace = watch_namespace;
    options.pdb_api_version = pdb_version;
    options.workers = workers;
    options.resync = millis(resync);

    int exit_code = 0;
    if (!leader_elect) {
        op::Controller controller(client, reconciler, options);
        controller.run(stop.get_token());
    } else {
        kube::LeaderElector elector(client,
                                    {lease_namespace, lease_name, identity, millis(lease_duration),
                                     millis(renew_deadline), millis(retry_period)});
        op::log::info("waiting for leadership", {{"lease", lease_namespace + "/" + lease_name}});
        if (elector.acquire(stop.get_token())) {
            leading = true;
            op::log::info("became leader", {{"lease", lease_namespace + "/" + lease_name}});
            std::stop_source controller_stop;
            std::jthread controller_thread([&] {
                op::Controller controller(client, reconciler, options);
                controller.run(controller_stop.get_token());
            });
            if (!elector.hold(stop.get_token())) {
                op::log::error("lost leadership; exiting so that no further write happens");
                std::_Exit(1);
            }
            controller_stop.request_stop();
            controller_thread.join();
            elector.release();
        }
        leading = false;
    }
    if (!stop.stop_requested())
        stop.request_stop();
    // The signal thread still waits in sigwait; wake it so it can be joined.
    pthread_kill(signal_thread.native_handle(), SIGTERM);
    if (endpoint)
        endpoint->stop();
    op::log::info("stopped");
    return exit_code;
}
