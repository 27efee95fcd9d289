#!/usr/bin/env python3
"""End-to-end tests of annal-operator against a real kube-apiserver + controller-manager
(tests/operator/kube). One control plane is shared through a ctest fixture:

  e2e.py --repo R --env-dir D --operator BIN [--annal BIN] setup|cleanup|CASE

Each CASE runs in its own namespace with its own operator process(es), so cases do not
see each other. Exit code 77 means SKIP (the control-plane binaries are not prepared).
Pods are fake (fake-kubelet marks them Running; nothing runs) except those of image
REAL_NODE_IMAGE: with --annal, fake-kubelet runs that real `annal node` for them (case
`members`). Operators of the fake-pod cases run with --membership none, since no node
would answer them.
"""
import argparse
import base64
import json
import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

SKIP = 77
REAL_NODE_IMAGE = "annal:e2e-real-node"


class Failure(Exception):
    pass


def log(msg):
    print(f"[e2e {time.strftime('%H:%M:%S')}] {msg}", flush=True)


class Env:
    def __init__(self, args):
        self.args = args
        self.dir = args.env_dir
        self.kube_dir = os.path.join(args.repo, "tests/operator/kube")
        self.vars = {}
        env_file = os.path.join(self.dir, "env")
        if os.path.exists(env_file):
            for line in open(env_file):
                if line.startswith("export "):
                    key, _, value = line[len("export "):].strip().partition("=")
                    self.vars[key] = value.strip("'")
        self.procs = []

    def kubectl(self, *args, check=True, input=None):
        env = dict(os.environ, KUBECONFIG=self.vars["KUBECONFIG"])
        r = subprocess.run([self.vars["ANNAL_KUBECTL"], *args], input=input, env=env,
                           capture_output=True, text=True, timeout=60)
        if check and r.returncode != 0:
            raise Failure(f"kubectl {' '.join(args)} failed: {r.stderr.strip()}")
        return r

    def get(self, kind, name, ns):
        r = self.kubectl("get", kind, name, "-n", ns, "-o", "json", check=False)
        return json.loads(r.stdout) if r.returncode == 0 else None

    def api(self, method, path, body=None, content_type="application/merge-patch+json"):
        ctx = ssl.create_default_context(cafile=self.vars["ANNAL_KUBE_CA"])
        req = urllib.request.Request(self.vars["ANNAL_KUBE_API"] + path, method=method,
                                     data=None if body is None else json.dumps(body).encode())
        req.add_header("Authorization", "Bearer " + self.vars["ANNAL_KUBE_TOKEN"])
        req.add_header("Content-Type", content_type)
        with urllib.request.urlopen(req, context=ctx, timeout=30) as resp:
            return json.loads(resp.read())

    def start_operator(self, ns, name, *extra):
        logfile = open(os.path.join(self.dir, f"operator-{ns}-{name}.log"), "a")
        cmd = [self.args.operator, "--kubeconfig", self.vars["KUBECONFIG"], "--namespace", ns,
               "--resync", "10", "--id", name, *extra]
        if "--metrics-port" not in extra:
            cmd += ["--metrics-port", "0"]
        if "--membership" not in extra:
            cmd += ["--membership", "none"]
        p = subprocess.Popen(cmd, stdout=logfile, stderr=subprocess.STDOUT)
        p.logpath = logfile.name
        self.procs.append(p)
        return p

    def stop_all(self):
        for p in self.procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
                try:
                    p.wait(10)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait()


def wait_for(what, fn, timeout=60):
    deadline = time.time() + timeout
    last = None
    while time.time() < deadline:
        try:
            last = fn()
            if last:
                return last
        except Failure as e:
            last = e
        time.sleep(0.3)
    raise Failure(f"timed out after {timeout}s waiting for {what} (last: {last})")


def expect(cond, msg):
    if not cond:
        raise Failure(msg)


def cluster_yaml(name, replicas=3, extra=""):
    return f"""apiVersion: annal.dev/v1alpha1
kind: AnnalCluster
metadata:
  name: {name}
spec:
  replicas: {replicas}
  image: annal:test
{extra}"""


def new_namespace(env, case):
    ns = f"e2e-{case}-{int(time.time()) % 100000}"
    env.kubectl("create", "namespace", ns)
    return ns


def sts_replicas(env, ns, name):
    sts = env.get("statefulset", name, ns)
    return sts["spec"]["replicas"] if sts else None


def condition(cr, ctype):
    for c in (cr or {}).get("status", {}).get("conditions", []):
        if c["type"] == ctype:
            return c
    return None


def wait_ready(env, ns, name, replicas, timeout=90):
    def ready():
        cr = env.get("annal", name, ns)
        c = condition(cr, "Ready")
        return cr if c and c["status"] == "True" and cr["status"]["readyReplicas"] == replicas \
            else None
    return wait_for(f"{name} Ready with {replicas} members", ready, timeout)


# ---------------------------------------------------------------------------- cases

def case_objects(env):
    ns = new_namespace(env, "objects")
    port = free_port()
    env.start_operator(ns, "op", "--metrics-port", str(port), "--metrics-address", "127.0.0.1")
    example = os.path.join(env.args.repo, "manifests/examples/annalcluster-3.yaml")
    env.kubectl("apply", "-n", ns, "-f", example)
    cr = wait_ready(env, ns, "example", 3)
    uid = cr["metadata"]["uid"]
    owned = {"statefulset": "example", "service": "example", "configmap": "example-config",
             "poddisruptionbudget": "example"}
    owned["service/example-peers"] = None
    for kind, name in owned.items():
        obj = env.get(*(kind.split("/") if name is None else (kind, name)), ns)
        expect(obj is not None, f"{kind} {name} missing")
        refs = obj["metadata"].get("ownerReferences", [])
        expect(len(refs) == 1 and refs[0]["uid"] == uid and refs[0]["controller"] and
               refs[0]["blockOwnerDeletion"], f"{kind} {name}: bad ownerReferences {refs}")
    peers = env.get("service", "example-peers", ns)
    expect(peers["spec"]["clusterIP"] == "None" and peers["spec"]["publishNotReadyAddresses"],
           "headless service must publish not-ready addresses")
    pdb = env.get("poddisruptionbudget", "example", ns)
    expect(pdb["spec"]["maxUnavailable"] == 1, f"PDB maxUnavailable {pdb['spec']}")
    sts = env.get("statefulset", "example", ns)
    container = sts["spec"]["template"]["spec"]["containers"][0]
    expect(container["readinessProbe"]["httpGet"]["path"] == "/readyz", "readiness probe")
    pvcs = env.kubectl("get", "pvc", "-n", ns, "-o", "name").stdout.split()
    expect(len(pvcs) == 3, f"3 PVCs expected, got {pvcs}")
    status = cr["status"]
    expect(status["selector"] == "app.kubernetes.io/instance=example,app.kubernetes.io/name=annal",
           f"selector {status.get('selector')}")
    expect(status["observedGeneration"] == cr["metadata"]["generation"], "observedGeneration")
    types = sorted(c["type"] for c in status["conditions"])
    expect(types == ["Degraded", "Progressing", "Ready"], f"conditions {types}")
    table = env.kubectl("get", "annal", "-n", ns).stdout
    header = table.splitlines()[0].split()
    expect(header == ["NAME", "REPLICAS", "READY", "LEADER", "AGE"], f"columns: {header}")
    expect(table.splitlines()[1].split()[:3] == ["example", "3", "3"], f"row: {table}")
    events = env.kubectl("get", "events", "-n", ns, "-o", "json").stdout
    reasons = [e["reason"] for e in json.loads(events)["items"]
               if e["involvedObject"]["name"] == "example"]
    expect(reasons.count("Created") == 5, f"Created events: {reasons}")
    described = env.kubectl("describe", "annal", "example", "-n", ns).stdout
    expect("Created StatefulSet example with 3 replicas" in described, "describe shows events")
    health = urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5).read()
    expect(health == b"ok\n", f"healthz: {health}")
    metrics = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
    expect('annal_operator_reconcile_total{result="success"}' in metrics, f"metrics: {metrics}")


def case_validation(env):
    ns = new_namespace(env, "validation")
    r = env.kubectl("apply", "-n", ns, "-f", "-", input=cluster_yaml("zero", 0), check=False)
    expect(r.returncode != 0, "replicas 0 must be rejected")
    expect("spec.replicas" in r.stderr and "greater than or equal to 1" in r.stderr,
           f"unclear message: {r.stderr}")
    bad = cluster_yaml("bad", 3, "  storage:\n    onScaleDown: Sometimes\n")
    r = env.kubectl("apply", "-n", ns, "-f", "-", input=bad, check=False)
    expect(r.returncode != 0, "unknown storage policy must be rejected")
    expect("spec.storage.onScaleDown" in r.stderr and "Unsupported value" in r.stderr,
           f"unclear message: {r.stderr}")
    log(f"rejections: {r.stderr.strip()}")
    r = env.kubectl("apply", "-n", ns, "-f", "-", input=cluster_yaml("ten", 10), check=False)
    expect(r.returncode != 0 and "less than or equal to 9" in r.stderr, f"replicas 10: {r.stderr}")


def case_scale(env):
    ns = new_namespace(env, "scale")
    env.start_operator(ns, "op")
    env.kubectl("apply", "-n", ns, "-f", "-", input=cluster_yaml("s", 3))
    wait_ready(env, ns, "s", 3)
    env.kubectl("scale", "-n", ns, "annal/s", "--replicas=5")
    wait_for("StatefulSet scaled to 5", lambda: sts_replicas(env, ns, "s") == 5)
    wait_ready(env, ns, "s", 5)
    scale_path = f"/apis/annal.dev/v1alpha1/namespaces/{ns}/annalclusters/s/scale"
    scale = env.api("GET", scale_path)
    expect(scale["status"]["replicas"] == 5 and
           scale["status"]["selector"] == "app.kubernetes.io/instance=s,app.kubernetes.io/name=annal",
           f"scale subresource status: {scale['status']}")
    env.api("PATCH", scale_path, {"spec": {"replicas": 3}})
    wait_for("StatefulSet scaled to 3", lambda: sts_replicas(env, ns, "s") == 3)
    wait_ready(env, ns, "s", 3)
    # onScaleDown defaults to Delete: removed members' volumes go, the others stay.
    def pvcs():
        return sorted(env.kubectl("get", "pvc", "-n", ns, "-o", "name").stdout.split())
    wait_for("volumes of members 3 and 4 deleted",
             lambda: pvcs() == [f"persistentvolumeclaim/data-s-{i}" for i in range(3)])


def case_delete(env):
    ns = new_namespace(env, "delete")
    env.start_operator(ns, "op")
    env.kubectl("apply", "-n", ns, "-f", "-", input=cluster_yaml("keep", 1))
    env.kubectl("apply", "-n", ns, "-f", "-",
                input=cluster_yaml("wipe", 1, "  storage:\n    onDelete: Delete\n"))
    wait_ready(env, ns, "keep", 1)
    wait_ready(env, ns, "wipe", 1)
    wipe = env.get("annal", "wipe", ns)
    expect(wipe["metadata"].get("finalizers") == ["annal.dev/delete-volumes"],
           f"finalizer for onDelete Delete: {wipe['metadata'].get('finalizers')}")
    expect(not env.get("annal", "keep", ns)["metadata"].get("finalizers"),
           "no finalizer for onDelete Retain")
    env.kubectl("delete", "-n", ns, "annal", "keep", "wipe", "--wait=false")

    def leftovers():
        out = []
        for kind in ("statefulset", "service", "configmap", "poddisruptionbudget", "pod"):
            out += env.kubectl("get", kind, "-n", ns, "-o", "name",
                               "-l", "app.kubernetes.io/name=annal").stdout.split()
        return out
    wait_for("garbage collection of everything owned", lambda: leftovers() == [], 90)
    wait_for("AnnalCluster wipe gone", lambda: env.get("annal", "wipe", ns) is None)
    pvcs = env.kubectl("get", "pvc", "-n", ns, "-o", "name").stdout.split()
    expect(pvcs == ["persistentvolumeclaim/data-keep-0"],
           f"onDelete Retain keeps, Delete removes volumes: {pvcs}")


def case_pause(env):
    ns = new_namespace(env, "pause")
    env.start_operator(ns, "op")
    env.kubectl("apply", "-n", ns, "-f", "-", input=cluster_yaml("p", 3))
    wait_ready(env, ns, "p", 3)
    env.kubectl("patch", "-n", ns, "annal", "p", "--type=merge", "-p", '{"spec":{"paused":true}}')
    wait_for("Paused condition", lambda: (condition(env.get("annal", "p", ns), "Progressing") or
                                          {}).get("reason") == "Paused")
    env.kubectl("patch", "-n", ns, "annal", "p", "--type=merge", "-p", '{"spec":{"replicas":5}}')
    env.kubectl("delete", "-n", ns, "service", "p")
    time.sleep(4)  # several reconciles' worth: nothing may change meanwhile
    expect(sts_replicas(env, ns, "p") == 3, "paused cluster was scaled")
    expect(env.get("service", "p", ns) is None, "paused cluster's Service was recreated")
    env.kubectl("patch", "-n", ns, "annal", "p", "--type=merge", "-p", '{"spec":{"paused":false}}')
    wait_for("scaled after unpause", lambda: sts_replicas(env, ns, "p") == 5)
    wait_for("Service recreated after unpause", lambda: env.get("service", "p", ns))


def snapshot(env, ns, name):
    """The owned objects' specs, without server-managed fields."""
    out = {}
    for kind, obj_name in (("statefulset", name), ("service", name), ("service", name + "-peers"),
                           ("configmap", name + "-config"), ("poddisruptionbudget", name)):
        obj = env.get(kind, obj_name, ns)
        out[f"{kind}/{obj_name}"] = None if obj is None else obj.get("spec", obj.get("data"))
        if obj and kind == "service":
            out[f"{kind}/{obj_name}"].pop("clusterIP", None)
            out[f"{kind}/{obj_name}"].pop("clusterIPs", None)
    return out


def case_crash(env):
    # Reference: the same cluster reconciled without interruption, in its own namespace.
    ref_ns = new_namespace(env, "crashref")
    env.start_operator(ref_ns, "ref")
    env.kubectl("apply", "-n", ref_ns, "-f", "-", input=cluster_yaml("c", 3))
    wait_ready(env, ref_ns, "c", 3)
    env.stop_all()
    ns = new_namespace(env, "crash")
    # Dies right before the StatefulSet is applied (ConfigMap and Services done).
    p = env.start_operator(ns, "dies", "--test-exit-at-step", "StatefulSet")
    env.kubectl("apply", "-n", ns, "-f", "-", input=cluster_yaml("c", 3))
    expect(p.wait(60) == 3, "operator should exit at the test step")
    expect(env.get("configmap", "c-config", ns) is not None, "ConfigMap applied before the crash")
    expect(env.get("statefulset", "c", ns) is None, "no StatefulSet before the restart")
    env.start_operator(ns, "after")
    wait_ready(env, ns, "c", 3)
    # SIGKILL right after a spec change, then restart.
    env.kubectl("patch", "-n", ns, "annal", "c", "--type=merge", "-p", '{"spec":{"replicas":5}}')
    env.procs[-1].send_signal(signal.SIGKILL)
    env.procs[-1].wait()
    env.start_operator(ns, "again")
    wait_ready(env, ns, "c", 5)
    env.kubectl("patch", "-n", ns, "annal", "c", "--type=merge", "-p", '{"spec":{"replicas":3}}')
    wait_ready(env, ns, "c", 3)
    got, want = snapshot(env, ns, "c"), snapshot(env, ref_ns, "c")
    for key in want:
        if key.startswith("configmap"):  # cluster.yaml names the namespace
            got[key].pop("cluster.yaml")
            want[key].pop("cluster.yaml")
        if key.startswith("statefulset"):  # hashes cluster.yaml too
            for snap in (got, want):
                snap[key]["template"]["metadata"]["annotations"].pop("annal.dev/config-hash")
        expect(got[key] == want[key], f"{key} differs after crashes:\n{got[key]}\n{want[key]}")


def lease_holder(env, ns):
    lease = env.get("lease", "annal-operator", ns)
    return lease["spec"].get("holderIdentity") if lease else None


def case_leader(env):
    ns = new_namespace(env, "leader")
    timing = ["--leader-elect", "--lease-duration", "4", "--renew-deadline", "3",
              "--retry-period", "0.5"]
    a = env.start_operator(ns, "op-a", *timing)
    wait_for("op-a holds the lease", lambda: lease_holder(env, ns) == "op-a")
    b = env.start_operator(ns, "op-b", *timing)
    env.kubectl("apply", "-n", ns, "-f", "-", input=cluster_yaml("l", 3))
    wait_ready(env, ns, "l", 3)
    time.sleep(2)
    expect(lease_holder(env, ns) == "op-a", "op-a keeps the lease")
    b_log = open(b.logpath).read()
    expect('"msg":"event"' not in b_log and "became leader" not in b_log,
           "the standby must not act:\n" + b_log)
    a.send_signal(signal.SIGKILL)
    a.wait()
    env.kubectl("scale", "-n", ns, "annal/l", "--replicas=5")
    wait_for("op-b takes the lease", lambda: lease_holder(env, ns) == "op-b", 30)
    wait_for("op-b scales the cluster", lambda: sts_replicas(env, ns, "l") == 5, 30)
    expect("became leader" in open(b.logpath).read(), "op-b logs its leadership")
    # A graceful stop releases the lease at once.
    b.send_signal(signal.SIGTERM)
    expect(b.wait(20) == 0, "clean exit on SIGTERM")
    expect(lease_holder(env, ns) == "", "lease released on SIGTERM")


def secret_pem(secret, key):
    return base64.b64decode(secret["data"][key]).decode()


def cert_dns_names(pem):
    """The DNS subjectAltNames, as the openssl command line prints them."""
    r = subprocess.run(["openssl", "x509", "-noout", "-ext", "subjectAltName"], input=pem,
                       capture_output=True, text=True, timeout=30)
    if r.returncode != 0:
        raise Failure(f"openssl x509: {r.stderr.strip()}")
    # "X509v3 Subject Alternative Name: \n    DNS:a, DNS:b, IP Address:127.0.0.1"
    entries = r.stdout.split("\n", 1)[1].split(",") if "\n" in r.stdout else []
    return {e.strip()[4:] for e in entries if e.strip().startswith("DNS:")}


def openssl_verify(cert_pem, ca_pem, purpose):
    with tempfile.TemporaryDirectory() as d:
        for name, text in (("ca.pem", ca_pem), ("cert.pem", cert_pem)):
            with open(os.path.join(d, name), "w") as f:
                f.write(text)
        r = subprocess.run(["openssl", "verify", "-purpose", purpose, "-CAfile",
                            os.path.join(d, "ca.pem"), os.path.join(d, "cert.pem")],
                           capture_output=True, text=True, timeout=30)
    expect(r.returncode == 0, f"openssl verify -purpose {purpose}: {r.stdout}{r.stderr}")


def case_tls(env):
    ns = new_namespace(env, "tls")
    env.start_operator(ns, "op")
    env.kubectl("apply", "-n", ns, "-f", "-",
                input=cluster_yaml("t", 3, "  tls:\n    mode: OperatorGenerated\n"))
    cr = wait_ready(env, ns, "t", 3)
    expect(condition(cr, "Degraded")["status"] == "False", f"Degraded: {cr['status']}")
    uid = cr["metadata"]["uid"]
    for name in ("t-ca", "t-tls"):
        secret = env.get("secret", name, ns)
        expect(secret is not None, f"Secret {name} missing")
        refs = secret["metadata"].get("ownerReferences", [])
        expect(len(refs) == 1 and refs[0]["uid"] == uid and refs[0]["controller"],
               f"Secret {name}: bad ownerReferences {refs}")
    ca = env.get("secret", "t-ca", ns)
    tls = env.get("secret", "t-tls", ns)
    expect(tls["type"] == "kubernetes.io/tls" and
           sorted(tls["data"]) == ["ca.crt", "tls.crt", "tls.key"], f"t-tls: {tls['type']}")
    ca_pem = secret_pem(ca, "ca.crt")
    expect(secret_pem(tls, "ca.crt") == ca_pem, "t-tls ca.crt is the cluster CA")
    for purpose in ("sslserver", "sslclient"):
        openssl_verify(secret_pem(tls, "tls.crt"), ca_pem, purpose)
    names = cert_dns_names(secret_pem(tls, "tls.crt"))
    peers = {f"t-{i}.t-peers.{ns}.svc" for i in range(5)}
    expect({f"t-{i}.t-peers.{ns}.svc" for i in range(3)} <= names and
           f"t-3.t-peers.{ns}.svc" not in names and f"t.{ns}.svc" in names, f"SANs: {names}")
    pod = env.get("statefulset", "t", ns)["spec"]["template"]["spec"]
    volume = [v for v in pod["volumes"] if v["name"] == "tls"]
    mount = [m for m in pod["containers"][0]["volumeMounts"] if m["name"] == "tls"]
    expect(volume and volume[0]["secret"]["secretName"] == "t-tls", f"volumes: {pod['volumes']}")
    expect(mount and mount[0]["mountPath"] == "/etc/annal-tls", f"mounts: {mount}")

    env.kubectl("scale", "-n", ns, "annal/t", "--replicas=5")
    wait_for("the node certificate re-issued for 5 members",
             lambda: peers <= cert_dns_names(secret_pem(env.get("secret", "t-tls", ns),
                                                        "tls.crt")))
    expect(env.get("secret", "t-ca", ns)["data"] == ca["data"], "the CA must not change")
    reissued = env.get("secret", "t-tls", ns)
    openssl_verify(secret_pem(reissued, "tls.crt"), ca_pem, "sslserver")
    wait_ready(env, ns, "t", 5)
    events = json.loads(env.kubectl("get", "events", "-n", ns, "-o", "json").stdout)["items"]
    issued = [e for e in events if e["reason"] == "IssuedCertificate"]
    expect(sum(e.get("count", 1) for e in issued) == 2, f"IssuedCertificate events: {issued}")

    env.kubectl("delete", "-n", ns, "annal", "t", "--wait=false")
    wait_for("Secrets garbage-collected",
             lambda: env.get("secret", "t-ca", ns) is None and
             env.get("secret", "t-tls", ns) is None, 90)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def node_view(pod):
    """GET /admin/cluster straight from a pod's node (None if it does not answer)."""
    ip = pod.get("status", {}).get("podIP")
    port = pod["spec"]["containers"][0]["ports"][0]["containerPort"]
    if not ip:
        return None
    try:
        with urllib.request.urlopen(f"http://{ip}:{port}/admin/cluster", timeout=2) as r:
            return json.loads(r.read())
    except urllib.error.HTTPError as e:
        return {"http_status": e.code}
    except (OSError, ValueError):
        return None


def agree_with_nodes(env, ns):
    """status.leader soon names the pod whose node says it leads (leadership may move)."""
    def agreed():
        cr = env.get("annal", "m", ns)
        leader = (cr or {}).get("status", {}).get("leader")
        items = json.loads(env.kubectl("get", "pods", "-n", ns, "-o", "json").stdout)["items"]
        says = [p["metadata"]["name"] for p in items if (node_view(p) or {}).get("role") == "leader"]
        return leader if leader and says == [leader] else None
    wait_for("status.leader to agree with the node that leads", agreed, 30)


def wait_whole(env, ns, pods, replaced=None):
    """The AnnalCluster m Ready with 3 healthy members and one leader (and, if `replaced`
    is (pod, old uid), that pod recreated and Ready)."""
    def whole():
        cr = env.get("annal", "m", ns)
        status = (cr or {}).get("status", {})
        members = status.get("members", [])
        ready = (condition(cr, "Ready") or {}).get("status") == "True"
        if not ready or len(members) != 3 or not all(m["healthy"] for m in members) or \
                len([m for m in members if m["role"] == "leader"]) != 1:
            return None
        if replaced:
            pod = pods().get(replaced[0])
            if not pod or pod["metadata"]["uid"] == replaced[1] or not any(
                    c["type"] == "Ready" and c["status"] == "True"
                    for c in pod.get("status", {}).get("conditions", [])):
                return None
        return cr
    return wait_for("m Ready with 3 healthy members and one leader", whole, 120)


def case_members(env):
    if not env.args.annal:
        print("SKIP: no --annal binary to run real nodes with")
        raise SystemExit(SKIP)
    ns = new_namespace(env, "members")
    env.start_operator(ns, "op", "--membership", "http", "--node-admin-timeout", "2")
    port = free_port()
    spec = f"  config:\n    listen_port: {port}\n    fsync: false\n"
    manifest = cluster_yaml("m", 3, spec).replace("image: annal:test", f"image: {REAL_NODE_IMAGE}")
    env.kubectl("apply", "-n", ns, "-f", "-", input=manifest)

    def pods():
        items = json.loads(env.kubectl("get", "pods", "-n", ns, "-o", "json").stdout)["items"]
        return {p["metadata"]["name"]: p for p in items}

    # A node without the cluster admin API (the replicated node not built yet) cannot pass.
    def some_node_answers():
        views = [node_view(p) for p in pods().values()]
        return next((v for v in views if v is not None), None)
    first = wait_for("a node answering /admin/cluster", some_node_answers, 90)
    if first.get("http_status") == 404 or first.get("mode") == "standalone":
        print(f"SKIP: the node does not serve the cluster admin API yet: {first}")
        raise SystemExit(SKIP)

    cr = wait_whole(env, ns, pods)
    status = cr["status"]
    members = status["members"]
    expect(sorted(m["id"] for m in members) == ["1", "2", "3"], f"member ids: {members}")
    expect(all(m["name"] == f"m-{int(m['id']) - 1}" for m in members), f"names: {members}")
    leaders = [m for m in members if m["role"] == "leader"]
    leader = status.get("leader")
    expect(leader == leaders[0]["name"], f"status.leader {leader} vs members {members}")
    agree_with_nodes(env, ns)
    table = env.kubectl("get", "annal", "-n", ns).stdout
    header, row = table.splitlines()[0].split(), table.splitlines()[1].split()
    expect(header == ["NAME", "REPLICAS", "READY", "LEADER", "AGE"], f"columns: {header}")
    expect(row[:4] == ["m", "3", "3", leader], f"row: {table}")
    log(f"leader {leader}; deleting its pod")

    old_uid = pods()[leader]["metadata"]["uid"]
    env.kubectl("delete", "pod", leader, "-n", ns, "--wait=false")

    def new_leader():
        cr = env.get("annal", "m", ns)
        now = (cr or {}).get("status", {}).get("leader")
        return now if now and now != leader else None
    started = time.time()
    successor = wait_for("status.leader naming another pod", new_leader, 30)
    log(f"status.leader became {successor} {time.time() - started:.1f}s after the delete")
    expect(successor in pods(), f"status.leader names no pod: {successor}")
    agree_with_nodes(env, ns)
    # The deleted member comes back (same name, same volume) and the cluster is whole again.
    wait_whole(env, ns, pods, replaced=(leader, old_uid))
    env.kubectl("delete", "-n", ns, "annal", "m", "--wait=false")  # stops the nodes
    wait_for("member pods gone", lambda: not pods(), 90)


CASES = {"objects": case_objects, "validation": case_validation, "scale": case_scale,
         "delete": case_delete, "pause": case_pause, "crash": case_crash, "leader": case_leader,
         "tls": case_tls, "members": case_members}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--repo", required=True)
    parser.add_argument("--env-dir", required=True)
    parser.add_argument("--operator", required=True)
    parser.add_argument("--annal", help="the annal binary, run by fake-kubelet for real-node pods")
    parser.add_argument("case", choices=["setup", "cleanup", *CASES])
    args = parser.parse_args()
    kube_dir = os.path.join(args.repo, "tests/operator/kube")
    if args.case == "setup":
        # A fresh directory each run (start.sh refuses a used one); logs of the last run
        # stay until the next setup.
        if os.path.exists(args.env_dir):
            subprocess.run([os.path.join(kube_dir, "stop.sh"), args.env_dir])
            shutil.rmtree(args.env_dir)
        env = dict(os.environ)
        if args.annal:
            env["ANNAL_FAKE_KUBELET_ARGS"] = " ".join(
                [env.get("ANNAL_FAKE_KUBELET_ARGS", ""), "--run-annal", args.annal,
                 "--run-annal-image", REAL_NODE_IMAGE,
                 "--annal-dir", os.path.join(args.env_dir, "annal")]).strip()
        r = subprocess.run([os.path.join(kube_dir, "start.sh"), args.env_dir], env=env)
        if r.returncode == 3:
            print("SKIP: Kubernetes binaries not prepared (run tests/operator/prepare.sh)")
            return SKIP
        if r.returncode != 0:
            return 1
        env = Env(args)
        env.kubectl("apply", "-f", os.path.join(args.repo, "crds"))
        env.kubectl("wait", "--for=condition=Established", "--timeout=60s",
                    "crd/annalclusters.annal.dev")
        return 0
    if args.case == "cleanup":
        subprocess.run([os.path.join(kube_dir, "stop.sh"), args.env_dir])
        return 0
    env = Env(args)
    if not env.vars:
        print("SKIP: no control plane (the setup fixture skipped or failed)")
        return SKIP
    start = time.time()
    try:
        CASES[args.case](env)
        log(f"PASS {args.case} in {time.time() - start:.1f}s")
        return 0
    except Failure as e:
        log(f"FAIL {args.case}: {e}")
        for p in env.procs:
            print(f"---- {p.logpath} (last lines)")
            print("".join(open(p.logpath).readlines()[-25:]))
        return 1
    finally:
        env.stop_all()


if __name__ == "__main__":
    sys.exit(main())
