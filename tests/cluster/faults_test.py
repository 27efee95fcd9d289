"""Fault test of an N-node cluster of real `annal node` processes on loopback.

While >= 16 client threads append single events (client-chosen ids; 307 followed; 503 and
connection errors retried with the same id):
  1. kill -9 the leader; wait for a new leader and for acks to resume;
  2. kill -9 a follower; wait for acks to resume;
  3. SIGSTOP the leader for ~3 s, then SIGCONT; wait for acks to resume;
  4. restart every killed node; let the load run a little longer.
Before a fault that would leave fewer running, unstopped nodes than a quorum, the
earliest killed node is restarted first (with 3 nodes, killing the leader and then a
follower would otherwise leave one node, and SIGSTOP must leave a quorum that can elect a
new leader while the old one is frozen).
Then the clients stop, every node applies the leader's commit index, and:
  - every acknowledged event is present exactly once, at its acknowledged position, in
    /v1/all of every node; the nodes' logs are identical and gapless; their
    /admin/digest values are equal; nothing is there that no client sent;
  - appends were acknowledged again after each fault (the ack rate of every phase is
    printed).
"""
import time

from cluster_harness import (AppendLoad, Cluster, Phases, arguments, check, fail, log,
                             verify_cluster)


def quorum(size):
    return size // 2 + 1


def main():
    parser = arguments(__doc__)
    parser.add_argument("--nodes", type=int, default=3)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--settle", type=float, default=3.0,
                        help="seconds of load between faults")
    args = parser.parse_args()
    check(args.clients >= 16, "the test needs at least 16 clients")
    check(args.nodes >= 3, "the test needs at least 3 nodes")

    cluster = Cluster(args.annal, args.nodes)
    log("work dir %s, cluster id %s" % (cluster.work, cluster.cluster_id))
    first_leader = cluster.start()
    log("leader: node %d" % first_leader)
    # A short request timeout: a client stuck on the frozen leader moves on to the others.
    load = AppendLoad(cluster, threads=args.clients, request_timeout=1.0).start()
    phases = Phases(load)
    phases.mark("warm-up")
    load.wait_acks_after(time.monotonic() - 60, count=50, what="start")
    time.sleep(args.settle)

    killed = []
    resume = {}

    def responsive():
        return [n for n in cluster.nodes.values() if n.responsive]

    def keep_quorum_after_losing_one():
        while len(responsive()) - 1 < quorum(args.nodes) and killed:
            node_id = killed.pop(0)
            t = phases.mark("restart node %d" % node_id)
            cluster.restart(node_id)
            resume["restart node %d" % node_id] = load.wait_acks_after(t, what="restart")
            time.sleep(args.settle / 2)

    # 1. The leader.
    leader = cluster.wait_leader()
    t = phases.mark("kill -9 leader %d" % leader)
    cluster.node(leader).kill9()
    killed.append(leader)
    new_leader = cluster.wait_leader(exclude={leader})
    resume["kill -9 leader"] = load.wait_acks_after(t, count=10, what="killing the leader",
                                                    exclude_port=cluster.node(leader).port)
    log("new leader: node %d; acks resumed %.3f s after the kill"
        % (new_leader, resume["kill -9 leader"]))
    time.sleep(args.settle)

    # 2. A follower.
    keep_quorum_after_losing_one()
    leader = cluster.wait_leader()
    follower = next(n.id for n in responsive() if n.id != leader)
    t = phases.mark("kill -9 follower %d" % follower)
    cluster.node(follower).kill9()
    killed.append(follower)
    resume["kill -9 follower"] = load.wait_acks_after(t, count=10, what="killing a follower",
                                                      exclude_port=cluster.node(follower).port)
    log("acks resumed %.3f s after killing follower %d" % (resume["kill -9 follower"], follower))
    time.sleep(args.settle)

    # 3. Freeze the leader.
    keep_quorum_after_losing_one()
    leader = cluster.wait_leader()
    t_stop = phases.mark("SIGSTOP leader %d" % leader)
    cluster.node(leader).stop()
    time.sleep(3.0)
    during_stop = load.acks_since(t_stop)
    frozen_view_leader = cluster.current_leader(exclude={leader})
    t = phases.mark("SIGCONT node %d" % leader)
    cluster.node(leader).cont()
    log("while node %d was stopped: %d acks, leader elsewhere: %s"
        % (leader, during_stop, frozen_view_leader))
    # From the SIGSTOP: the others elect a leader while this one is frozen (or, at worst,
    # it resumes after SIGCONT).
    resume["SIGSTOP leader"] = load.wait_acks_after(t_stop, count=10, what="SIGSTOP/SIGCONT",
                                                    exclude_port=cluster.node(leader).port)
    time.sleep(args.settle)

    # 4. Everyone back.
    while killed:
        node_id = killed.pop(0)
        t = phases.mark("restart node %d" % node_id)
        cluster.restart(node_id)
        resume["restart node %d" % node_id] = load.wait_acks_after(t, what="restart")
    time.sleep(args.settle)
    phases.mark("stop clients")
    load.stop()

    print("ack rate per phase:\n" + phases.report(), flush=True)
    print("first ack after each fault: " + ", ".join(
        "%s %.3f s" % (name, delay) for name, delay in resume.items()), flush=True)
    print("client retries: %s" % load.retries, flush=True)

    leader_view = cluster.wait_converged()
    log("converged: leader %d, term %d, commit %d" % (
        leader_view["self"], leader_view["term"], leader_view["commit_index"]))
    head = verify_cluster(cluster, load)
    check(head >= len({ack[1] for ack in load.acks}), "fewer events than acknowledgements")
    for node in cluster.nodes.values():
        if not node.running:
            fail("node %d is not running at the end:\n%s" % (node.id, node.log_text()))
    cluster.shutdown(keep=args.keep)
    print("PASS: %d nodes, %d acknowledged appends, %d events in every log" % (
        args.nodes, len(load.acks), head))


if __name__ == "__main__":
    main()
