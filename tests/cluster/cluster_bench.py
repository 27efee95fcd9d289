"""Cluster benchmark (a command, not a test): append throughput of 1-, 3- and 5-node
clusters of real `annal node` processes on loopback, and failover time.

For each cluster size, in the same run, against the leader (`annal bench` follows a
follower's 307 once; it is pointed at the leader anyway):
  - `annal bench --clients 64 --duration D` (single-event appends of 256 B, 64 keep-alive
    connections, one append in flight each, driven by one event-loop thread);
  - `annal bench --clients 64 --duration D --batch 10 --event-size 256`;
reporting events/s and latency p50/p90/p99 as `annal bench` measures them, plus the CPU
seconds the node processes used (from /proc) and the load average.
A standalone node (no --initial-cluster: the issue-2 store) is measured the same way
for reference.

--repeat N runs N rounds; each round starts and measures every configuration once, the
order rotating from round to round (so a slow minute of the machine does not always hit
the same configuration). The report gives every round's rows, the median per
configuration with the min-max spread, and the 3-node / 1-node and 5-node / 1-node ratios
of the medians and of each round.

Failover: a cluster (default 3 nodes) with 4 client threads appending single events
(307 followed, errors retried, as in the fault tests); N times: kill -9 the leader, time
from the kill to the next append acknowledged by another node, restart the killed node
and let it catch up. Reports median / p90 / max.

Prints a Markdown report (and writes it to --output if given).

  python3 tests/cluster/cluster_bench.py --annal build-cluster/bin/annal [--repeat 3]
"""
import datetime
import json
import os
import platform
import resource
import statistics
import subprocess
import time

from cluster_harness import AppendLoad, Cluster, arguments, check, log


def cpu_seconds(pid):
    try:
        with open("/proc/%d/stat" % pid) as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return 0.0


def loadavg():
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


PHASES = ("input_wait", "persist", "apply_commit", "propose_to_commit", "commit_to_reply")


def phase_sums(node):
    """(sum seconds, count) of each replication-loop timing histogram in node's /metrics."""
    sums = {}
    for line in node.metrics().splitlines():
        for phase in PHASES:
            prefix = "annal_raft_%s_seconds_" % phase
            if line.startswith(prefix + "sum ") or line.startswith(prefix + "count "):
                kind, value = line[len(prefix):].split()
                sums[(phase, kind)] = float(value)
    return sums


def phase_means(before, after):
    """Mean milliseconds per phase between two phase_sums() snapshots."""
    means = {}
    for phase in PHASES:
        count = after.get((phase, "count"), 0) - before.get((phase, "count"), 0)
        total = after.get((phase, "sum"), 0) - before.get((phase, "sum"), 0)
        means[phase] = total / count * 1000 if count > 0 else None
    return means


def run_bench(annal, port, duration, clients, batch=1, event_size=None):
    command = [annal, "--server", "http://127.0.0.1:%d" % port, "--json", "bench",
               "--clients", str(clients), "--duration", str(duration), "--batch", str(batch)]
    if event_size:
        command += ["--event-size", str(event_size)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=duration * 4 + 60)
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    check(lines, "annal bench printed no JSON (exit %d):\n%s\n%s" % (
        done.returncode, done.stdout[-2000:], done.stderr[-2000:]))
    report = json.loads(lines[-1])
    report["exit"] = done.returncode
    report["command"] = " ".join(["annal"] + command[1:])
    return report


WORKLOADS = (("64 clients x 1 event", 1, 256),
             ("64 clients x 10 events of 256 B", 10, 256))


def measure(annal, cluster, port, duration, label, round_number, clustered):
    rows = []
    for name, batch, size in WORKLOADS:
        nodes = [n for n in cluster.nodes.values() if n.running]
        pids = [n.process.pid for n in nodes]
        cpu_before = [cpu_seconds(pid) for pid in pids]
        phases_before = [phase_sums(n) for n in nodes] if clustered else []
        load_before = loadavg()
        children_before = resource.getrusage(resource.RUSAGE_CHILDREN)
        report = run_bench(annal, port, duration, 64, batch, size)
        children_after = resource.getrusage(resource.RUSAGE_CHILDREN)
        per_node_cpu = [cpu_seconds(pid) - before for pid, before in zip(pids, cpu_before)]
        cpu = sum(per_node_cpu)
        # CPU microseconds per event: the node the generator talks to, the others (mean),
        # and the generator itself (the only child process that ends during the run).
        events = max(1, report.get("events", 0))
        generator_cpu = (children_after.ru_utime + children_after.ru_stime -
                         children_before.ru_utime - children_before.ru_stime)
        others = [c for node, c in zip(nodes, per_node_cpu) if node.port != port]
        cpu_us = {"leader": sum(c for node, c in zip(nodes, per_node_cpu) if node.port == port)
                  / events * 1e6,
                  "follower": statistics.mean(others) / events * 1e6 if others else None,
                  "generator": generator_cpu / events * 1e6}
        phases = {}
        if clustered:
            # The leader's phases, and the followers' mean persist (their whole ack path).
            follower_persist = []
            for node, before in zip(nodes, phases_before):
                means = phase_means(before, phase_sums(node))
                if node.port == port:
                    phases = means
                elif means["persist"] is not None:
                    follower_persist.append(means["persist"])
            if follower_persist:
                phases["follower_persist"] = statistics.mean(follower_persist)
        row = {"round": round_number, "cluster": label, "workload": name,
               "events_per_s": report["events_per_s"],
               "p50_ms": report["latency_ms"]["p50"],
               "p90_ms": report["latency_ms"].get("p90", 0.0),
               "p99_ms": report["latency_ms"]["p99"],
               "errors": report["errors"],
               "errors_by_status": report.get("errors_by_status", {}),
               "seconds": report["seconds"],
               "node_cpu_s": cpu, "nodes": len(nodes), "load": "%s -> %s" % (load_before, loadavg()),
               "command": report["command"], "first_error": report.get("first_error", ""),
               "phases": phases, "cpu_us": cpu_us}
        log("round %d, %s, %s: %.0f events/s, p50 %.1f ms, p99 %.1f ms, errors %d, "
            "node CPU %.1f s" % (round_number, label, name, row["events_per_s"], row["p50_ms"],
                                 row["p99_ms"], row["errors"], cpu))
        rows.append(row)
    return rows


def label_of(size):
    return "standalone" if size == 0 else "%d-node" % size


def throughput(annal, size, duration, extra_args, round_number):
    if size == 0:
        # Standalone reference: the issue-2 store, no Raft.
        cluster = Cluster(annal, 1, extra_args=extra_args)
        port = cluster.node(1).start(None).port
    else:
        cluster = Cluster(annal, size, extra_args=extra_args)
        leader = cluster.start()
        cluster.wait_converged()
        port = cluster.node(leader).port
    try:
        return measure(annal, cluster, port, duration, label_of(size), round_number, size > 0)
    finally:
        cluster.shutdown()


def failover(annal, size, kills, extra_args):
    cluster = Cluster(annal, size, extra_args=extra_args)
    cluster.start()
    load = AppendLoad(cluster, threads=4, request_timeout=1.0, retry_pause=0.01,
                      prefix="failover").start()
    delays = []
    elections = []
    try:
        for kill in range(kills):
            leader = cluster.wait_leader()
            load.wait_acks_after(time.monotonic(), count=20, what="before kill %d" % kill)
            killed = cluster.node(leader)
            t_kill = time.monotonic()
            killed.kill9()
            new_leader = cluster.wait_leader(exclude={leader})
            elections.append(time.monotonic() - t_kill)
            delays.append(load.wait_acks_after(t_kill, what="kill %d" % (kill + 1),
                                               exclude_port=killed.port))
            log("kill %d: leader %d killed, node %d leads; next ack after %.3f s" % (
                kill + 1, leader, new_leader, delays[-1]))
            cluster.restart(leader)
            # Let the restarted node catch up before the next kill, so every kill starts
            # from a full, healthy cluster.
            target = cluster.node(new_leader).view()["commit_index"]
            deadline = time.monotonic() + 60
            while (killed.view() or {}).get("applied_index", 0) < target:
                check(time.monotonic() < deadline, "node %d did not catch up" % leader)
                time.sleep(0.05)
            time.sleep(0.5)
    finally:
        load.stop_flag.set()
        cluster.shutdown()
    return delays, elections


def percentile(values, fraction):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(fraction * (len(ordered) - 1))))]


def ratio_lines(by_key, prefix):
    lines = []
    for workload, _, _ in WORKLOADS:
        one = by_key.get(("1-node", workload))
        for size in (3, 5):
            other = by_key.get(("%d-node" % size, workload))
            if one and other:
                lines.append("- %s%s: %d-node / 1-node = %.2f" % (prefix, workload, size,
                                                                 other / one))
    return lines


def main():
    parser = arguments(__doc__)
    parser.add_argument("--sizes", default="1,3,5", help="cluster sizes (0 = standalone)")
    parser.add_argument("--standalone", action="store_true", default=True)
    parser.add_argument("--no-standalone", dest="standalone", action="store_false")
    parser.add_argument("--duration", type=int, default=10, help="seconds per bench run")
    parser.add_argument("--repeat", type=int, default=1,
                        help="rounds of every configuration, interleaved; medians reported")
    parser.add_argument("--kills", type=int, default=20)
    parser.add_argument("--failover-size", type=int, default=3)
    parser.add_argument("--node-arg", action="append", default=[],
                        help="extra argument for every node (repeatable)")
    parser.add_argument("--output", help="also write the Markdown report here")
    args = parser.parse_args()
    check(args.repeat >= 1, "--repeat must be at least 1")
    started = datetime.datetime.now(datetime.timezone.utc)
    load_at_start = loadavg()
    sizes = [int(s) for s in args.sizes.split(",") if s]
    if args.standalone and 0 not in sizes:
        sizes = [0] + sizes
    rows = []
    for round_number in range(1, args.repeat + 1):
        # Rotate the order so that no configuration always runs first or last.
        shift = (round_number - 1) % len(sizes)
        for size in sizes[shift:] + sizes[:shift]:
            rows.extend(throughput(args.annal, size, args.duration, args.node_arg,
                                   round_number))
    delays, elections = ([], [])
    if args.kills > 0:
        delays, elections = failover(args.annal, args.failover_size, args.kills, args.node_arg)

    out = []
    out.append("Run %s UTC on %s (%d CPUs), load average at start %s; %d round(s) of %d s "
               "per configuration and workload."
               % (started.strftime("%Y-%m-%d %H:%M"), platform.node(), os.cpu_count(),
                  load_at_start, args.repeat, args.duration))
    out.append("")
    out.append("| round | cluster | workload | events/s | p50 ms | p90 ms | p99 ms | errors | "
               "node CPU s | load avg before -> after |")
    out.append("|---:|---|---|---:|---:|---:|---:|---:|---:|---|")
    order = {label_of(size): index for index, size in enumerate(sizes)}
    for row in sorted(rows, key=lambda r: (r["round"], order[r["cluster"]])):
        out.append("| %d | %s | %s | %.0f | %.1f | %.1f | %.1f | %d | %.1f | %s |" % (
            row["round"], row["cluster"], row["workload"], row["events_per_s"], row["p50_ms"],
            row["p90_ms"], row["p99_ms"], row["errors"], row["node_cpu_s"], row["load"]))

    out.append("")
    out.append("Where an append's time went on the leader (means in ms from its /metrics, "
               "see docs/API.md): input wait, persist (one Raft log batch with its fdatasync, on "
               "the log writer thread), the lazy commit of applied entries (appends are "
               "answered before it), "
               "then per append propose -> commit and commit -> reply; and the followers' "
               "persist:")
    out.append("")
    out.append("| round | cluster | workload | input wait | persist | apply commit | "
               "propose -> commit | commit -> reply | follower persist |")
    out.append("|---:|---|---|---:|---:|---:|---:|---:|---:|")

    def ms(value):
        return "-" if value is None else "%.2f" % value
    for row in sorted(rows, key=lambda r: (r["round"], order[r["cluster"]])):
        phases = row["phases"]
        if phases:
            out.append("| %d | %s | %s | %s | %s | %s | %s | %s | %s |" % (
                row["round"], row["cluster"], row["workload"], ms(phases.get("input_wait")),
                ms(phases.get("persist")), ms(phases.get("apply_commit")),
                ms(phases.get("propose_to_commit")), ms(phases.get("commit_to_reply")),
                ms(phases.get("follower_persist"))))

    out.append("")
    out.append("CPU time per event (us): the node the generator drives (the leader), each other "
               "node (mean), the generator, and their sum (on 2 cores, 2e6 / sum bounds the "
               "events/s):")
    out.append("")
    out.append("| round | cluster | workload | leader | each follower | generator | sum |")
    out.append("|---:|---|---|---:|---:|---:|---:|")
    for row in sorted(rows, key=lambda r: (r["round"], order[r["cluster"]])):
        cpu_us = row["cpu_us"]
        follower = cpu_us["follower"]
        total = cpu_us["leader"] + (follower or 0.0) * (row["nodes"] - 1) + cpu_us["generator"]
        out.append("| %d | %s | %s | %.1f | %s | %.1f | %.1f |" % (
            row["round"], row["cluster"], row["workload"], cpu_us["leader"],
            "-" if follower is None else "%.1f" % follower, cpu_us["generator"], total))

    medians = {}
    if args.repeat > 1:
        out.append("")
        out.append("Medians over the %d rounds (min-max in brackets):" % args.repeat)
        out.append("")
        out.append("| cluster | workload | events/s | p50 ms | p99 ms |")
        out.append("|---|---|---:|---:|---:|")
    for size in sizes:
        for workload, _, _ in WORKLOADS:
            mine = [r for r in rows if r["cluster"] == label_of(size) and r["workload"] == workload]
            if not mine:
                continue
            rates = [r["events_per_s"] for r in mine]
            medians[(label_of(size), workload)] = statistics.median(rates)
            if args.repeat > 1:
                out.append("| %s | %s | %.0f (%.0f-%.0f) | %.1f | %.1f |" % (
                    label_of(size), workload, statistics.median(rates), min(rates), max(rates),
                    statistics.median(r["p50_ms"] for r in mine),
                    statistics.median(r["p99_ms"] for r in mine)))
    out.append("")
    out.extend(ratio_lines(medians, "median, " if args.repeat > 1 else ""))
    if args.repeat > 1:
        for round_number in range(1, args.repeat + 1):
            by_key = {(r["cluster"], r["workload"]): r["events_per_s"] for r in rows
                      if r["round"] == round_number}
            out.extend(ratio_lines(by_key, "round %d, " % round_number))
    if delays:
        out.append("")
        out.append("Failover, %d-node cluster, %d x kill -9 of the leader while 4 clients "
                   "append: time from the kill to the next acknowledged append: median %.3f s, "
                   "p90 %.3f s, max %.3f s (min %.3f s); time until a new leader was visible "
                   "in /admin/cluster: median %.3f s, max %.3f s."
                   % (args.failover_size, len(delays), statistics.median(delays),
                      percentile(delays, 0.9), max(delays), min(delays),
                      statistics.median(elections), max(elections)))
        out.append("All delays (s): " + ", ".join("%.3f" % d for d in delays))
    out.append("")
    out.append("Load average at the end: %s." % loadavg())
    for row in rows:
        if row["errors"]:
            out.append("- round %d, %s %s: errors by status %s; first error: %s" % (
                row["round"], row["cluster"], row["workload"],
                json.dumps(row["errors_by_status"], sort_keys=True), row["first_error"]))
    report = "\n".join(out)
    print(report)
    if args.output:
        with open(args.output, "w") as f:
            f.write(report + "\n")


if __name__ == "__main__":
    main()
