#!/usr/bin/env python3
"""A 3-node cluster of real `annal node` processes on loopback: a leader is elected, a
write through a follower is redirected (307) to the leader, every node reads it, the
leader is killed -9, a new leader takes over and appends continue, and the old leader
restarts and catches up (equal /admin/digest). Small and fast; the fault tests live in
tests/cluster."""
import json
import os
import shutil
import subprocess
import time

import annal_process as ap


def start(node, port, node_id, initial_cluster):
    node.port = port
    node.starts += 1
    node.log_path = os.path.join(node.log_dir, "node-%d.log" % node.starts)
    with open(node.log_path, "wb") as log:
        node.process = subprocess.Popen(
            [node.annal, "node", "--data-dir", node.data_dir, "--listen-address", "127.0.0.1",
             "--listen-port", str(port), "--node-id", str(node_id), "--cluster-id", "smoke",
             "--initial-cluster", initial_cluster, "--tick-ms", "50", "--fsync", "false"],
            stdout=log, stderr=subprocess.STDOUT)
    ap._children.append(node.process)


def cluster_view(node):
    try:
        reply = node.connection(timeout=2).request("GET", "/admin/cluster")
    except OSError:
        return None
    return reply.json() if reply.status == 200 else None


def wait_for_leader(nodes, exclude=(), timeout=30):
    """The leader id every live node agrees on (and that is not in `exclude`)."""
    deadline = time.monotonic() + timeout
    views = []
    while time.monotonic() < deadline:
        views = [cluster_view(node) for node in nodes]
        leaders = {view["leader"] for view in views if view}
        if (all(views) and len(leaders) == 1 and 0 not in leaders
                and not leaders & set(exclude)):
            return leaders.pop()
        time.sleep(0.1)
    ap.fail("no agreed leader in %ds: %s" % (timeout, views))


def cli(annal, node, *args):
    result = subprocess.run([annal, "--server", node.url, "--json"] + list(args),
                            capture_output=True, text=True, timeout=60)
    ap.check(result.returncode == 0, "annal %s against %s: %s %s"
             % (" ".join(args), node.url, result.stdout, result.stderr))
    return result.stdout


def wait_until(what, predicate, timeout=30):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    ap.fail("timed out waiting for " + what)


def main():
    args = ap.arguments(__doc__).parse_args()
    root = ap.temp_dir("annal-cluster-smoke-")
    ports = [ap.free_port() for _ in range(3)]
    initial = ",".join("%d=127.0.0.1:%d" % (i + 1, port) for i, port in enumerate(ports))
    nodes = [ap.Node(args.annal, os.path.join(root, "node-%d" % (i + 1))) for i in range(3)]
    for i, node in enumerate(nodes):
        start(node, ports[i], i + 1, initial)
    for node in nodes:
        ap.check(node.wait_ready(60), "node %s not ready:\n%s" % (node.url, node.log_text()))
        ap.check("annal: node " in node.log_text() and "listening on http://127.0.0.1:%d"
                 % node.port in node.log_text(), "startup lines missing:\n" + node.log_text())

    leader_id = wait_for_leader(nodes)
    leader = nodes[leader_id - 1]
    follower = nodes[leader_id % 3]
    print("leader is node %d" % leader_id, flush=True)

    # A follower redirects a write to the leader (307 with Location), and the CLI follows.
    body = {"events": [{"id": "00000000-0000-4000-8000-000000000001", "type": "Probe"}]}
    reply = follower.connection().request("POST", "/v1/streams/smoke", body)
    ap.check(reply.status == 307, "follower append: %r" % reply)
    ap.check(reply.headers["Location"] == leader.url + "/v1/streams/smoke",
             "Location: %s" % reply.headers["Location"])
    ap.check(reply.json()["leader_id"] == leader_id, "leader_id: %r" % reply)
    out = json.loads(cli(args.annal, follower, "append", "smoke", "--type", "Placed",
                         "--data", '{"n": 1}'))
    ap.check(out["first_position"] == 1, "append through the follower: %s" % out)

    # Linearizable reads see the write on every node, followers included.
    for node in nodes:
        reply = node.connection().request("GET", "/v1/streams/smoke")
        ap.check(reply.status == 200 and len(reply.json()["events"]) == 1,
                 "read from %s: %r" % (node.url, reply))
    status = json.loads(cli(args.annal, follower, "cluster", "status"))
    ap.check(len(status["members"]) == 3, "cluster status: %s" % status)

    # Kill the leader: the other two elect a new one and take appends.
    leader.kill9()
    survivors = [node for node in nodes if node is not leader]
    new_leader_id = wait_for_leader(survivors, exclude={leader_id})
    print("new leader is node %d" % new_leader_id, flush=True)
    for n in range(2, 12):
        out = json.loads(cli(args.annal, survivors[n % 2], "append", "smoke", "--type",
                             "Placed", "--data", '{"n": %d}' % n))
        ap.check(out["last_position"] == n, "append %d after failover: %s" % (n, out))

    # The old leader restarts on its port and data and catches up to the same log.
    start(leader, ports[leader_id - 1], leader_id, initial)
    ap.check(leader.wait_ready(60), "restarted node not ready:\n" + leader.log_text())

    def digests_equal():
        digests = set()
        for node in nodes:
            reply = node.connection().request("GET", "/admin/digest?upto=11")
            if reply.status != 200 or reply.json()["upto"] != 11:
                return False
            digests.add(reply.json()["digest"])
        return len(digests) == 1
    wait_until("the restarted node to catch up (equal digests)", digests_equal)
    events = ap.read_all_events(leader.connection())
    ap.check([e["position"] for e in events] == list(range(1, 12)), "restarted node's log")

    for node in nodes:
        code = node.terminate()
        ap.check(code == 0, "node %s exited %s:\n%s" % (node.url, code, node.log_text()))
    if not args.keep:
        shutil.rmtree(root, ignore_errors=True)
    print("PASS", flush=True)


if __name__ == "__main__":
    main()
