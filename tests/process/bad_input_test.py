"""Every bad input of the API contract, sent to a running `annal node`, gets its
documented status and error code; garbage on the port does not take the node down;
nothing invalid is half-written; and valid appends still work afterwards.
A second node with a tiny storage limit must answer 507 storage_full when full.
"""
import json
import os
import shutil
import socket
import time
import uuid

from annal_process import Node, arguments, check, read_all_events, stream_path, temp_dir

MAX_BODY = 64 * 1024


def expect(conn, method, path, body, status, code=None, what=""):
    try:
        reply = conn.request(method, path, body)
    except OSError as error:
        check(False, "%s: connection failed instead of %d: %s" % (what or path, status, error))
    check(reply.status == status, "%s: expected %d, got %r" % (what or path, status, reply))
    if code is not None:
        body_json = reply.json()
        check(body_json.get("error") == code, "%s: expected error %s, got %r" % (
            what or path, code, reply))
        check(isinstance(body_json.get("message"), str) and body_json["message"],
              "%s: error without a message: %r" % (what or path, reply))
    return reply


def event(kind="Tested", **fields):
    result = {"type": kind, "data": {"ok": True}}
    result.update(fields)
    return result


def raw_exchange(port, payload, read_timeout=3.0):
    """Sends raw bytes, returns whatever comes back until the server closes or stalls."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        try:
            sock.sendall(payload)
        except OSError:
            return b""
        sock.settimeout(read_timeout)
        received = b""
        try:
            while True:
                chunk = sock.recv(65536)
                if not chunk:
                    break
                received += chunk
        except OSError:
            pass
        return received


def still_alive(node, what):
    check(node.process.poll() is None, "node died after %s:\n%s" % (what, node.log_text()))
    reply = node.connection(timeout=10).request("GET", "/healthz")
    check(reply.status == 200, "/healthz after %s: %r" % (what, reply))


def bad_requests(node):
    conn = node.connection()
    ok_stream = "orders-1"
    first = expect(conn, "POST", stream_path(ok_stream),
                   {"expected_version": "no_stream", "events": [event(id=str(uuid.uuid4()))]},
                   200, what="valid first append")
    check(first.json()["version"] == 0, "first append version %r" % first.json())

    # Malformed JSON: 400 with where it failed.
    for body in ['{"events": [', '{"events": [}', 'not json', '{"events": [{"type": "x",}]}']:
        reply = expect(conn, "POST", stream_path(ok_stream), body, 400, "malformed_json",
                       "malformed JSON %r" % body)
        check(any(ch.isdigit() for ch in reply.json()["message"]),
              "malformed JSON message does not say where: %r" % reply)

    # Unknown route and wrong method.
    expect(conn, "GET", "/v2/streams/x", None, 404, "not_found", "unknown route")
    expect(conn, "GET", "/nothing/here", None, 404, "not_found", "unknown route")
    expect(conn, "DELETE", stream_path(ok_stream), None, 405, "method_not_allowed", "DELETE")

    # Body over the limit (the server may close the connection after answering).
    big = json.dumps({"events": [event(data="x" * (MAX_BODY + 10))]})
    expect(node.connection(), "POST", stream_path(ok_stream), big, 413, "body_too_large",
           "body over --max-body-bytes")

    # Invalid stream names.
    for name in ["$reserved", "has space", "tab\there", "a" * 256, "new\nline"]:
        expect(conn, "POST", stream_path(name), {"events": [event()]}, 400, "invalid_stream",
               "stream name %r" % name)

    # Invalid events and fields.
    invalid_events = [
        ({"events": []}, "no events"),
        ({}, "no events field"),
        ({"events": "nope"}, "events not an array"),
        ({"events": [{"data": 1}]}, "missing type"),
        ({"events": [event(kind="")]}, "empty type"),
        ({"events": [event(kind="x" * 256)]}, "type too long"),
        ({"events": [event(kind="bad\u0001type")]}, "control char in type"),
        ({"events": [event(id="not-a-uuid")]}, "bad id"),
        ({"events": [event(timestamp="yesterday")]}, "bad timestamp"),
        ({"events": [event(data_base64="!!!not base64!!!")]}, "bad base64"),
        ({"events": [{"type": "x", "data": 1, "data_base64": "AAAA"}]}, "data and data_base64"),
        ({"events": [event(metadata=5)]}, "metadata not an object"),
        ({"events": [event(), {"type": 7}]}, "second event invalid"),
    ]
    for body, what in invalid_events:
        reply = expect(conn, "POST", stream_path(ok_stream), body, 400, None, what)
        check(reply.json().get("error") in ("invalid_event", "malformed_json"),
              "%s: error code %r" % (what, reply))
    for expected in ["sometimes", -1, 1.5, [1]]:
        expect(conn, "POST", stream_path(ok_stream),
               {"expected_version": expected, "events": [event()]}, 400,
               "invalid_expected_version", "expected_version %r" % (expected,))

    # Wrong expected version: 409 with the current version.
    for expected in ["no_stream", 5, 1]:
        reply = expect(conn, "POST", stream_path(ok_stream),
                       {"expected_version": expected, "events": [event()]}, 409,
                       "wrong_expected_version", "expected %r on a stream at 0" % (expected,))
        check(reply.json().get("current_version") == 0, "409 current_version: %r" % reply)
    reply = expect(conn, "POST", stream_path("never-written"),
                   {"expected_version": "exists", "events": [event()]}, 409,
                   "wrong_expected_version", "exists on an empty stream")
    check(reply.json().get("current_version") is None, "409 for no stream: %r" % reply)

    # Idempotency: a retry is deduplicated; mixing stored and new ids is refused.
    stored_id = str(uuid.uuid4())
    once = expect(conn, "POST", stream_path(ok_stream), {"events": [event(id=stored_id)]}, 200)
    again = expect(conn, "POST", stream_path(ok_stream), {"events": [event(id=stored_id)]}, 200)
    check(again.json().get("deduplicated") is True, "retry not deduplicated: %r" % again)
    check(again.json()["first_position"] == once.json()["first_position"],
          "retry got a new position: %r vs %r" % (again, once))
    expect(conn, "POST", stream_path(ok_stream),
           {"events": [event(id=stored_id), event(id=str(uuid.uuid4()))]}, 400,
           "partial_duplicate", "stored and new ids mixed")

    # Bad query parameters and missing streams.
    expect(conn, "GET", stream_path(ok_stream) + "?limit=abc", None, 400, "invalid_parameter",
           "limit=abc")
    expect(conn, "GET", stream_path(ok_stream) + "?direction=sideways", None, 400,
           "invalid_parameter", "direction=sideways")
    expect(conn, "GET", "/v1/all?from=-3", None, 400, "invalid_parameter", "from=-3")
    expect(conn, "GET", "/v1/time?from=soon&to=later", None, 400, "invalid_parameter", "time")
    expect(conn, "GET", stream_path("never-written"), None, 404, "stream_not_found",
           "missing stream")
    still_alive(node, "bad requests")
    return 2  # events written by the valid appends above


def garbage(node):
    port = node.port
    payloads = [
        bytes(range(256)) * 8,
        b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + os.urandom(500),  # a TLS hello
        b"GET / HTTP/9.9\r\n\r\n",
        b"HELLO\r\n\r\n",
        b"GET /healthz HTTP/1.1\r\nHost: x\r\n" + b"X-Long: " + b"a" * 200000 + b"\r\n\r\n",
        b"POST /v1/streams/s HTTP/1.1\r\nHost: x\r\nContent-Length: nope\r\n\r\n{}",
        b"POST /v1/streams/s HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
        b"POST /v1/streams/s HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{\"eve",
        b"\r\n" * 1000,
    ]
    for payload in payloads:
        answer = raw_exchange(port, payload, read_timeout=2.0)
        if answer:
            check(answer.startswith(b"HTTP/1.1 4") or answer.startswith(b"HTTP/1.0 4"),
                  "garbage %r answered with %r" % (payload[:40], answer[:80]))
        still_alive(node, "garbage %r" % payload[:40])
    # A connection that sends half a request and goes silent must not block others.
    silent = socket.create_connection(("127.0.0.1", port), timeout=5)
    silent.sendall(b"POST /v1/streams/s HTTP/1.1\r\nHost: x\r\nContent-Length: 50\r\n\r\n{")
    still_alive(node, "a half-sent request")
    silent.close()
    # Many connections opened and dropped at once.
    sockets = [socket.create_connection(("127.0.0.1", port), timeout=5) for _ in range(200)]
    for sock in sockets:
        sock.close()
    still_alive(node, "200 dropped connections")


def after_abuse(node, valid_events_before):
    conn = node.connection()
    reply = expect(conn, "POST", stream_path("orders-1"),
                   {"expected_version": "exists", "events": [event(), event()]}, 200,
                   what="valid append after all the bad input")
    log = read_all_events(conn)
    check(len(log) == valid_events_before + 2,
          "log holds %d events, expected only the %d valid ones" % (len(log),
                                                                     valid_events_before + 2))
    check([e["position"] for e in log] == list(range(1, len(log) + 1)), "positions not gapless")
    check(reply.json()["last_position"] == len(log), "last position %r" % reply)


def storage_full(annal, work):
    node = Node(annal, os.path.join(work, "full"),
                ["--initial-map-bytes", str(1 << 20), "--max-map-bytes", str(4 << 20)]).start()
    conn = node.connection()
    payload = "y" * (100 * 1024)
    acked = 0
    for attempt in range(400):
        reply = conn.request("POST", stream_path("filler"),
                             {"events": [{"type": "Filler", "data": payload}]})
        if reply.status == 507:
            check(reply.json().get("error") == "storage_full", "507 body: %r" % reply)
            break
        check(reply.status == 200, "filling: %r" % reply)
        acked += 1
    else:
        check(False, "no 507 after %d appends of 100 KiB with a 4 MiB map" % acked)
    check(acked > 0, "storage full before the first append")
    still_alive(node, "storage full")
    small = conn.request("POST", stream_path("small"), {"events": [{"type": "Tiny"}]})
    check(small.status in (200, 507), "small append on a full store: %r" % small)
    log = read_all_events(conn, page=8)
    expected = acked + (1 if small.status == 200 else 0)
    check(len(log) == expected, "full store holds %d events, %d were acknowledged" % (
        len(log), expected))
    check(node.terminate() == 0, "full node did not shut down cleanly")
    node.start()
    check(len(read_all_events(node.connection(), page=8)) == expected,
          "after restart the full store lost events")
    check(node.terminate() == 0, "full node did not shut down cleanly after restart")
    print("storage full: 507 after %d appends of 100 KiB" % acked)


def main():
    args = arguments(__doc__).parse_args()
    work = temp_dir("annal-bad-input-")
    node = Node(args.annal, os.path.join(work, "data"),
                ["--max-body-bytes", str(MAX_BODY)]).start()
    valid = bad_requests(node)
    garbage(node)
    after_abuse(node, valid)
    check(node.terminate() == 0, "node did not shut down cleanly")
    storage_full(args.annal, work)
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)
    print("PASS")


if __name__ == "__main__":
    main()
