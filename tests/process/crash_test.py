"""Crash and graceful-shutdown test of a real `annal node`.

16+ clients append concurrently (1-4 events per request, to streams they share), each
remembering exactly which requests were acknowledged and at which positions. Mid-load
the node is killed (--mode kill: SIGKILL; --mode term: SIGTERM, which must exit 0).
After a restart on the same data directory, the whole log must show:
  - positions 1..head with no gap; per-stream versions 0..n with no gap, in position order;
  - every acknowledged event exactly once, at its acknowledged position, contents intact;
  - every request whose outcome the client never learned either entirely present
    (contiguous, in order) or entirely absent: nothing half-visible;
  - nothing that no client sent.
Repeated for several cycles on the same data directory.
"""
import base64
import os
import random
import shutil
import signal
import threading
import time
import uuid

from annal_process import Node, arguments, check, read_all_events, stream_path, temp_dir

CLIENTS = 16
STREAMS = 6


class Request:
    def __init__(self, stream, events):
        self.stream = stream
        self.events = events          # as sent
        self.acked = None             # (first_position, last_position) once acknowledged
        self.outcome_known = False    # acknowledged, or definitely rejected


def make_event(rng, client, seq):
    event = {"id": str(uuid.uuid4()), "type": "Crash%d" % rng.randrange(3)}
    if rng.random() < 0.25:
        event["data_base64"] = base64.b64encode(rng.randbytes(rng.randrange(1, 300))).decode()
    else:
        event["data"] = {"client": client, "seq": seq, "pad": "p" * rng.randrange(0, 400),
                         "text": "zürich ✓"}
    if rng.random() < 0.5:
        event["metadata"] = {"origin": "crash-test", "n": seq}
    return event


def client_loop(node, index, cycle, requests, stop, ready):
    rng = random.Random(cycle * 1000 + index)
    conn = node.connection(timeout=20)
    seq = 0
    ready.release()
    while not stop.is_set():
        events = []
        for _ in range(rng.randrange(1, 5)):
            events.append(make_event(rng, index, seq))
            seq += 1
        request = Request("crash-%d" % rng.randrange(STREAMS), events)
        requests.append(request)
        try:
            reply = conn.request("POST", stream_path(request.stream),
                                 {"expected_version": "any", "events": events})
        except Exception:  # the node died under us: outcome unknown
            conn.close()
            time.sleep(0.01)
            continue
        if reply.status == 200:
            body = reply.json()
            request.acked = (body["first_position"], body["last_position"])
            request.outcome_known = True
            check(body["last_position"] - body["first_position"] + 1 == len(events),
                  "ack covers %d positions for %d events: %r" % (
                      body["last_position"] - body["first_position"] + 1, len(events), reply))
        elif reply.status == 503:
            request.outcome_known = True  # shutting_down: refused, never written
        else:
            check(False, "unexpected answer to a valid append: %r" % reply)


def same_event(stored, sent, stream):
    if stored["id"] != sent["id"] or stored["type"] != sent["type"] or stored["stream"] != stream:
        return False
    if "data_base64" in sent:
        return stored.get("data_base64") == sent["data_base64"]
    if stored.get("data") != sent["data"]:
        return False
    return stored.get("metadata") == sent.get("metadata")


def verify(node, all_requests):
    conn = node.connection()
    log = read_all_events(conn, page=4096)
    conn.close()
    positions = [event["position"] for event in log]
    check(positions == list(range(1, len(log) + 1)),
          "positions are not gapless 1..%d" % len(log))
    by_id = {}
    for event in log:
        check(event["id"] not in by_id, "event id %s stored twice" % event["id"])
        by_id[event["id"]] = event
    next_version = {}
    for event in log:
        expected = next_version.get(event["stream"], 0)
        check(event["version"] == expected, "stream %s: version %d where %d was due" % (
            event["stream"], event["version"], expected))
        next_version[event["stream"]] = expected + 1

    sent_ids = set()
    acked = unknown_present = unknown_absent = 0
    for request in all_requests:
        ids = [event["id"] for event in request.events]
        sent_ids.update(ids)
        present = [by_id.get(i) for i in ids]
        if request.acked:
            acked += 1
            first, last = request.acked
            for offset, (stored, sent) in enumerate(zip(present, request.events)):
                check(stored is not None, "acknowledged event %s is missing" % sent["id"])
                check(stored["position"] == first + offset,
                      "acknowledged event %s at position %d, acknowledged at %d" % (
                          sent["id"], stored["position"], first + offset))
                check(same_event(stored, sent, request.stream),
                      "event %s differs from what was sent:\n%r\n%r" % (sent["id"], stored, sent))
        elif all(stored is None for stored in present):
            unknown_absent += 1
        else:
            check(all(stored is not None for stored in present),
                  "request of %d events is half-visible: %s" % (
                      len(ids), [stored is not None for stored in present]))
            check(not request.outcome_known, "a refused request was written")
            unknown_present += 1
            first = present[0]["position"]
            for offset, (stored, sent) in enumerate(zip(present, request.events)):
                check(stored["position"] == first + offset, "unacknowledged request not contiguous")
                check(same_event(stored, sent, request.stream), "event %s corrupted" % sent["id"])
    foreign = [event["id"] for event in log if event["id"] not in sent_ids]
    check(not foreign, "%d events in the log that no client sent" % len(foreign))
    return len(log), acked, unknown_present, unknown_absent


def main():
    parser = arguments(__doc__)
    parser.add_argument("--mode", choices=["kill", "term"], default="kill")
    parser.add_argument("--cycles", type=int, default=3)
    parser.add_argument("--clients", type=int, default=CLIENTS)
    args = parser.parse_args()
    check(args.clients >= 16, "the test needs at least 16 clients")
    work = temp_dir("annal-crash-")
    node = Node(args.annal, os.path.join(work, "data"))
    all_requests = []
    for cycle in range(args.cycles):
        node.start()
        if cycle > 0:
            total, *_ = verify(node, all_requests)
            print("cycle %d: restart after %s: %d events verified" % (cycle, args.mode, total),
                  flush=True)
        stop = threading.Event()
        ready = threading.Semaphore(0)
        per_client = [[] for _ in range(args.clients)]
        threads = [threading.Thread(target=client_loop,
                                    args=(node, i, cycle, per_client[i], stop, ready), daemon=True)
                   for i in range(args.clients)]
        for thread in threads:
            thread.start()
        for _ in threads:
            ready.acquire()
        time.sleep(random.uniform(0.8, 2.0))
        if args.mode == "kill":
            node.kill9()
        else:
            code = node.terminate()
            check(code == 0, "SIGTERM during load: exit code %d, expected 0:\n%s"
                  % (code, node.log_text()))
        stop.set()
        for thread in threads:
            thread.join(timeout=60)
            check(not thread.is_alive(), "client thread hung after the node stopped")
        for requests in per_client:
            all_requests.extend(requests)
        acked_now = sum(1 for requests in per_client for r in requests if r.acked)
        check(acked_now > 0, "no append was acknowledged before the %s" % args.mode)
        print("cycle %d: %d requests acknowledged before %s" % (cycle, acked_now, args.mode),
              flush=True)
    node.start()
    total, acked, unknown_present, unknown_absent = verify(node, all_requests)
    print("final: %d events; %d acknowledged requests all present; unacknowledged requests: "
          "%d fully present, %d absent, none partial" % (total, acked, unknown_present,
                                                          unknown_absent))
    code = node.terminate()
    check(code == 0, "clean shutdown exit code %d" % code)
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)
    print("PASS")


if __name__ == "__main__":
    main()
