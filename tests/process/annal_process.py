"""Starts and stops real `annal node` processes for the process-level tests.

Every node gets a free loopback port and its own data directory; every process started
here is killed when the test exits, however it exits (see `cleanup`).
"""
import atexit
import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse

_children = []


def cleanup():
    for child in _children:
        if child.poll() is None:
            child.kill()
            child.wait()


atexit.register(cleanup)
# SIGTERM from ctest's timeout must still run the atexit cleanup.
signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def fail(message):
    print("FAIL: " + message, file=sys.stderr, flush=True)
    sys.exit(1)


def check(condition, message):
    if not condition:
        fail(message)


class Response:
    def __init__(self, status, body, headers):
        self.status = status
        self.body = body
        self.headers = headers

    def json(self):
        return json.loads(self.body)

    def __repr__(self):
        return "%d %s" % (self.status, self.body[:300])


class Connection:
    """One keep-alive HTTP/1.1 connection (http.client reconnects when needed)."""

    def __init__(self, port, timeout=30):
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)

    def request(self, method, path, body=None, headers=None):
        headers = dict(headers or {})
        if body is not None:
            if not isinstance(body, (bytes, str)):
                body = json.dumps(body)
            headers.setdefault("Content-Type", "application/json")
        self.conn.request(method, path, body=body, headers=headers)
        reply = self.conn.getresponse()
        data = reply.read()
        if reply.will_close:
            self.conn.close()
        return Response(reply.status, data, reply.headers)

    def close(self):
        self.conn.close()


def stream_path(stream):
    return "/v1/streams/" + urllib.parse.quote(stream, safe="")


class Node:
    def __init__(self, annal, data_dir, extra_args=(), log_dir=None):
        self.annal = annal
        self.data_dir = data_dir
        self.extra_args = list(extra_args)
        self.log_dir = log_dir or data_dir + ".logs"
        os.makedirs(self.log_dir, exist_ok=True)
        self.process = None
        self.port = None
        self.starts = 0

    @property
    def url(self):
        return "http://127.0.0.1:%d" % self.port

    def log_text(self):
        try:
            with open(self.log_path, "rb") as log:
                return log.read().decode(errors="replace")[-4000:]
        except OSError:
            return ""

    def start(self, timeout=60):
        for _attempt in range(3):
            self.port = free_port()
            self.starts += 1
            self.log_path = os.path.join(self.log_dir, "node-%d.log" % self.starts)
            with open(self.log_path, "wb") as log:
                self.process = subprocess.Popen(
                    [self.annal, "node", "--data-dir", self.data_dir,
                     "--listen-address", "127.0.0.1", "--listen-port", str(self.port)]
                    + self.extra_args,
                    stdout=log, stderr=subprocess.STDOUT)
            _children.append(self.process)
            if self.wait_ready(timeout):
                return self
            if self.process.poll() is None:
                fail("node did not become ready in %ds:\n%s" % (timeout, self.log_text()))
            # Lost a race for the port: try another one.
            if "in use" not in self.log_text().lower():
                fail("node exited with %s during start:\n%s"
                     % (self.process.returncode, self.log_text()))
        fail("node could not find a free port")

    def wait_ready(self, timeout):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                return False
            try:
                if Connection(self.port, timeout=2).request("GET", "/readyz").status == 200:
                    return True
            except OSError:
                pass
            time.sleep(0.05)
        return False

    def kill9(self):
        self.process.kill()
        self.process.wait()

    def terminate(self, timeout=60):
        """SIGTERM, then the exit code (fails the test if the node does not exit)."""
        self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            fail("node did not exit within %ds of SIGTERM:\n%s" % (timeout, self.log_text()))

    def connection(self, timeout=30):
        return Connection(self.port, timeout)


def read_all_events(conn, page=1000):
    """The whole global log, following `next` from position 1."""
    events = []
    position = 1
    while True:
        reply = conn.request("GET", "/v1/all?from=%d&limit=%d" % (position, page))
        check(reply.status == 200, "read $all from %d: %r" % (position, reply))
        body = reply.json()
        events.extend(body["events"])
        if body.get("next") is None or not body["events"]:
            return events
        position = body["next"]


def temp_dir(prefix):
    return tempfile.mkdtemp(prefix=prefix)


def arguments(description):
    import argparse
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--annal", required=True, help="path to the annal binary")
    parser.add_argument("--keep", action="store_true", help="keep the temp directory")
    return parser
