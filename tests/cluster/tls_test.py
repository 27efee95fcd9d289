"""A TLS cluster of real `annal node` processes (issue 4): clients over https, peers over
mutual TLS, and a node whose certificate comes from another CA kept out.

  1. The openssl command makes CA A and CA B and one certificate per node (EC P-256, IP SAN
     127.0.0.1: the nodes dial each other and are verified by IP).
  2. Three nodes with CA-A certificates form a cluster; `annal --ca A` appends through a
     follower (the 307 to the leader is followed over https) and reads the events back.
  3. Node 4 has a CA-B certificate, starts with `--join true` and is added as a learner:
     the leader's TLS handshake with it fails (its certificate does not chain to CA A), so
     it never applies anything, the leader reports it unhealthy with nothing matched, and
     promoting it is refused (409 not_caught_up: the log is first made longer than the
     1,000-entry promotion margin, since the leader judges "caught up" by lag alone and
     an unreachable learner on a shorter log would pass). The cluster keeps accepting
     writes.
  4. Node 4 is removed; node 5 with a CA-A certificate joins as a learner, catches up and
     is promoted; every member then holds the same events.
A plain-http request to a TLS node is refused while the node keeps serving.
"""
import http.client
import os
import ssl
import subprocess
import time

import cluster_harness
from cluster_harness import Cluster, admin_call, arguments, check, fail, http_request, log

SAN = "subjectAltName=IP:127.0.0.1,DNS:localhost\n"


def openssl(*args, cwd):
    result = subprocess.run(["openssl", *args], cwd=cwd, capture_output=True, text=True)
    if result.returncode != 0:
        fail("openssl %s failed: %s" % (" ".join(args), result.stderr))


def make_ca(directory, name):
    openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
            "-keyout", name + ".key", "-out", name + ".pem", "-days", "2", "-subj", "/CN=" + name,
            cwd=directory)
    return os.path.join(directory, name + ".pem")


def make_node_certificate(directory, name, ca):
    """(cert, key) of `name` signed by CA `ca`, valid for 127.0.0.1."""
    with open(os.path.join(directory, "san.ext"), "w") as out:
        out.write(SAN)
    openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
            "-keyout", name + ".key", "-out", name + ".csr", "-subj", "/CN=" + name,
            cwd=directory)
    openssl("x509", "-req", "-in", name + ".csr", "-CA", ca + ".pem", "-CAkey", ca + ".key",
            "-CAcreateserial", "-out", name + ".pem", "-days", "2", "-extfile", "san.ext",
            cwd=directory)
    return os.path.join(directory, name + ".pem"), os.path.join(directory, name + ".key")


def tls_args(directory, name, ca):
    cert, key = make_node_certificate(directory, name, ca)
    return ["--tls-cert-file", cert, "--tls-key-file", key,
            "--tls-ca-file", os.path.join(directory, ca + ".pem")]


def cli(annal, ca_file, port, *args):
    """Runs `annal --server https://127.0.0.1:PORT --ca CA ARGS`; returns stdout."""
    command = [annal, "--server", "https://127.0.0.1:%d" % port, "--ca", ca_file, *args]
    result = subprocess.run(command, capture_output=True, text=True, timeout=60)
    if result.returncode != 0:
        fail("%s exited %d: %s%s" % (" ".join(command), result.returncode, result.stdout,
                                      result.stderr))
    return result.stdout


def member(view, node_id):
    return next((m for m in (view or {}).get("members", []) if m.get("id") == node_id), None)


def admin(cluster, method, path, body=None, timeout=30, retry_reasons=("change_pending",)):
    """An admin call to the leader, retrying 503 and the given 409 reasons."""
    deadline = time.monotonic() + timeout
    while True:
        reply = admin_call(cluster, method, path, body)
        reason = (reply.json() or {}).get("reason", "")
        retry = reply.status in (503, 504) or (reply.status == 409 and reason in retry_reasons)
        if not retry or time.monotonic() > deadline:
            return reply
        time.sleep(0.3)


def append_and_read(annal, ca_a, port, stream, count):
    for i in range(count):
        cli(annal, ca_a, port, "append", stream, "--type", "Tls", "--data", '{"i": %d}' % i)
    lines = [line for line in cli(annal, ca_a, port, "--json", "read", stream).splitlines()
             if line.strip()]
    return lines


def main():
    args = arguments(__doc__).parse_args()
    cluster = Cluster(args.annal, 3, cluster_id="tls-test")
    certs = os.path.join(cluster.work, "certs")
    os.makedirs(certs)
    ok = False
    try:
        ca_a = make_ca(certs, "ca-a")
        ca_b = make_ca(certs, "ca-b")
        for node in cluster.nodes.values():
            node.extra_args = tls_args(certs, "node-%d" % node.id, "ca-a")
        cluster_harness.use_https(ca_a)
        leader = cluster.start()
        log("3 TLS nodes up, leader %d" % leader)

        follower = next(n for n in cluster.nodes.values() if n.id != leader)
        lines = append_and_read(args.annal, ca_a, follower.port, "tls-orders", 3)
        check(len(lines) == 3, "read back %d events over https, expected 3: %s" % (len(lines),
                                                                                   lines))
        log("append through follower %d (307 over https) and read back: ok" % follower.id)

        # Plain http to a TLS node: refused, and the node keeps serving.
        plain = http.client.HTTPConnection("127.0.0.1", follower.port, timeout=5)
        try:
            plain.request("GET", "/healthz")
            status = plain.getresponse().status
        except (OSError, http.client.HTTPException):
            status = None
        finally:
            plain.close()
        check(status != 200, "plain http to a TLS node was served (%s)" % status)
        check(http_request(follower.port, "GET", "/healthz").status == 200,
              "the node stopped serving https after a plain-http request")
        log("plain http refused (%s), node still serving https" % status)

        # The leader refuses to promote a learner more than 1,000 entries behind; with a
        # shorter log an unreachable learner would count as caught up (see the docstring).
        leader_node = cluster.node(cluster.wait_leader())
        for i in range(1100):
            reply = leader_node.request("POST", "/v1/streams/tls-fill",
                                        {"expected_version": "any",
                                         "events": [{"type": "Fill", "data": {"i": i}}]})
            check(reply.status == 200, "fill append %d: %r" % (i, reply))
        log("1,100 more entries committed over https")

        # Node 4: a certificate from CA B (and it trusts only CA B).
        intruder = cluster.add_node(4)
        intruder.extra_args = tls_args(certs, "node-4", "ca-b")
        intruder.start(cluster.initial_cluster, join=True, wait=False)
        context_b = ssl.create_default_context(cafile=ca_b)
        deadline = time.monotonic() + 30
        while True:
            try:
                if http_request(intruder.port, "GET", "/healthz", context=context_b).status == 200:
                    break
            except (OSError, http.client.HTTPException):
                pass
            if time.monotonic() > deadline or not intruder.running:
                fail("node 4 did not start:\n%s" % intruder.log_text())
            time.sleep(0.1)
        reply = admin(cluster, "POST", "/admin/members", {"id": 4, "address": intruder.address})
        check(reply.status == 200, "adding node 4 as a learner: %r" % reply)
        log("node 4 (CA B) added as a learner")
        # Several election timeouts of heartbeats and appends: each needs a handshake.
        time.sleep(5)
        cli(args.annal, ca_a, follower.port, "append", "tls-orders", "--type", "During",
            "--data", "{}")
        view = cluster.node(cluster.wait_leader()).view()
        state = member(view, 4)
        check(state is not None, "node 4 missing from the leader's view: %s" % view)
        check(not state.get("healthy") and state.get("match_index", 0) == 0,
              "node 4 (CA B) looks caught up to the leader: %s" % state)
        own = http_request(intruder.port, "GET", "/admin/cluster", context=context_b).json()
        check(own.get("applied_index", 0) == 0,
              "node 4 (CA B) applied entries: %s" % own)
        reply = admin(cluster, "POST", "/admin/members/4/promote", {})
        check(reply.status == 409 and (reply.json() or {}).get("reason") == "not_caught_up",
              "promoting node 4 (CA B) was not refused with not_caught_up: %r" % reply)
        log("node 4 never caught up (leader: %s), promotion refused" % state)
        lines = append_and_read(args.annal, ca_a, leader_port(cluster), "tls-orders", 1)
        check(len(lines) == 5, "expected 5 events after more writes, read %d" % len(lines))

        reply = admin(cluster, "DELETE", "/admin/members/4")
        check(reply.status == 200, "removing node 4: %r" % reply)
        intruder.kill9()
        cluster.members.discard(4)

        # Node 5: a CA-A certificate joins, catches up and is promoted.
        joiner = cluster.add_node(5)
        joiner.extra_args = tls_args(certs, "node-5", "ca-a")
        joiner.start(cluster.initial_cluster, join=True)
        reply = admin(cluster, "POST", "/admin/members", {"id": 5, "address": joiner.address})
        check(reply.status == 200, "adding node 5 as a learner: %r" % reply)
        reply = admin(cluster, "POST", "/admin/members/5/promote", {}, timeout=60,
                      retry_reasons=("change_pending", "not_caught_up"))
        check(reply.status == 200, "promoting node 5 (CA A): %r" % reply)
        cluster.members.add(5)
        log("node 5 (CA A) joined and was promoted")
        cluster.wait_converged(node_ids=sorted(cluster.members))
        lines = [line for line in cli(args.annal, ca_a, joiner.port, "--json", "read",
                                      "tls-orders").splitlines() if line.strip()]
        check(len(lines) == 5, "node 5 serves %d events of tls-orders, expected 5" % len(lines))
        log("PASS")
        ok = True
    finally:
        if not ok:
            print(cluster.logs_tail())
        cluster.shutdown(keep=args.keep)


def leader_port(cluster):
    return cluster.node(cluster.wait_leader()).port


if __name__ == "__main__":
    main()
