"""Hostile bytes on the peer port of a running 3-node cluster.

The peer protocol shares the HTTP port: a connection whose first 4 bytes are "ANPR" is a
peer connection (node/replication/peer_frame.hpp: 28-byte header, big-endian, CRC32C of
the frame and of the header, cluster id = first 8 bytes of SHA-256 of the cluster name).
Against the leader and a follower in turn, raw TCP connections send:
  - "ANPR" followed by random garbage;
  - a well-formed Hello frame whose header CRC is wrong;
  - a Hello frame whose payload CRC is wrong (one payload bit flipped);
  - a header announcing a 4 GiB payload (correct CRCs);
  - a truncated frame, then the client closes;
  - a well-formed Hello frame carrying another cluster's id;
  - a correct Hello claiming to be node 2, then a RaftMessages frame of garbage;
  - "ANPR" and then nothing (must be closed by the Hello timeout).
After each, the node must have closed the connection (except where the client closed it),
still be running, still answer HTTP, and the cluster must keep acknowledging appends
(a background load of client threads runs throughout). At the end every node applies
everything, and the logs, the acknowledged events and the digests agree.
"""
import hashlib
import random
import socket
import struct
import time

from cluster_harness import (AppendLoad, Cluster, arguments, check, fail, http_request, log,
                             verify_cluster)

MAGIC = 0x414E5052
VERSION = 1
HELLO = 1
RAFT_MESSAGES = 2


def _crc32c_table():
    table = []
    for byte in range(256):
        crc = byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0x82F63B78 if crc & 1 else crc >> 1
        table.append(crc)
    return table


_TABLE = _crc32c_table()


def crc32c(data, crc=0):
    crc ^= 0xFFFFFFFF
    for byte in data:
        crc = (crc >> 8) ^ _TABLE[(crc ^ byte) & 0xFF]
    return crc ^ 0xFFFFFFFF


assert crc32c(b"123456789") == 0xE3069283  # the standard CRC-32C check value


def cluster_id_of(name):
    return struct.unpack(">Q", hashlib.sha256(name.encode()).digest()[:8])[0]


def frame(cluster_id, frame_type, payload, length=None):
    length = len(payload) if length is None else length
    head = struct.pack(">IBBHQI", MAGIC, VERSION, frame_type, 0, cluster_id, length)
    frame_crc = crc32c(payload, crc32c(head))
    head += struct.pack(">I", frame_crc)
    head += struct.pack(">I", crc32c(head))
    return head + payload


def hello(cluster_id, node_id):
    return frame(cluster_id, HELLO, struct.pack(">Q", node_id))


def closed_by_peer(sock, timeout):
    """True if the node closes the connection within `timeout` (EOF or reset)."""
    sock.settimeout(0.2)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            data = sock.recv(4096)
        except socket.timeout:
            continue
        except OSError:
            return True
        if not data:
            return True
    return False


def send_raw(port, data, close_after_send=False):
    sock = socket.create_connection(("127.0.0.1", port), timeout=5)
    try:
        sock.sendall(data)
    except OSError:
        pass  # the node may close while we are still writing: that is a rejection too
    if close_after_send:
        sock.close()
        return None
    return sock


def rejected_count(node):
    for line in node.metrics().splitlines():
        if line.startswith("annal_peer_inbound_rejected_total "):
            return int(float(line.split()[1]))
    fail("node %d's /metrics has no annal_peer_inbound_rejected_total" % node.id)


def main():
    parser = arguments(__doc__)
    args = parser.parse_args()
    rng = random.Random(4)
    cluster = Cluster(args.annal, 3)
    own_id = cluster_id_of(cluster.cluster_id)
    other_id = cluster_id_of(cluster.cluster_id + "-other")
    log("work dir %s, cluster id %s (%016x)" % (cluster.work, cluster.cluster_id, own_id))
    leader = cluster.start()
    load = AppendLoad(cluster, threads=4).start()
    load.wait_acks_after(time.monotonic() - 60, count=20, what="start")

    # Hostile connections sent to each node that it must have closed and counted as
    # rejected (those the client closes itself may or may not be counted).
    hostile = {node_id: 0 for node_id in cluster.nodes}
    rejected_before = {node_id: rejected_count(node) for node_id, node in cluster.nodes.items()}

    # Opened first, checked last: a peer connection that never says Hello.
    silent_target = cluster.node(leader).port
    silent = send_raw(silent_target, b"ANPR")
    hostile[leader] += 1
    silent_opened = time.monotonic()

    good_hello = hello(own_id, 2)
    cases = [
        ("ANPR + random garbage", b"ANPR" + rng.randbytes(512), False),
        ("header CRC wrong",
         good_hello[:24] + struct.pack(">I", struct.unpack(">I", good_hello[24:28])[0] ^ 1)
         + good_hello[28:], False),
        ("payload CRC wrong (bit flipped)", good_hello[:28] + bytes([good_hello[28] ^ 0x10])
         + good_hello[29:], False),
        ("4 GiB length announced", frame(own_id, RAFT_MESSAGES, b"", length=0xFFFFFFFF)
         + rng.randbytes(64), False),
        ("truncated frame, then close",
         frame(own_id, RAFT_MESSAGES, rng.randbytes(1000))[:300], True),
        ("Hello of another cluster", hello(other_id, 2), False),
        ("Hello as node 2, then RaftMessages of garbage",
         good_hello + frame(own_id, RAFT_MESSAGES, rng.randbytes(700)), False),
        ("Hello as node 2, then a batch claiming 1e9 messages",
         good_hello + frame(own_id, RAFT_MESSAGES, struct.pack(">I", 10**9) + b"\0" * 16),
         False),
    ]
    for round_number in range(2):
        for name, data, client_closes in cases:
            leader = cluster.wait_leader()
            follower = next(i for i in cluster.nodes if i != leader and i != 2)
            target = cluster.node(leader if round_number == 0 else follower)
            if name.startswith("Hello as node 2") and target.id == 2:
                target = cluster.node(follower)
            started = time.monotonic()
            sock = send_raw(target.port, data, close_after_send=client_closes)
            if sock is not None:
                closed = closed_by_peer(sock, timeout=7)
                sock.close()
                check(closed, "node %d kept a connection open after: %s" % (target.id, name))
                hostile[target.id] += 1
            check(target.running, "node %d died after: %s\n%s" % (target.id, name,
                                                                  target.log_text()))
            reply = http_request(target.port, "GET", "/healthz", timeout=5)
            check(reply.status == 200, "node %d /healthz after %s: %r" % (target.id, name, reply))
            load.wait_acks_after(time.monotonic(), count=5, timeout=20,
                                 what="'%s' sent to node %d" % (name, target.id))
            log("node %d (%s) rejected: %s (%.2f s); appends still acknowledged" % (
                target.id, "leader" if target.id == leader else "follower", name,
                time.monotonic() - started))

    waited = time.monotonic() - silent_opened
    check(closed_by_peer(silent, timeout=max(0.5, 8 - waited)),
          "a peer connection that never sent Hello was still open after %.1f s" % (
              time.monotonic() - silent_opened))
    silent.close()
    log("the connection without Hello was closed")

    # Many hostile connections at once, to every node.
    sockets = []
    for _ in range(20):
        for node in cluster.nodes.values():
            sockets.append(send_raw(node.port, b"ANPR" + rng.randbytes(rng.randrange(1, 200))))
            hostile[node.id] += 1
    for sock in sockets:
        check(closed_by_peer(sock, timeout=7), "a garbage connection stayed open")
        sock.close()
    load.wait_acks_after(time.monotonic(), count=5, timeout=20, what="60 garbage connections")
    log("60 concurrent garbage connections rejected; appends still acknowledged")

    load.stop()
    cluster.wait_converged()
    verify_cluster(cluster, load)
    for node in cluster.nodes.values():
        check(node.running, "node %d is down at the end:\n%s" % (node.id, node.log_text()))
        rejected = rejected_count(node) - rejected_before[node.id]
        log("node %d: %d hostile connections closed, annal_peer_inbound_rejected_total +%d"
            % (node.id, hostile[node.id], rejected))
        check(rejected >= hostile[node.id], "node %d counted %d rejected peer connections, "
              "%d were sent" % (node.id, rejected, hostile[node.id]))
    cluster.shutdown(keep=args.keep)
    print("PASS: %d acknowledged appends, every hostile connection closed" % len(load.acks))


if __name__ == "__main__":
    main()
