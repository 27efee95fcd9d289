#!/usr/bin/env python3
"""Tests of the packaging: the Helm chart (rendered without helm), plain manifests, RBAC.

  packaging_test.py --repo R --render BIN --work DIR [--operator BIN] CASE

CASE:
  static      CRD copies identical to crds/; values.schema.json accepts the defaults and
              ci/ values and rejects each tests/packaging/bad-values file for the stated
              reason; the chart renders; manifests/ and the rendered chart agree.
  readme      README.md shows the quick starts below, and no untested install command.
  manifests   README quick start 1 on a real API server (tests/operator/kube):
              `kubectl apply -f manifests/`, then the examples (3 members, TLS, HPA).
  chart       README quick start 2: the chart rendered against the server's discovered
              API versions for the default values (release annal in annal-system) and
              each ci/ values file, applied for real.
  rbac        annal-operator, run locally with the token of the ServiceAccount that
              manifests/ creates (through a logging proxy), reconciles a cluster through
              its whole life; no request is denied, and every granted verb is used.
              Then verbs are removed from the ClusterRole one at a time and the same
              check must fail with a denied request (ANNAL_RBAC_REMOVALS=all: every verb).
Exit code 77 means SKIP (a prerequisite such as the control-plane binaries is missing).
"""
import argparse
import http.client
import http.server
import json
import os
import re
import signal
import socketserver
import ssl
import subprocess
import sys
import threading
import time
import urllib.parse
import urllib.request

SKIP = 77


class Failure(Exception):
    pass


class Fatal(Failure):
    """A failure that waiting longer cannot cure (e.g. the operator exited)."""


def log(msg):
    print(f"[packaging {time.strftime('%H:%M:%S')}] {msg}", flush=True)


def check(condition, message):
    if not condition:
        raise Failure(message)


def ensure_renderer(repo, out):
    """Builds tests/packaging/render (render-chart) with Debian's Go and its packaged
    sources (GOPATH mode, no network) when missing or older than its source."""
    source = os.path.join(repo, "tests/packaging/render/main.go")
    if os.path.exists(out) and os.path.getmtime(out) >= os.path.getmtime(source):
        return
    gocode = "/usr/share/gocode"
    missing = [p for p in ("github.com/Masterminds/sprig", "github.com/xeipuuv/gojsonschema",
                           "github.com/ghodss/yaml")
               if not os.path.isdir(os.path.join(gocode, "src", p))]
    go = subprocess.run(["sh", "-c", "command -v go"], capture_output=True, text=True).stdout.strip()
    if not go or missing:
        log(f"SKIP: the chart renderer needs golang-go and {missing or 'its Go sources'}; "
            "run tests/packaging/prepare.sh")
        raise SystemExit(SKIP)
    work = os.path.dirname(os.path.abspath(out))
    env = dict(os.environ, GOPATH=gocode, GO111MODULE="off", GOFLAGS="",
               GOCACHE=os.path.join(work, "gocache"), CGO_ENABLED="0")
    tmp = f"{out}.{os.getpid()}"
    started = time.monotonic()
    r = subprocess.run([go, "build", "-o", tmp, source], env=env, capture_output=True, text=True,
                       timeout=600)
    if r.returncode != 0:
        raise Failure(f"building render-chart failed:\n{r.stderr}")
    os.replace(tmp, out)
    log(f"built render-chart in {time.monotonic() - started:.1f} s")


class Tools:
    def __init__(self, args):
        self.repo = args.repo
        self.render_bin = args.render
        self.work = args.work
        self.chart = os.path.join(self.repo, "charts/annal")
        os.makedirs(self.work, exist_ok=True)

    def path(self, *parts):
        return os.path.join(self.repo, *parts)

    def render(self, values=None, release="annal", namespace="annal-system", api_versions=None,
               notes=None, validate_only=False):
        cmd = [self.render_bin, "--chart", self.chart, "--release", release, "--namespace",
               namespace]
        if values:
            cmd += ["--values", values]
        if api_versions:
            cmd += ["--api-versions", api_versions]
        if notes:
            cmd += ["--notes", notes]
        if validate_only:
            cmd += ["--validate-only"]
        return subprocess.run(cmd, capture_output=True, text=True, timeout=60)

    def yaml_to_objects(self, path):
        r = subprocess.run([self.render_bin, "--to-json", path], capture_output=True, text=True,
                           timeout=60)
        if r.returncode != 0:
            raise Failure(f"{path} is not valid YAML: {r.stderr.strip()}")
        return json.loads(r.stdout)


# The quick starts of README.md, charts/README.md and manifests/README.md: the tests run
# exactly these (case_manifests, case_chart), and case_readme checks the READMEs show
# no other install command.
QUICK_START_MANIFESTS = ["kubectl apply -f manifests/",
                         "kubectl apply -n annal-system -f manifests/examples/annalcluster-3.yaml"]
QUICK_START_HELM = ["helm install annal charts/annal --namespace annal-system --create-namespace",
                    "kubectl apply -n annal-system -f manifests/examples/annalcluster-3.yaml"]


def case_readme(tools):
    tested = set(QUICK_START_MANIFESTS + QUICK_START_HELM)
    text = open(tools.path("README.md")).read()
    for command in tested:
        check(command in text, f"README.md lacks the tested quick-start command: {command}")
    for name in ["README.md", "charts/README.md", "manifests/README.md"]:
        for line in open(tools.path(name)):
            line = line.strip().rstrip("\\").strip()
            if re.match(r"^(\$ )?(helm (install|upgrade)|kubectl apply)\b", line):
                command = re.sub(r"^\$ ", "", line).split(" #")[0].strip()
                check(command in tested or "manifests/examples/" in command,
                      f"{name} shows '{command}', which no test runs")
    log("README quick starts are the commands the packaging tests run")


# --- RBAC rules as sets of (apiGroup, resource, verb) ---------------------------------

def rule_triples(rules):
    out = set()
    for rule in rules:
        for group in rule.get("apiGroups", []):
            for resource in rule.get("resources", []):
                for verb in rule.get("verbs", []):
                    out.add((group, resource, verb))
    return out


def rbac_of(objects):
    """{kind: triples} of the ClusterRoles/Roles among objects, merged per kind."""
    out = {"ClusterRole": set(), "Role": set()}
    for o in objects:
        if o["kind"] in out:
            out[o["kind"]] |= rule_triples(o.get("rules", []))
    return out


def find(objects, kind, name_suffix=""):
    hits = [o for o in objects if o["kind"] == kind and o["metadata"]["name"].endswith(name_suffix)]
    check(len(hits) == 1, f"expected one {kind} named *{name_suffix}, found {len(hits)}")
    return hits[0]


# --- static ------------------------------------------------------------------------

def case_static(tools):
    # 1. The CRD copies are byte-identical to crds/ (the operator's source of truth).
    crd_dir = tools.path("crds")
    originals = sorted(f for f in os.listdir(crd_dir) if f.endswith(".yaml"))
    chart_crds = sorted(os.listdir(tools.path("charts/annal/crds")))
    check(originals == chart_crds, f"charts/annal/crds {chart_crds} != crds/ {originals}")
    for name in originals:
        original = open(os.path.join(crd_dir, name), "rb").read()
        check(open(tools.path("charts/annal/crds", name), "rb").read() == original,
              f"charts/annal/crds/{name} differs from crds/{name}: copy it again")
    manifest_crds = [f for f in os.listdir(tools.path("manifests")) if "crd" in f]
    check(len(manifest_crds) == len(originals), f"manifests/ CRD files: {manifest_crds}")
    joined = b"".join(open(os.path.join(crd_dir, n), "rb").read() for n in originals)
    copies = b"".join(open(tools.path("manifests", n), "rb").read() for n in sorted(manifest_crds))
    check(copies == joined, "manifests/ CRD copy differs from crds/: copy it again")
    log(f"CRD copies identical to crds/ ({', '.join(originals)})")

    # 2. The schema: defaults and ci/ values pass, every bad-values file fails for its reason.
    r = tools.render(validate_only=True)
    check(r.returncode == 0, f"default values rejected: {r.stderr}")
    ci_dir = tools.path("charts/annal/ci")
    ci_files = sorted(os.path.join(ci_dir, f) for f in os.listdir(ci_dir))
    for f in ci_files:
        r = tools.render(values=f, validate_only=True)
        check(r.returncode == 0, f"{f} rejected: {r.stderr}")
    bad_dir = tools.path("tests/packaging/bad-values")
    bad_files = sorted(os.listdir(bad_dir))
    check(len(bad_files) >= 5, "too few bad-values files")
    for name in bad_files:
        text = open(os.path.join(bad_dir, name)).read()
        m = re.search(r"^# expect: (.+)$", text, re.M)
        check(m, f"{name}: no '# expect:' line")
        r = tools.render(values=os.path.join(bad_dir, name), validate_only=True)
        check(r.returncode != 0, f"{name} was accepted by values.schema.json")
        check(m.group(1) in r.stderr,
              f"{name} rejected, but not for '{m.group(1)}':\n{r.stderr}")
        # Helm validates before rendering: the full render must fail as well.
        check(tools.render(values=os.path.join(bad_dir, name)).returncode != 0,
              f"{name}: render succeeded")
    log(f"values.schema.json: defaults and {len(ci_files)} ci/ files pass, "
        f"{len(bad_files)} bad files rejected for the expected reason")

    # 3. Rendering: default values and each ci/ file give parseable objects.
    api_versions = os.path.join(tools.work, "api-versions-with-monitoring")
    with open(api_versions, "w") as f:
        f.write("v1\napps/v1\npolicy/v1\nmonitoring.coreos.com/v1\n"
                "monitoring.coreos.com/v1/ServiceMonitor\n")
    rendered = {}
    for values in [None] + ci_files:
        label = os.path.basename(values) if values else "defaults"
        out = os.path.join(tools.work, f"static-{label}.yaml")
        notes = out + ".NOTES.txt"
        r = tools.render(values=values, api_versions=api_versions, notes=notes)
        check(r.returncode == 0, f"rendering {label} failed: {r.stderr}")
        open(out, "w").write(r.stdout)
        rendered[label] = tools.yaml_to_objects(out)
        check(os.path.getsize(notes) > 0, f"{label}: empty NOTES.txt")
        kinds = sorted(o["kind"] for o in rendered[label])
        log(f"rendered {label}: {', '.join(kinds)}")
    default = rendered["defaults"]
    deployment = find(default, "Deployment")
    args = deployment["spec"]["template"]["spec"]["containers"][0]["args"]
    check("--leader-elect" in args, "the operator Deployment has no --leader-elect")
    check(deployment["spec"]["replicas"] == 2, "the operator Deployment should have 2 replicas")
    check(not any(o["kind"] == "AnnalCluster" for o in default), "defaults create an AnnalCluster")
    check(any(o["kind"] == "AnnalCluster" for o in rendered["cluster-values.yaml"]),
          "cluster.enabled renders no AnnalCluster")
    check(any(o["kind"] == "ServiceMonitor" for o in rendered["servicemonitor-values.yaml"]),
          "serviceMonitor.enabled renders no ServiceMonitor")
    namespaced = rbac_of(rendered["namespaced-values.yaml"])
    check(not any(o["kind"] == "ClusterRole" for o in rendered["namespaced-values.yaml"]),
          "watchNamespace set, yet a ClusterRole is rendered")
    # Without the ServiceMonitor API, enabling it must fail with a clear message.
    r = tools.render(values=os.path.join(ci_dir, "servicemonitor-values.yaml"))
    check(r.returncode != 0 and "ServiceMonitor" in r.stderr,
          "serviceMonitor.enabled without the API should fail to render")

    # 4. manifests/ and the chart agree in substance.
    manifest_objects = []
    for name in sorted(os.listdir(tools.path("manifests"))):
        if name.endswith(".yaml"):
            manifest_objects += tools.yaml_to_objects(tools.path("manifests", name))
    m_rbac, c_rbac = rbac_of(manifest_objects), rbac_of(default)
    check(m_rbac == c_rbac, f"RBAC differs: manifests {m_rbac} chart {c_rbac}")
    check(namespaced["Role"] == c_rbac["ClusterRole"] | c_rbac["Role"],
          "the namespaced chart's Roles do not carry the same rules")
    m_dep = find(manifest_objects, "Deployment")
    for path in [("spec", "replicas"), ("spec", "template", "spec", "securityContext"),
                 ("spec", "template", "spec", "serviceAccountName")]:
        a, b = m_dep, deployment
        for key in path:
            a, b = a[key], b[key]
        check(a == b, f"Deployment {'.'.join(path)}: manifests {a} != chart {b}")
    mc, cc = (d["spec"]["template"]["spec"]["containers"][0] for d in (m_dep, deployment))
    for key in ["image", "command", "args", "env", "ports", "securityContext", "resources",
                "livenessProbe", "readinessProbe"]:
        check(mc.get(key) == cc.get(key), f"container {key}: manifests {mc.get(key)} != chart {cc.get(key)}")
    for kind in ["ServiceAccount", "ClusterRoleBinding", "RoleBinding", "Service"]:
        check(sum(o["kind"] == kind for o in manifest_objects) == sum(o["kind"] == kind for o in default),
              f"manifests and chart differ in the number of {kind}s")
    log(f"manifests/ and the chart agree: {len(m_rbac['ClusterRole'])} cluster-wide and "
        f"{len(m_rbac['Role'])} namespaced RBAC permissions, Deployment, Services")


# --- a control plane ------------------------------------------------------------------

class Kube:
    def __init__(self, tools, name):
        self.tools = tools
        self.dir = os.path.join(tools.work, name)
        self.kube_dir = tools.path("tests/operator/kube")
        self.vars = {}

    def start(self):
        if os.path.exists(self.dir):
            subprocess.run([os.path.join(self.kube_dir, "stop.sh"), self.dir], capture_output=True)
            subprocess.run(["rm", "-rf", self.dir], check=True)
        env = dict(os.environ, ANNAL_KUBE_WATCH_PID=str(os.getpid()))
        started = time.monotonic()
        r = subprocess.run([os.path.join(self.kube_dir, "start.sh"), self.dir], env=env,
                           capture_output=True, text=True, timeout=180)
        if r.returncode == 3:
            print(r.stderr, file=sys.stderr)
            raise SystemExit(SKIP)
        check(r.returncode == 0, f"start.sh failed: {r.stderr}")
        for line in open(os.path.join(self.dir, "env")):
            if line.startswith("export "):
                key, _, value = line[len("export "):].strip().partition("=")
                self.vars[key] = value.strip("'")
        log(f"control plane up in {time.monotonic() - started:.1f} s at {self.vars['ANNAL_KUBE_API']}")

    def stop(self):
        subprocess.run([os.path.join(self.kube_dir, "stop.sh"), self.dir], capture_output=True)

    def kubectl(self, *args, check_rc=True, input=None, kubeconfig=None):
        env = dict(os.environ, KUBECONFIG=kubeconfig or self.vars["KUBECONFIG"])
        r = subprocess.run([self.vars["ANNAL_KUBECTL"], *args], input=input, env=env,
                           capture_output=True, text=True, timeout=120)
        if check_rc and r.returncode != 0:
            raise Failure(f"kubectl {' '.join(args)} failed: {r.stderr.strip()}")
        return r

    def get(self, kind, name, ns=None):
        args = ["get", kind, name, "-o", "json"] + (["-n", ns] if ns else [])
        r = self.kubectl(*args, check_rc=False)
        return json.loads(r.stdout) if r.returncode == 0 else None

    def api(self, method, path, body=None, content_type="application/json"):
        ctx = ssl.create_default_context(cafile=self.vars["ANNAL_KUBE_CA"])
        req = urllib.request.Request(self.vars["ANNAL_KUBE_API"] + path, method=method,
                                     data=None if body is None else json.dumps(body).encode())
        req.add_header("Authorization", "Bearer " + self.vars["ANNAL_KUBE_TOKEN"])
        req.add_header("Content-Type", content_type)
        with urllib.request.urlopen(req, context=ctx, timeout=30) as resp:
            return json.loads(resp.read())

    def api_versions(self, path):
        """What Helm's .Capabilities.APIVersions holds: every served group/version and
        group/version/Kind, from discovery."""
        entries = set()
        for gv in self.api("GET", "/api")["versions"]:
            entries.add(gv)
            for r in self.api("GET", f"/api/{gv}")["resources"]:
                entries.add(f"{gv}/{r['kind']}")
        for group in self.api("GET", "/apis")["groups"]:
            for v in group["versions"]:
                gv = v["groupVersion"]
                entries.add(gv)
                for r in self.api("GET", f"/apis/{gv}")["resources"]:
                    entries.add(f"{gv}/{r['kind']}")
        with open(path, "w") as f:
            f.write("\n".join(sorted(entries)) + "\n")
        return entries

    def wait_crd(self, name):
        self.kubectl("wait", "--for", "condition=established", "--timeout", "60s", f"crd/{name}")


def wait_for(what, predicate, timeout, interval=0.5):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            last = predicate()
            if last:
                return last
        except Fatal:
            raise
        except Failure:
            pass
        time.sleep(interval)
    raise Failure(f"timed out after {timeout}s waiting for {what}")


# --- apply: the README quick starts on a real API server ------------------------------

# A stand-in for the Prometheus operator's CRD, so the ServiceMonitor example is applied
# (and .Capabilities sees the API) as on a cluster that has it.
SERVICE_MONITOR_CRD = {
    "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
    "metadata": {"name": "servicemonitors.monitoring.coreos.com"},
    "spec": {"group": "monitoring.coreos.com", "scope": "Namespaced",
             "names": {"kind": "ServiceMonitor", "plural": "servicemonitors",
                       "singular": "servicemonitor", "listKind": "ServiceMonitorList"},
             "versions": [{"name": "v1", "served": True, "storage": True,
                           "schema": {"openAPIV3Schema": {
                               "type": "object", "x-kubernetes-preserve-unknown-fields": True}}}]}}


def case_manifests(tools):
    """README quick start 1: kubectl apply -f manifests/, then the examples."""
    kube = Kube(tools, "manifests-env")
    kube.start()
    try:
        r = kube.kubectl("apply", "-f", tools.path("manifests"))
        log("kubectl apply -f manifests/:\n  " + r.stdout.strip().replace("\n", "\n  "))
        expected = sum(len(tools.yaml_to_objects(tools.path("manifests", f)))
                       for f in os.listdir(tools.path("manifests")) if f.endswith(".yaml"))
        check(len(r.stdout.strip().splitlines()) == expected,
              f"kubectl apply -f manifests/ applied {len(r.stdout.strip().splitlines())} of {expected}")
        kube.wait_crd("annalclusters.annal.dev")
        for name in sorted(os.listdir(tools.path("manifests/examples"))):
            r = kube.kubectl("apply", "-n", "annal-system", "-f",
                             tools.path("manifests/examples", name))
            log(f"kubectl apply -f manifests/examples/{name}: {r.stdout.strip()}")
        check(kube.get("annalcluster", "secure", "annal-system")["spec"]["tls"]["mode"] == "Secret",
              "the TLS example lost its TLS mode")
        hpa = kube.get("hpa", "example", "annal-system")
        check(hpa and hpa["spec"]["scaleTargetRef"]["kind"] == "AnnalCluster", "HPA not created")
        # The HPA's target is scalable: the scale subresource answers for it, with a selector.
        scale = kube.api("GET", "/apis/annal.dev/v1alpha1/namespaces/annal-system/"
                                "annalclusters/example/scale")
        check(scale["spec"]["replicas"] == 3, f"scale subresource: {scale}")
        dep = wait_for("the manifests' operator pods",
                       lambda: (d := kube.get("deployment", "annal-operator", "annal-system"))
                       and d.get("status", {}).get("replicas") == 2 and d, 60)
        log(f"Deployment annal-operator: {dep['status'].get('replicas')} pods created "
            "(ServiceAccount and security context admitted)")
        # An invalid cluster is refused by the server (client-side validation off).
        bad = json.dumps({"apiVersion": "annal.dev/v1alpha1", "kind": "AnnalCluster",
                          "metadata": {"name": "bad", "namespace": "annal-system"},
                          "spec": {"replicas": 0, "image": "annal:0.1.0"}})
        r = kube.kubectl("apply", "--validate=false", "-f", "-", input=bad, check_rc=False)
        check(r.returncode != 0 and "spec.replicas" in r.stderr,
              f"the server accepted replicas 0: {r.stdout}{r.stderr}")
        log(f"the server rejects replicas 0: {r.stderr.strip().splitlines()[-1][:120]}")
    finally:
        kube.stop()


def case_chart(tools):
    """README quick start 2: the chart as `helm install annal charts/annal --namespace
    annal-system --create-namespace` renders it against this server (CRDs from crds/
    first, then the templates), and each ci/ values file as its own release."""
    kube = Kube(tools, "chart-env")
    kube.start()
    try:
        kube.kubectl("apply", "-f", "-", input=json.dumps(SERVICE_MONITOR_CRD))
        kube.wait_crd("servicemonitors.monitoring.coreos.com")
        api_versions = os.path.join(tools.work, "api-versions")
        entries = kube.api_versions(api_versions)
        check("policy/v1beta1" in entries and "monitoring.coreos.com/v1/ServiceMonitor" in entries,
              "discovery misses expected API versions")
        kube.kubectl("apply", "-f", tools.path("charts/annal/crds"))
        kube.wait_crd("annalclusters.annal.dev")
        ci_dir = tools.path("charts/annal/ci")
        installs = [("annal", "annal-system", None)] + [
            (f"ci-{f.split('-')[0]}", f"ci-{f.split('-')[0]}", os.path.join(ci_dir, f))
            for f in sorted(os.listdir(ci_dir))]
        for release, ns, values in installs:
            out = os.path.join(tools.work, f"chart-{release}.yaml")
            r = tools.render(values=values, release=release, namespace=ns,
                             api_versions=api_versions, notes=out + ".NOTES.txt")
            check(r.returncode == 0, f"render {release}: {r.stderr}")
            open(out, "w").write(r.stdout)
            kube.kubectl("create", "namespace", ns)
            objects = tools.yaml_to_objects(out)
            for o in objects:
                other = o.get("metadata", {}).get("namespace")
                if other and other != ns:
                    kube.kubectl("create", "namespace", other, check_rc=False)
            # Like helm, each object goes to the namespace it names (all of them name one).
            r = kube.kubectl("apply", "-f", out)
            applied = len(r.stdout.strip().splitlines())
            check(applied == len(objects), f"{release}: applied {applied} of {len(objects)}:\n{r.stdout}")
            r = kube.kubectl("get", "-f", out, "-o", "name")
            check(len(r.stdout.split()) == len(objects), f"{release}: objects missing after apply")
            log(f"release {release} ({os.path.basename(values) if values else 'default values'}) "
                f"applied in {ns}: {len(objects)} objects")
        dep = wait_for("the chart's operator pods",
                       lambda: (d := kube.get("deployment", "annal-operator", "annal-system"))
                       and d.get("status", {}).get("replicas") == 2 and d, 60)
        log(f"Deployment annal-operator: {dep['status']['replicas']} pods created")
        check(kube.get("annalcluster", "events", "ci-cluster") is not None,
              "the chart's AnnalCluster is missing")
        check(kube.get("servicemonitor", "ci-servicemonitor-annal-operator", "ci-servicemonitor"),
              "the chart's ServiceMonitor is missing")
        check(kube.get("role", "ci-namespaced-annal-operator", "annal-apps"),
              "the namespaced release's Role is missing")
    finally:
        kube.stop()


# --- rbac: sufficient and minimal ------------------------------------------------------

HOP_HEADERS = {"connection", "keep-alive", "proxy-connection", "transfer-encoding", "te",
               "trailer", "upgrade", "content-length", "host"}


class RecordingProxy:
    """A TLS proxy in front of the API server that records every request's method, path and
    status, so the test sees exactly what annal-operator asks for and what was denied."""

    def __init__(self, upstream, ca_file, cert_file, key_file):
        self.requests = []
        self.lock = threading.Lock()
        parsed = urllib.parse.urlparse(upstream)
        upstream_ctx = ssl.create_default_context(cafile=ca_file)
        proxy = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def forward(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else None
                conn = http.client.HTTPSConnection(parsed.hostname, parsed.port,
                                                   context=upstream_ctx, timeout=600)
                headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_HEADERS}
                conn.request(self.command, self.path, body=body, headers=headers)
                resp = conn.getresponse()
                with proxy.lock:
                    proxy.requests.append((self.command, self.path, resp.status))
                self.send_response(resp.status)
                for k, v in resp.getheaders():
                    if k.lower() not in HOP_HEADERS:
                        self.send_header(k, v)
                if resp.getheader("Content-Length") is not None:
                    data = resp.read()
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                else:  # streamed (watch): pass chunks through as they come
                    self.send_header("Transfer-Encoding", "chunked")
                    self.end_headers()
                    try:
                        while True:
                            data = resp.read1(65536)
                            if not data:
                                break
                            self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
                            self.wfile.flush()
                        self.wfile.write(b"0\r\n\r\n")
                    except (OSError, ssl.SSLError):
                        # The client went away mid-stream (a stopped watch): normal.
                        self.close_connection = True
                conn.close()

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = forward

        class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
            daemon_threads = True

            def handle_error(self, request, client_address):
                pass  # a client hanging up (the operator stopping) is not a test failure

        self.server = Server(("127.0.0.1", 0), Handler)
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(cert_file, key_file)
        self.server.socket = ctx.wrap_socket(self.server.socket, server_side=True)
        self.url = f"https://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def take(self):
        with self.lock:
            out, self.requests = self.requests, []
        return out


def rbac_attributes(method, path, status):
    """The RBAC (apiGroup, resource, verb) triples a request needs; None for discovery."""
    url = urllib.parse.urlparse(path)
    query = urllib.parse.parse_qs(url.query)
    parts = [p for p in url.path.split("/") if p]
    if parts[:2] == ["api", "v1"]:
        group, rest = "", parts[2:]
    elif parts[:1] == ["apis"] and len(parts) >= 3:
        group, rest = parts[1], parts[3:]
    else:
        return None
    if not rest:
        return None  # discovery of one group version
    if rest[0] == "namespaces" and len(rest) >= 3:
        rest = rest[2:]
    resource, name = rest[0], rest[1] if len(rest) > 1 else None
    if len(rest) > 2:
        resource += "/" + rest[2]
    if method == "GET":
        verbs = ["get"] if name else ["watch" if query.get("watch", [""])[0] in ("1", "true") else "list"]
    else:
        verbs = [{"POST": "create", "PUT": "update", "PATCH": "patch", "DELETE": "delete"}[method]]
        # Server-side apply of an absent object creates it: that needs create as well.
        if method == "PATCH" and status == 201:
            verbs.append("create")
    return {(group, resource, v) for v in verbs}


class OperatorRun:
    def __init__(self, kube, tools, operator, kubeconfig, name):
        self.name = name
        self.logpath = os.path.join(tools.work, f"operator-{name}.log")
        self.proc = subprocess.Popen(
            [operator, "--kubeconfig", kubeconfig, "--leader-elect", "--lease-namespace",
             "annal-system", "--lease-duration", "6", "--renew-deadline", "4", "--retry-period",
             "1", "--resync", "600", "--metrics-port", "0", "--id", name],
            stdout=open(self.logpath, "w"), stderr=subprocess.STDOUT)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def tail(self, n=15):
        return "".join(open(self.logpath).readlines()[-n:])


def cluster_manifest(ns, name):
    return {"apiVersion": "annal.dev/v1alpha1", "kind": "AnnalCluster",
            "metadata": {"name": name, "namespace": ns},
            "spec": {"replicas": 3, "image": "annal:0.1.0",
                     "storage": {"size": "1Gi", "onScaleDown": "Delete", "onDelete": "Delete"},
                     "tls": {"mode": "OperatorGenerated"},
                     "config": {"io_threads": 2}}}


def lifecycle(kube, run, ns, name, timeout):
    """Everything the operator does for a cluster, each step checked; raises Failure."""
    kube.kubectl("create", "namespace", ns)
    kube.kubectl("apply", "-f", "-", input=json.dumps(cluster_manifest(ns, name)))

    def reconciled():
        if run.proc.poll() is not None:
            raise Fatal(f"the operator exited ({run.proc.returncode}):\n{run.tail(5)}")
        cr = kube.get("annalcluster", name, ns)
        if cr is None:
            return False
        status = cr.get("status", {})
        if status.get("observedGeneration") != cr["metadata"]["generation"]:
            return False
        if not {"Ready", "Progressing", "Degraded"} <= {c["type"] for c in status.get("conditions", [])}:
            return False
        if not cr["metadata"].get("finalizers"):  # onDelete: Delete needs the operator's
            return False
        for kind, obj in [("statefulset", name), ("service", name), ("service", f"{name}-peers"),
                          ("configmap", f"{name}-config"), ("pdb", name),
                          ("secret", f"{name}-ca"), ("secret", f"{name}-tls")]:
            if kube.get(kind, obj, ns) is None:
                return False
        events = kube.kubectl("get", "events", "-n", ns, "--field-selector",
                              f"involvedObject.name={name},involvedObject.kind=AnnalCluster",
                              "-o", "name").stdout.split()
        lease = kube.get("lease", "annal-operator", "annal-system")
        return bool(events) and lease and lease["spec"].get("holderIdentity") == run.name
    wait_for(f"{ns}/{name} reconciled (objects, status, finalizer, events, lease)", reconciled, timeout)
    # Renewing the Lease (an update) must keep working: leadership held for two renewals.
    renew = kube.get("lease", "annal-operator", "annal-system")["spec"]["renewTime"]
    wait_for("a Lease renewal", lambda: run.proc.poll() is None and kube.get(
        "lease", "annal-operator", "annal-system")["spec"]["renewTime"] != renew, 10)

    # Once the rollout is complete the operator stops requeueing; resync is 600 s. Then a
    # deleted ConfigMap (core) or PDB (policy) can only come back through its own watch
    # (the StatefulSet's pods change too, so apps/statefulsets is also seen via pods).
    def rolled_out():
        conditions = kube.get("annalcluster", name, ns).get("status", {}).get("conditions", [])
        return any(c["type"] == "Progressing" and c["status"] == "False" for c in conditions)
    wait_for("the rollout to complete (Progressing False)", rolled_out, timeout)
    for kind, obj in [("configmap", f"{name}-config"), ("pdb", name), ("statefulset", name)]:
        uid = kube.get(kind, obj, ns)["metadata"]["uid"]
        kube.kubectl("delete", kind, obj, "-n", ns, "--wait=false")
        wait_for(f"{kind} {obj} re-created", lambda: (o := kube.get(kind, obj, ns)) and
                 o["metadata"]["uid"] != uid and run.proc.poll() is None, timeout)
    # Scale down: the volumes of removed members are deleted (onScaleDown: Delete).
    wait_for("volumes of all members", lambda: all(
        kube.get("pvc", f"data-{name}-{i}", ns) for i in range(3)), timeout)
    kube.kubectl("patch", "annalcluster", name, "-n", ns, "--type", "merge", "-p",
                 '{"spec":{"replicas":1}}')
    wait_for("volumes of removed members deleted", lambda: kube.get(
        "pvc", f"data-{name}-1", ns) is None and kube.get("pvc", f"data-{name}-2", ns) is None
        and run.proc.poll() is None, timeout)
    # Deletion: the finalizer deletes the StatefulSet and every volume, then lets go.
    kube.kubectl("delete", "annalcluster", name, "-n", ns, "--wait=false")
    wait_for("the AnnalCluster finalized and gone", lambda: kube.get(
        "annalcluster", name, ns) is None and kube.get("pvc", f"data-{name}-0", ns) is None,
        timeout)


def sa_kubeconfig(kube, tools, proxy_url, ca_file):
    """A kubeconfig with the token of the manifests' ServiceAccount (a token Secret: works
    from Kubernetes 1.20 to today), pointing at the recording proxy."""
    secret = {"apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/service-account-token",
              "metadata": {"name": "annal-operator-token", "namespace": "annal-system",
                           "annotations": {"kubernetes.io/service-account.name": "annal-operator"}}}
    kube.kubectl("apply", "-f", "-", input=json.dumps(secret))
    token_b64 = wait_for("the ServiceAccount token", lambda: kube.kubectl(
        "get", "secret", "annal-operator-token", "-n", "annal-system", "-o",
        "jsonpath={.data.token}").stdout.strip(), 30)
    import base64
    token = base64.b64decode(token_b64).decode()
    path = os.path.join(tools.work, "operator-sa.kubeconfig")
    with open(path, "w") as f:
        f.write(f"""apiVersion: v1
kind: Config
clusters:
- name: proxy
  cluster:
    server: {proxy_url}
    certificate-authority: {ca_file}
contexts:
- name: operator
  context: {{cluster: proxy, user: annal-operator, namespace: annal-system}}
current-context: operator
users:
- name: annal-operator
  user:
    token: {token}
""")
    os.chmod(path, 0o600)
    return path


def proxy_certificate(kube, tools):
    certs = os.path.join(kube.dir, "certs")
    key, crt = os.path.join(tools.work, "proxy.key"), os.path.join(tools.work, "proxy.crt")
    csr, ext = crt + ".csr", crt + ".ext"
    open(ext, "w").write("subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n")
    for cmd in (["openssl", "ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", key],
                ["openssl", "req", "-new", "-key", key, "-subj", "/CN=rbac-proxy", "-out", csr],
                ["openssl", "x509", "-req", "-in", csr, "-CA", f"{certs}/ca.crt", "-CAkey",
                 f"{certs}/ca.key", "-CAcreateserial", "-CAserial", crt + ".srl", "-days", "2",
                 "-sha256", "-extfile", ext, "-out", crt]):
        subprocess.run(cmd, check=True, capture_output=True)
    return crt, key


def case_rbac(tools, operator):
    check(operator and os.access(operator, os.X_OK), f"no operator binary: {operator}")
    kube = Kube(tools, "rbac-env")
    kube.start()
    run = None
    try:
        kube.kubectl("apply", "-f", tools.path("manifests"))
        kube.wait_crd("annalclusters.annal.dev")
        granted = rbac_of(tools.yaml_to_objects(tools.path("manifests/02-rbac.yaml")))
        granted_all = granted["ClusterRole"] | granted["Role"]
        crt, key = proxy_certificate(kube, tools)
        proxy = RecordingProxy(kube.vars["ANNAL_KUBE_API"], kube.vars["ANNAL_KUBE_CA"], crt, key)
        kubeconfig = sa_kubeconfig(kube, tools, proxy.url, kube.vars["ANNAL_KUBE_CA"])

        # 1. Sufficient: the whole life of a cluster with no request denied.
        started = time.monotonic()
        run = OperatorRun(kube, tools, operator, kubeconfig, "rbac-full")
        lifecycle(kube, run, "rbac-full", "demo", 90)
        run.stop()
        time.sleep(0.5)
        requests = proxy.take()
        denied = [r for r in requests if r[2] in (401, 403)]
        check(not denied, "requests denied with the manifests' RBAC:\n" +
              "\n".join(f"  {m} {p} -> {s}" for m, p, s in denied[:20]))
        used = set()
        for m, p, s in requests:
            used |= rbac_attributes(m, p, s) or set()
        log(f"full lifecycle in {time.monotonic() - started:.1f} s: {len(requests)} requests, "
            f"none denied")
        # 2. Minimal: every granted verb was used. The one exception is documented in the
        # rules: annalclusters/finalizers update matters only where the
        # OwnerReferencesPermissionEnforcement admission plugin runs (not on this server).
        unexercisable = {("annal.dev", "annalclusters/finalizers", "update")}
        unused = granted_all - used - unexercisable
        check(not unused, f"granted but never used (remove them): {sorted(unused)}")
        check(used <= granted_all, f"used but not granted: {sorted(used - granted_all)}")
        log(f"every one of the {len(granted_all - unexercisable)} granted permissions was used "
            f"(not exercisable here: {sorted(unexercisable)})")

        # 3. Each removal makes the check fail, with the removed permission denied.
        role = kube.get("clusterrole", "annal-operator")
        lease_role = kube.get("role", "annal-operator-leader-election", "annal-system")
        selection = os.environ.get("ANNAL_RBAC_REMOVALS", "")
        candidates = sorted(granted_all - unexercisable)
        if selection == "all":
            removals = candidates
        elif selection:
            removals = [tuple(x.split(":")) for x in selection.split(",")]
        else:  # one per kind of failure: an owned object, the status, events, the Lease
            removals = [("apps", "statefulsets", "patch"), ("annal.dev", "annalclusters/status", "patch"),
                        ("", "events", "create"), ("coordination.k8s.io", "leases", "update")]
        for index, (group, resource, verb) in enumerate(removals):
            target, role_kind, role_ns = (lease_role, "role", "annal-system") if \
                resource == "leases" else (role, "clusterrole", None)
            reduced = json.loads(json.dumps(target))
            new_rules = []
            for rule in reduced["rules"]:
                for r in rule["resources"]:
                    verbs = [v for v in rule["verbs"] if (rule["apiGroups"][0], r, v) != (group, resource, verb)]
                    if verbs:
                        new_rules.append({"apiGroups": rule["apiGroups"], "resources": [r], "verbs": verbs})
            reduced["rules"] = new_rules
            for k in ("resourceVersion", "uid", "creationTimestamp", "managedFields"):
                reduced["metadata"].pop(k, None)
            kube.kubectl("replace", "-f", "-", input=json.dumps(reduced))
            time.sleep(1)  # RBAC caches update within milliseconds; give it a moment
            name = f"rbac-minus-{index}"
            run = OperatorRun(kube, tools, operator, kubeconfig, name)
            failed = None
            try:
                lifecycle(kube, run, name, "demo", 20)
            except Failure as e:
                failed = str(e)
            run.stop()
            requests = proxy.take()
            denied = set()
            for m, p, s in requests:
                if s == 403:
                    denied |= rbac_attributes(m, p, s) or set()
            was_denied = (group, resource, verb) in denied or \
                (verb == "create" and (group, resource, "patch") in denied)
            # The operator asked for exactly this permission: it is used.
            check(was_denied, f"without {verb} {resource} no such request was denied "
                  f"(check: {failed or 'passed'}); denied: {sorted(denied)}")
            if failed is None:
                # Some verbs only make the operator slower (e.g. a pod watch: it still
                # requeues while Progressing). Representative removals must break it.
                check(selection == "all", f"without {verb} on {group or 'core'}/{resource} "
                      "the operator still passed the whole check")
                log(f"without {verb} {group or 'core'}/{resource}: denied, but the lifecycle "
                    "still completed (the permission serves promptness, not correctness)")
            else:
                log(f"without {verb} {group or 'core'}/{resource}: denied, and the check fails "
                    f"({failed.splitlines()[0][:90]})")
            restored = json.loads(json.dumps(target))
            for k in ("resourceVersion", "uid", "creationTimestamp", "managedFields"):
                restored["metadata"].pop(k, None)
            kube.kubectl("replace", "-f", "-", input=json.dumps(restored))
            target_now = kube.get(role_kind, target["metadata"]["name"], role_ns)
            if resource == "leases":
                lease_role = target_now
            else:
                role = target_now
    finally:
        if run:
            run.stop()
        kube.stop()


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--repo", required=True)
    p.add_argument("--render", required=True)
    p.add_argument("--work", required=True)
    p.add_argument("--operator")
    p.add_argument("case", choices=["static", "readme", "manifests", "chart", "rbac"])
    args = p.parse_args()
    try:
        if args.case != "readme":
            ensure_renderer(args.repo, args.render)
        tools = Tools(args)
        if args.case == "static":
            case_static(tools)
        elif args.case == "readme":
            case_readme(tools)
        elif args.case == "manifests":
            case_manifests(tools)
        elif args.case == "chart":
            case_chart(tools)
        else:
            case_rbac(tools, args.operator)
    except Failure as e:
        log(f"FAIL: {e}")
        return 1
    log("PASS")
    return 0


if __name__ == "__main__":
    sys.exit(main())
