"""Runs clusters of real `annal node` processes on loopback for the cluster tests.

A `Cluster` owns N node processes (ids 1..N, one free loopback port and one data
directory each) started with `--initial-cluster`; it can kill -9, SIGSTOP/SIGCONT and
restart them on the same port and data directory, read each node's /admin/cluster view,
wait for a leader and for every node to apply everything committed, and compare the
nodes' logs. `AppendLoad` runs client threads that append single events with
client-chosen ids, follow 307 redirects to the leader and retry 503 / connection errors
with the SAME event id (so a retry can never store an event twice), and records every
acknowledged (id, stream, position). `verify_cluster` checks the logs against the acks.

Every process started here is killed when the test exits, however it exits.
Python standard library only.
"""
import atexit
import http.client
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import uuid

_children = []


def _cleanup():
    for child in _children:
        if child.poll() is None:
            try:
                child.send_signal(signal.SIGCONT)
            except OSError:
                pass
            child.kill()
            child.wait()


atexit.register(_cleanup)
# SIGTERM from ctest's timeout must still run the atexit cleanup.
signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))


def log(message):
    print("[%7.2f] %s" % (time.monotonic() - _T0, message), flush=True)


_T0 = time.monotonic()


def fail(message):
    print("FAIL: " + message, file=sys.stderr, flush=True)
    sys.exit(1)


def check(condition, message):
    if not condition:
        fail(message)


def free_ports(count):
    """Distinct free loopback ports (all bound at once so they differ)."""
    probes = []
    try:
        for _ in range(count):
            probe = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            probe.bind(("127.0.0.1", 0))
            probes.append(probe)
        return [probe.getsockname()[1] for probe in probes]
    finally:
        for probe in probes:
            probe.close()


class Reply:
    def __init__(self, status, body, headers):
        self.status = status
        self.body = body
        self.headers = headers

    def json(self):
        try:
            return json.loads(self.body)
        except ValueError:
            return None

    def __repr__(self):
        return "%d %s" % (self.status, self.body[:300])


# TLS clusters (tls_test.py): an ssl.SSLContext trusting the cluster CA makes every
# request of the harness https; None (the default) keeps plain http.
https_context = None


def use_https(ca_file):
    """Makes the harness talk https to the nodes, verifying them against `ca_file`."""
    import ssl
    global https_context
    https_context = ssl.create_default_context(cafile=ca_file)


def http_request(port, method, path, body=None, timeout=5.0, context=None):
    """One request on a fresh connection; raises OSError/HTTPException on transport errors.
    `context`: an ssl.SSLContext for this request instead of the harness-wide one."""
    context = context or https_context
    if context is not None:
        conn = http.client.HTTPSConnection("127.0.0.1", port, timeout=timeout, context=context)
    else:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        headers = {}
        if body is not None:
            if not isinstance(body, (bytes, str)):
                body = json.dumps(body)
            headers["Content-Type"] = "application/json"
        conn.request(method, path, body=body, headers=headers)
        reply = conn.getresponse()
        return Reply(reply.status, reply.read(), reply.headers)
    finally:
        conn.close()


def port_of_location(location):
    parts = urllib.parse.urlsplit(location)
    return parts.port


def stream_path(stream):
    return "/v1/streams/" + urllib.parse.quote(stream, safe="")


class ClusterNode:
    def __init__(self, cluster, node_id, port):
        self.cluster = cluster
        self.id = node_id
        self.port = port
        self.data_dir = os.path.join(cluster.work, "node-%d" % node_id)
        self.process = None
        self.starts = 0
        self.stopped = False  # SIGSTOPped
        self.extra_args = []
        self.log_path = None

    @property
    def address(self):
        return "127.0.0.1:%d" % self.port

    @property
    def running(self):
        return self.process is not None and self.process.poll() is None

    @property
    def responsive(self):
        return self.running and not self.stopped

    def start(self, initial_cluster, join=False, wait=True):
        """initial_cluster None (and join False): a standalone node."""
        check(not self.running, "node %d is already running" % self.id)
        self.starts += 1
        self.log_path = os.path.join(self.cluster.work, "node-%d.log.%d" % (self.id, self.starts))
        args = [self.cluster.annal, "node", "--data-dir", self.data_dir,
                "--listen-address", "127.0.0.1", "--listen-port", str(self.port)]
        if initial_cluster is not None or join:
            args += ["--node-id", str(self.id), "--cluster-id", self.cluster.cluster_id,
                     "--tick-ms", str(self.cluster.tick_ms)]
        if join:
            args += ["--join", "true"]
        if initial_cluster is not None:
            # With join: where the existing members are (membership comes from the log).
            args += ["--initial-cluster", initial_cluster]
        args += self.cluster.extra_args + self.extra_args
        with open(self.log_path, "wb") as out:
            self.process = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT)
        _children.append(self.process)
        self.stopped = False
        if wait:
            self.wait_listening()
        return self

    def wait_listening(self, timeout=30):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                fail("node %d exited with %s during start:\n%s"
                     % (self.id, self.process.returncode, self.log_text()))
            try:
                if http_request(self.port, "GET", "/healthz", timeout=2).status == 200:
                    return
            except (OSError, http.client.HTTPException):
                pass
            time.sleep(0.05)
        fail("node %d did not answer /healthz in %ds:\n%s" % (self.id, timeout, self.log_text()))

    def kill9(self):
        if self.stopped:
            self.cont()
        self.process.kill()
        self.process.wait()

    def stop(self):
        self.process.send_signal(signal.SIGSTOP)
        self.stopped = True

    def cont(self):
        self.process.send_signal(signal.SIGCONT)
        self.stopped = False

    def terminate(self, timeout=60):
        if self.stopped:
            self.cont()
        self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            fail("node %d did not exit within %ds of SIGTERM:\n%s"
                 % (self.id, timeout, self.log_text()))

    def log_text(self, tail=4000):
        try:
            with open(self.log_path, "rb") as out:
                return out.read().decode(errors="replace")[-tail:]
        except (OSError, TypeError):
            return ""

    def view(self, timeout=2.0):
        """This node's /admin/cluster view (dict), or None if it does not answer."""
        if not self.responsive:
            return None
        try:
            reply = http_request(self.port, "GET", "/admin/cluster", timeout=timeout)
        except (OSError, http.client.HTTPException):
            return None
        return reply.json() if reply.status == 200 else None

    def request(self, method, path, body=None, timeout=10.0):
        return http_request(self.port, method, path, body, timeout)

    def metrics(self):
        try:
            reply = http_request(self.port, "GET", "/metrics", timeout=5)
        except (OSError, http.client.HTTPException):
            return ""
        return reply.body.decode(errors="replace") if reply.status == 200 else ""


class Cluster:
    def __init__(self, annal, size, work=None, cluster_id=None, tick_ms=100, extra_args=()):
        self.annal = annal
        self.work = work or tempfile.mkdtemp(prefix="annal-cluster-")
        self.cluster_id = cluster_id or "test-%s" % uuid.uuid4().hex[:8]
        self.tick_ms = tick_ms
        self.extra_args = list(extra_args)
        ports = free_ports(size)
        self.nodes = {i + 1: ClusterNode(self, i + 1, ports[i]) for i in range(size)}
        self.members = set(self.nodes)  # ids whose logs must agree at the end
        self.initial_cluster = ",".join("%d=%s" % (n.id, n.address) for n in self.nodes.values())

    def start(self, leader_timeout=30):
        for node in self.nodes.values():
            node.start(self.initial_cluster, wait=False)
        for node in self.nodes.values():
            node.wait_listening()
        return self.wait_leader(timeout=leader_timeout)

    def add_node(self, node_id):
        port = free_ports(1)[0]
        node = ClusterNode(self, node_id, port)
        self.nodes[node_id] = node
        return node

    def restart(self, node_id):
        self.nodes[node_id].start(self.initial_cluster)

    def node(self, node_id):
        return self.nodes[node_id]

    def ports(self):
        return [n.port for n in self.nodes.values() if n.id in self.members]

    def views(self):
        return {n.id: v for n in self.nodes.values() for v in [n.view()] if v is not None}

    def current_leader(self, exclude=()):
        """Id of the node that calls itself leader in the highest term, or None."""
        best = None
        for node_id, view in self.views().items():
            if node_id in exclude or view.get("role") != "leader":
                continue
            if best is None or view.get("term", 0) > best[1]:
                best = (node_id, view.get("term", 0))
        return best[0] if best else None

    def wait_leader(self, timeout=30, exclude=()):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            leader = self.current_leader(exclude)
            if leader is not None:
                return leader
            time.sleep(0.05)
        fail("no leader (excluding %s) within %ds; views: %s\n%s" % (
            sorted(exclude), timeout, json.dumps(self.views()), self.logs_tail()))

    def wait_converged(self, timeout=60, node_ids=None):
        """Until every responsive member has applied the leader's commit index, the leader's
        commit covers its whole log, and that holds on two polls in a row. Returns the
        leader's view."""
        deadline = time.monotonic() + timeout
        previous = None
        views = {}
        while time.monotonic() < deadline:
            ids = node_ids or sorted(self.members)
            views = {i: self.nodes[i].view() for i in ids}
            leaders = [v for v in views.values() if v and v.get("role") == "leader"]
            if all(views.values()) and len(leaders) == 1:
                leader = leaders[0]
                commit = leader["commit_index"]
                state = tuple((i, v["applied_index"], v.get("term")) for i, v in views.items())
                if (commit == leader.get("last_index", commit)
                        and all(v["applied_index"] == commit for v in views.values())):
                    if state == previous:
                        return leader
                    previous = state
                    time.sleep(0.3)
                    continue
            previous = None
            time.sleep(0.2)
        fail("the cluster did not converge in %ds; views: %s" % (timeout, json.dumps(views)))

    def logs_tail(self):
        return "\n".join("--- node %d (%s) ---\n%s" % (n.id, n.log_path, n.log_text(2000))
                         for n in self.nodes.values())

    def shutdown(self, keep=False):
        for node in self.nodes.values():
            if node.running:
                node.kill9()
        if not keep:
            shutil.rmtree(self.work, ignore_errors=True)


def admin_call(cluster, method, path, body=None, timeout=30, follow=True):
    """An admin request sent to the current leader (following 307). Returns the Reply."""
    port = cluster.nodes[cluster.wait_leader()].port
    for _hop in range(6):
        reply = http_request(port, method, path, body, timeout=timeout)
        if reply.status == 307 and follow:
            port = port_of_location(reply.headers.get("Location", ""))
            continue
        return reply
    return reply


def read_log(port, page=4096):
    """The node's whole global log as it has applied it (stale read: no barrier)."""
    events = []
    position = 1
    while True:
        reply = http_request(port, "GET", "/v1/all?from=%d&limit=%d&consistency=stale"
                             % (position, page), timeout=30)
        check(reply.status == 200, "read /v1/all from %d on port %d: %r" % (position, port, reply))
        body = reply.json()
        events.extend(body["events"])
        if body.get("next") is None or not body["events"]:
            return events
        position = body["next"]


def digest_of(port, upto):
    reply = http_request(port, "GET", "/admin/digest?upto=%d" % upto, timeout=30)
    check(reply.status == 200, "GET /admin/digest?upto=%d on port %d: %r" % (upto, port, reply))
    return reply.json()["digest"]


class AppendLoad:
    """Client threads appending single events; every acknowledgement is recorded."""

    def __init__(self, cluster, threads=16, streams=4, request_timeout=3.0, prefix="load",
                 retry_pause=0.05):
        self.cluster = cluster
        self.retry_pause = retry_pause
        self.thread_count = threads
        self.streams = ["%s-%d" % (prefix, i) for i in range(streams)]
        self.request_timeout = request_timeout
        self.acks = []         # (monotonic time, id, stream, position, port that answered)
        self.sent = {}         # id -> stream, for every event ever sent
        self.unexpected = []   # answers a valid append must never get
        self.retries = {"redirect": 0, "no_leader": 0, "not_committed": 0, "connection": 0,
                        "deduplicated": 0}
        self.stop_flag = threading.Event()
        self.lock = threading.Lock()
        self.threads = []

    def start(self):
        for index in range(self.thread_count):
            thread = threading.Thread(target=self._run, args=(index,), daemon=True)
            thread.start()
            self.threads.append(thread)
        return self

    def stop(self):
        self.stop_flag.set()
        for thread in self.threads:
            thread.join(timeout=self.request_timeout * 3 + 5)
            check(not thread.is_alive(), "a client thread hung after stop")
        check(not self.unexpected, "unexpected answers to valid appends: %s" % self.unexpected[:5])

    def _count(self, what):
        with self.lock:
            self.retries[what] = self.retries.get(what, 0) + 1

    def acks_since(self, since):
        return sum(1 for ack in self.acks if ack[0] >= since)

    def wait_acks_after(self, since, count=1, timeout=30, what="", exclude_port=None):
        """Waits until `count` acks arrived after `since` (from a node other than
        `exclude_port`: a killed node's last replies may still be read after the kill);
        returns the delay to the first."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            after = [ack[0] for ack in self.acks if ack[0] >= since and ack[4] != exclude_port]
            if len(after) >= count:
                return min(after) - since
            time.sleep(0.02)
        fail("no acknowledged append within %ds after %s (%d acks in total); views: %s\n%s" % (
            timeout, what, len(self.acks), json.dumps(self.cluster.views()),
            self.cluster.logs_tail()))

    def _run(self, index):
        rng = random.Random(index * 7919 + int(time.time()))
        connections = {}
        target = rng.choice(self.cluster.ports())
        seq = 0

        def drop(port):
            conn = connections.pop(port, None)
            if conn is not None:
                conn.close()

        while not self.stop_flag.is_set():
            event_id = str(uuid.uuid4())
            stream = rng.choice(self.streams)
            body = json.dumps({"expected_version": "any", "events": [
                {"id": event_id, "type": "ClusterLoad", "data": {"client": index, "seq": seq}}]})
            seq += 1
            with self.lock:
                self.sent[event_id] = stream
            hops = 0
            while not self.stop_flag.is_set():
                conn = connections.get(target)
                if conn is None:
                    if https_context is not None:
                        conn = http.client.HTTPSConnection("127.0.0.1", target,
                                                           timeout=self.request_timeout,
                                                           context=https_context)
                    else:
                        conn = http.client.HTTPConnection("127.0.0.1", target,
                                                          timeout=self.request_timeout)
                    connections[target] = conn
                try:
                    conn.request("POST", stream_path(stream), body=body,
                                 headers={"Content-Type": "application/json"})
                    reply = conn.getresponse()
                    data = reply.read()
                    if reply.will_close:
                        drop(target)
                except (OSError, http.client.HTTPException):
                    # Dead, stopped or restarting node: same event id, another node.
                    drop(target)
                    self._count("connection")
                    target = rng.choice(self.cluster.ports())
                    time.sleep(self.retry_pause / 2)
                    continue
                if reply.status == 200:
                    answer = json.loads(data)
                    if answer.get("deduplicated"):
                        self._count("deduplicated")
                    self.acks.append((time.monotonic(), event_id, stream,
                                      answer["first_position"], target))
                    break
                if reply.status == 307 and hops < 5:
                    hops += 1
                    self._count("redirect")
                    new_target = port_of_location(reply.headers.get("Location", ""))
                    target = new_target if new_target else rng.choice(self.cluster.ports())
                    continue
                error = {}
                try:
                    error = json.loads(data)
                except ValueError:
                    pass
                if reply.status in (307, 503):
                    kind = error.get("error", "")
                    if reply.status == 503 and kind == "not_committed":
                        self._count("not_committed")
                    elif reply.status == 503 and kind == "no_leader":
                        self._count("no_leader")
                        time.sleep(self.retry_pause)
                        target = rng.choice(self.cluster.ports())
                    else:
                        self._count("%d %s" % (reply.status, kind or "?"))
                        time.sleep(self.retry_pause)
                        target = rng.choice(self.cluster.ports())
                    hops = 0
                    continue
                self.unexpected.append((reply.status, data[:200].decode(errors="replace")))
                break
        for port in list(connections):
            drop(port)


class Phases:
    """Named time intervals of a run, to report the ack rate of each."""

    def __init__(self, load):
        self.load = load
        self.marks = []

    def mark(self, name):
        now = time.monotonic()
        self.marks.append((name, now))
        log("phase: " + name)
        return now

    def report(self):
        end = time.monotonic()
        lines = []
        bounds = self.marks + [("end", end)]
        for (name, start), (_next_name, stop) in zip(bounds, bounds[1:]):
            count = sum(1 for ack in self.load.acks if start <= ack[0] < stop)
            seconds = max(stop - start, 1e-9)
            lines.append("  %-34s %6.2f s %7d acks %8.1f acks/s" % (name, seconds, count,
                                                                    count / seconds))
        return "\n".join(lines)


def verify_cluster(cluster, load, node_ids=None):
    """Every acknowledged event is present exactly once, at its acknowledged position, in
    every node's log; all logs are identical and gapless; digests agree. Returns the head."""
    node_ids = sorted(node_ids or cluster.members)
    logs = {}
    for node_id in node_ids:
        logs[node_id] = read_log(cluster.nodes[node_id].port)
    reference_id = node_ids[0]
    reference = logs[reference_id]
    head = len(reference)
    positions = [event["position"] for event in reference]
    check(positions == list(range(1, head + 1)),
          "node %d: positions are not gapless 1..%d" % (reference_id, head))
    summary = [(e["position"], e["id"], e["stream"], e["version"]) for e in reference]
    for node_id in node_ids[1:]:
        other = [(e["position"], e["id"], e["stream"], e["version"]) for e in logs[node_id]]
        if other != summary:
            first_difference = next((i for i, (a, b) in enumerate(zip(summary, other)) if a != b),
                                    min(len(summary), len(other)))
            fail("node %d's log differs from node %d's (lengths %d/%d, first difference at "
                 "index %d: %s vs %s)" % (node_id, reference_id, len(other), head,
                                          first_difference,
                                          summary[first_difference:first_difference + 1],
                                          other[first_difference:first_difference + 1]))
    by_id = {}
    for event in reference:
        check(event["id"] not in by_id, "event id %s stored twice (positions %d and %d)" % (
            event["id"], by_id.get(event["id"], {}).get("position", 0), event["position"]))
        by_id[event["id"]] = event
    next_version = {}
    for event in reference:
        expected = next_version.get(event["stream"], 0)
        check(event["version"] == expected, "stream %s: version %d where %d was due" % (
            event["stream"], event["version"], expected))
        next_version[event["stream"]] = expected + 1
    for _when, event_id, stream, position, _port in load.acks:
        stored = by_id.get(event_id)
        check(stored is not None, "acknowledged event %s (position %d) is missing" % (
            event_id, position))
        check(stored["position"] == position and stored["stream"] == stream,
              "acknowledged event %s at position %d of %s, stored at %d of %s" % (
                  event_id, position, stream, stored["position"], stored["stream"]))
    foreign = [e["id"] for e in reference if e["id"] not in load.sent]
    check(not foreign, "%d events in the log that no client sent: %s" % (len(foreign),
                                                                         foreign[:3]))
    digests = {node_id: digest_of(cluster.nodes[node_id].port, head) for node_id in node_ids}
    check(len(set(digests.values())) == 1, "digests differ at upto=%d: %s" % (head, digests))
    acked_ids = {ack[1] for ack in load.acks}
    log("verified %d nodes: %d events, %d acknowledged (all present once, same order), "
        "%d sent but unacknowledged present, digest %s..." % (
            len(node_ids), head, len(acked_ids), head - len(acked_ids & set(by_id)),
            next(iter(digests.values()))[:16]))
    return head


def arguments(description):
    import argparse
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--annal", required=True, help="path to the annal binary")
    parser.add_argument("--keep", action="store_true", help="keep the temp directory")
    return parser
