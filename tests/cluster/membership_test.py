"""Membership changes of a loaded cluster of real `annal node` processes.

While 16 client threads append (as in faults_test.py):
  1. a 4-node cluster has committed > 1,500 entries;
  2. node 5 starts with `--join true` and is frozen (SIGSTOP) so it cannot catch up;
     POST /admin/members adds it as a learner; promoting it now must be refused
     (409, reason not_caught_up);
  3. node 5 resumes, catches up (its applied index reaches the leader's commit index)
     and is promoted (409 not_caught_up is retried while the load runs);
  4. a follower among nodes 1..4 is removed (DELETE /admin/members/{id}) and stopped;
  5. leadership is transferred to node 5 (POST /admin/leader/transfer {"to": 5});
  6. another follower is removed, leaving three voters; one of the two followers is
     killed, and removing the other must be refused (409 would_lose_quorum);
     the killed one is restarted.
Then every remaining member applies everything, and every acknowledged event is present
exactly once in the same order on every member, digests equal (as in faults_test.py).
Every node keeps only --log-retain-entries (default 200) entries behind its applied index,
so node 5, added after > 1,500 entries, cannot catch up from the log: it must install a
snapshot (fetching the events from a peer), which its /metrics must report
(annal_snapshots_installed_total >= 1), and then follow the log.
With --tls every node has a certificate from one CA (clients use https), so node 5 fetches
its snapshot's events over mutual TLS.
"""
import os
import time

import cluster_harness
from cluster_harness import (AppendLoad, Cluster, admin_call, arguments, check, fail, log,
                             verify_cluster)


def admin(cluster, method, path, body=None, retry_reasons=("change_pending",), timeout=30):
    """Sends an admin request to the leader, retrying 503 and the given 409 reasons."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            reply = admin_call(cluster, method, path, body)
        except OSError as error:
            reply = None
            reason = "connection: %s" % error
        else:
            body_json = reply.json() or {}
            reason = body_json.get("reason", body_json.get("error", ""))
            if 200 <= reply.status < 300:
                return reply
            if not (reply.status == 503 or (reply.status == 409 and reason in retry_reasons)
                    or reply.status == 504):
                return reply
        if time.monotonic() > deadline:
            return reply
        log("%s %s: retrying (%s)" % (method, path, reason))
        time.sleep(0.3)


def expect_ok(reply, what):
    check(reply is not None and 200 <= reply.status < 300, "%s: %r" % (what, reply))


def leader_view(cluster):
    return cluster.node(cluster.wait_leader()).view()


def member(view, node_id):
    return next((m for m in view.get("members", []) if m.get("id") == node_id), None)


def snapshots_installed(node):
    for line in node.metrics().splitlines():
        if line.startswith("annal_snapshots_installed_total "):
            return int(float(line.split()[1]))
    return 0


def use_tls(cluster):
    """Gives every node (and, through the returned function, each one added later) a
    certificate from one CA, and makes the harness speak https."""
    from tls_test import make_ca, tls_args
    certs = os.path.join(cluster.work, "certs")
    os.makedirs(certs)
    ca = make_ca(certs, "ca")

    def give_certificate(node):
        node.extra_args = tls_args(certs, "node-%d" % node.id, "ca")

    for node in cluster.nodes.values():
        give_certificate(node)
    cluster_harness.use_https(ca)
    return give_certificate


def wait_until(predicate, timeout, what, cluster):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    fail("%s: not within %ds; views: %s" % (what, timeout, str(cluster.views())[:3000]))


def main():
    parser = arguments(__doc__)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--skip-join", action="store_true",
                        help="diagnosis: skip adding node 5; transfer to another node")
    parser.add_argument("--preload", type=int, default=1500,
                        help="entries committed before node 5 is added (> the promotion "
                             "threshold of 1000)")
    parser.add_argument("--log-retain-entries", type=int, default=200,
                        help="the nodes' --log-retain-entries (small: node 5 needs a snapshot)")
    parser.add_argument("--tls", action="store_true",
                        help="TLS on every node: the snapshot is fetched over mutual TLS")
    args = parser.parse_args()
    cluster = Cluster(args.annal, 4,
                      extra_args=["--log-retain-entries", str(args.log_retain_entries)])
    give_certificate = use_tls(cluster) if args.tls else None
    log("work dir %s, cluster id %s" % (cluster.work, cluster.cluster_id))
    leader = cluster.start()
    log("leader: node %d" % leader)
    load = AppendLoad(cluster, threads=args.clients).start()
    wait_until(lambda: (leader_view(cluster) or {}).get("commit_index", 0) > args.preload, 120,
               "preload of %d entries" % args.preload, cluster)

    # 2.-3. (--skip-join: only to exercise steps 4-6 while joining does not work.)
    chosen = 5
    if not args.skip_join:
        # 2. Node 5 joins as a learner while frozen: promotion must be refused.
        joiner = cluster.add_node(5)
        if give_certificate:
            give_certificate(joiner)
        joiner.start(cluster.initial_cluster, join=True)
        joiner.stop()
        t = time.monotonic()
        reply = admin(cluster, "POST", "/admin/members", {"id": 5, "address": joiner.address})
        expect_ok(reply, "add node 5 as a learner")
        log("node 5 added as a learner in %.2f s" % (time.monotonic() - t))
        view = leader_view(cluster)
        entry = member(view, 5)
        check(entry is not None and not entry.get("voter") and entry.get("role") == "learner",
              "node 5 is not a learner in the leader's view: %s" % view)
        reply = admin(cluster, "POST", "/admin/members/5/promote",
                      retry_reasons=("change_pending",))
        body = (reply.json() or {}) if reply else {}
        check(reply is not None and reply.status == 409 and body.get("reason") == "not_caught_up",
              "promoting a learner that has applied nothing: expected 409 not_caught_up, got %r"
              % reply)
        log("promotion before catch-up refused: %s" % body.get("message", ""))

        # 3. Node 5 catches up and is promoted.
        joiner.cont()
        cluster.members.add(5)
        target = leader_view(cluster)["commit_index"]
        t = time.monotonic()
        deadline = time.monotonic() + 60
        while (joiner.view() or {}).get("applied_index", 0) < target:
            if time.monotonic() > deadline:
                fail("node 5 (a learner) did not apply index %d within 60 s. Node 5's view: "
                     "%s; node 5 in the leader's view: %s" % (
                         target, joiner.view(), member(leader_view(cluster), 5)))
            time.sleep(0.1)
        log("node 5 applied index %d %.2f s after it resumed" % (target, time.monotonic() - t))
        installed = snapshots_installed(joiner)
        check(installed >= 1, "node 5 caught up without installing a snapshot (its /metrics "
                              "say %d); is the log retention small enough?" % installed)
        log("node 5 installed %d snapshot(s)" % installed)
        reply = admin(cluster, "POST", "/admin/members/5/promote",
                      retry_reasons=("change_pending", "not_caught_up"))
        expect_ok(reply, "promote node 5")
        wait_until(lambda: (member(leader_view(cluster), 5) or {}).get("voter") is True, 20,
                   "node 5 a voter", cluster)
        log("node 5 promoted")

    # 4. Remove a follower.
    leader = cluster.wait_leader()
    removed = next(i for i in (1, 2, 3, 4) if i != leader)
    reply = admin(cluster, "DELETE", "/admin/members/%d" % removed)
    expect_ok(reply, "remove node %d" % removed)
    wait_until(lambda: member(leader_view(cluster), removed) is None, 20,
               "node %d gone from the membership" % removed, cluster)
    cluster.members.discard(removed)
    cluster.node(removed).kill9()
    log("node %d removed and stopped" % removed)
    load.wait_acks_after(time.monotonic(), count=10, what="removing node %d" % removed)

    # 5. Leadership to a chosen node (node 5 unless --skip-join).
    if args.skip_join:
        chosen = max(i for i in cluster.members if i != cluster.wait_leader())
    reply = admin(cluster, "POST", "/admin/leader/transfer", {"to": chosen})
    expect_ok(reply, "transfer leadership to node %d" % chosen)
    wait_until(lambda: cluster.current_leader() == chosen, 20, "node %d leading" % chosen,
               cluster)
    log("node %d leads" % chosen)
    load.wait_acks_after(time.monotonic(), count=10, what="the leadership transfer")

    # 6. Three voters; with one of them down, removing another must be refused.
    while len(cluster.members) > 3:
        second = next(i for i in sorted(cluster.members) if i != chosen)
        reply = admin(cluster, "DELETE", "/admin/members/%d" % second)
        expect_ok(reply, "remove node %d" % second)
        wait_until(lambda: member(leader_view(cluster), second) is None, 20,
                   "node %d gone from the membership" % second, cluster)
        cluster.members.discard(second)
        cluster.node(second).kill9()
        log("node %d removed and stopped" % second)
    followers = [i for i in sorted(cluster.members) if i != cluster.wait_leader()]
    check(len(followers) == 2, "expected 2 followers, members %s" % sorted(cluster.members))
    down, alive = followers
    cluster.node(down).kill9()
    # Longer than the largest randomized election timeout (2 x 10 ticks): the leader no
    # longer counts the killed node as recently active.
    time.sleep(2 * 10 * cluster.tick_ms / 1000 + 1)
    reply = admin(cluster, "DELETE", "/admin/members/%d" % alive,
                  retry_reasons=("change_pending",))
    body = (reply.json() or {}) if reply else {}
    check(reply is not None and reply.status == 409 and body.get("reason") == "would_lose_quorum",
          "removing node %d while node %d is down: expected 409 would_lose_quorum, got %r"
          % (alive, down, reply))
    log("removing node %d while node %d is down refused: %s" % (alive, down,
                                                                 body.get("message", "")))
    load.wait_acks_after(time.monotonic(), count=10, what="the refused removal")
    cluster.restart(down)
    load.wait_acks_after(time.monotonic(), count=10, what="restarting node %d" % down)
    time.sleep(2)
    load.stop()
    print("client retries: %s" % load.retries, flush=True)

    view = cluster.wait_converged()
    voters = sorted(m["id"] for m in view["members"] if m.get("voter"))
    check(voters == sorted(cluster.members), "voters %s, expected %s" % (
        voters, sorted(cluster.members)))
    head = verify_cluster(cluster, load)
    cluster.shutdown(keep=args.keep)
    print("PASS: %d acknowledged appends, %d events on members %s" % (
        len(load.acks), head, sorted(cluster.members)))


if __name__ == "__main__":
    main()
