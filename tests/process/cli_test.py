"""The `annal` command line against a live node: append / read / status / tail in human
and --json form round-trip, and exit codes differ by kind of failure (usage 2,
conflict 3, not found 4, other 1), with a one-line message on stderr.
"""
import json
import os
import shutil
import signal
import subprocess
import time

from annal_process import Node, arguments, check, temp_dir


class Cli:
    def __init__(self, annal, url):
        self.annal = annal
        self.url = url

    def run(self, *args, stdin=None, timeout=60, server=True):
        command = [self.annal] + (["--server", self.url] if server else []) + list(args)
        result = subprocess.run(command, input=stdin, capture_output=True, text=True,
                                timeout=timeout)
        return result

    def ok(self, *args, **kwargs):
        result = self.run(*args, **kwargs)
        check(result.returncode == 0, "annal %s: exit %d\nstdout: %s\nstderr: %s" % (
            " ".join(args), result.returncode, result.stdout, result.stderr))
        return result

    def fails(self, code, *args, **kwargs):
        result = self.run(*args, **kwargs)
        check(result.returncode == code, "annal %s: exit %d, expected %d\nstderr: %s" % (
            " ".join(args), result.returncode, code, result.stderr))
        lines = result.stderr.strip().splitlines()
        check(len(lines) >= 1 and lines[-1].strip(), "annal %s: no error message" % " ".join(args))
        return result


def main():
    args = arguments(__doc__).parse_args()
    work = temp_dir("annal-cli-")
    node = Node(args.annal, os.path.join(work, "data")).start()
    cli = Cli(args.annal, node.url)

    version = cli.ok("--version", server=False).stdout
    check(version.startswith("annal "), "--version printed %r" % version)

    # One event, human output.
    out = cli.ok("append", "cart-1", "--type", "ItemAdded", "--data", '{"sku": "A-1", "qty": 2}',
                 "--expected-version", "no_stream").stdout
    check("cart-1" in out and "positions 1..1" in out, "append output: %r" % out)

    # One event, JSON output; the global option may come after the subcommand.
    out = cli.ok("append", "cart-1", "-t", "ItemAdded", "-d", '{"sku": "B-2", "qty": 1}',
                 "--metadata", '{"user": "ann"}', "-e", "0", "--json").stdout
    reply = json.loads(out)
    check(reply["first_position"] == 2 and reply["version"] == 1 and reply["events"] == 1,
          "append --json: %r" % reply)

    # A file of events (NDJSON), sent in several atomic requests.
    lines = [json.dumps({"type": "Line", "data": {"n": n, "text": "naïve ✓"}}) for n in range(250)]
    lines.insert(3, "")
    path = os.path.join(work, "events.ndjson")
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")
    reply = json.loads(cli.ok("append", "lines", "--file", path, "--batch-events", "100",
                              "--json").stdout)
    check(reply["events"] == 250 and reply["requests"] == 3 and reply["version"] == 249,
          "append --file: %r" % reply)
    check(reply["last_position"] - reply["first_position"] == 249, "file not contiguous %r" % reply)
    # From stdin, with the type from --type.
    reply = json.loads(cli.ok("append", "lines", "--file", "-", "--type", "FromStdin", "--json",
                              stdin='{"data": 1}\n{"data": 2}\n').stdout)
    check(reply["events"] == 2 and reply["version"] == 251, "append from stdin: %r" % reply)

    # Read back: NDJSON, one event per line, in order, contents intact.
    out = cli.ok("read", "lines", "--json").stdout.splitlines()
    events = [json.loads(line) for line in out]
    check(len(events) == 252, "read lines --json: %d events" % len(events))
    check([e["version"] for e in events] == list(range(252)), "versions out of order")
    check(events[10]["data"] == {"n": 10, "text": "naïve ✓"}, "data changed: %r" % events[10])
    check(events[251]["type"] == "FromStdin" and events[251]["data"] == 2, "stdin event %r"
          % events[251])
    out = cli.ok("read", "lines", "--backwards", "--limit", "5", "--json").stdout.splitlines()
    check([json.loads(line)["version"] for line in out] == [251, 250, 249, 248, 247],
          "read --backwards --limit 5: %r" % out)
    out = cli.ok("read", "lines", "--from", "100", "--limit", "3", "--json").stdout.splitlines()
    check([json.loads(line)["version"] for line in out] == [100, 101, 102], "read --from 100")

    cart = [json.loads(line) for line in cli.ok("read", "cart-1", "--json").stdout.splitlines()]
    check([e["data"]["sku"] for e in cart] == ["A-1", "B-2"], "cart events %r" % cart)
    check(cart[1]["metadata"] == {"user": "ann"}, "metadata %r" % cart[1])

    # Human table: a header and one aligned row per event.
    table = cli.ok("read", "cart-1").stdout.splitlines()
    check(table[0].split() == ["POSITION", "STREAM", "VERSION", "TYPE", "TIMESTAMP", "DATA"],
          "table header %r" % table[0])
    check(len(table) == 3 and table[1].split()[:4] == ["1", "cart-1", "0", "ItemAdded"],
          "table rows %r" % table)
    check(table[1].index("ItemAdded") == table[0].index("TYPE"), "columns not aligned")

    # The global log and time ranges.
    everything = [json.loads(l) for l in cli.ok("read", "--all", "--json").stdout.splitlines()]
    check([e["position"] for e in everything] == list(range(1, 255)), "read --all positions")
    since = everything[0]["timestamp_us"]
    until = everything[-1]["timestamp_us"] + 1
    in_range = cli.ok("read", "--since", str(since), "--until", str(until), "--json").stdout
    check(len(in_range.splitlines()) == 254, "read --since/--until: %d events"
          % len(in_range.splitlines()))

    # Status.
    status = json.loads(cli.ok("status", "--json").stdout)
    check(status["head_position"] == 254, "status --json: %r" % status)
    human = cli.ok("status").stdout
    check("head_position" in human and "254" in human, "status table: %r" % human)

    # Tail: catch up from a position, then live; --count ends it.
    tailed = cli.ok("tail", "--from", "253", "--count", "2", "--json", timeout=30).stdout
    check([json.loads(l)["position"] for l in tailed.splitlines()] == [253, 254], "tail catch-up")
    live = subprocess.Popen([args.annal, "--server", node.url, "tail", "cart-1", "--json"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        time.sleep(1.0)
        cli.ok("append", "other", "-t", "Noise")
        cli.ok("append", "cart-1", "-t", "Live", "-d", '"hello"')
        line = live.stdout.readline()
        check(json.loads(line)["type"] == "Live", "tail live got %r" % line)
        live.send_signal(signal.SIGINT)
        code = live.wait(timeout=15)
        check(code == 0, "tail after Ctrl-C exited %d: %s" % (code, live.stderr.read()))
    finally:
        if live.poll() is None:
            live.kill()
            live.wait()

    # Exit codes.
    result = cli.fails(3, "append", "cart-1", "-t", "X", "-e", "no_stream")
    check("wrong_expected_version" in result.stderr and "current version 2" in result.stderr,
          "conflict message: %r" % result.stderr)
    cli.fails(4, "read", "no-such-stream")
    cli.fails(2, "append", "$reserved", "-t", "X")
    cli.fails(2, "append", "s", "-t", "X", "--data", "{not json")
    cli.fails(2, "append", "s")  # no --type
    cli.fails(2, "read")
    cli.fails(2, "read", "s", "--limit", "abc")
    cli.fails(2, "no-such-command")
    cli.fails(2, "append", "s", "-t", "X", "-e", "someday")
    bad_file = os.path.join(work, "bad.ndjson")
    with open(bad_file, "w") as f:
        f.write('{"type": "ok"}\n{"type": \n')
    result = cli.fails(2, "append", "s", "--file", bad_file)
    check(":2:" in result.stderr, "bad file line not named: %r" % result.stderr)
    check(cli.run("read", "s").returncode == 4, "a bad file must append nothing")
    # Nothing listens on this port: a transport failure.
    result = cli.fails(1, "--server", "http://127.0.0.1:1", "status", server=False)
    check("127.0.0.1:1" in result.stderr, "unreachable message: %r" % result.stderr)

    # `annal node` options: a YAML config, flags override it.
    config = os.path.join(work, "node.yaml")
    with open(config, "w") as f:
        f.write("listen_port: 1\nio_threads: 1\nmax_body_bytes: 1024\n")
    other = Node(args.annal, os.path.join(work, "data2"), ["--config", config]).start()
    big = "x" * 2000
    result = Cli(args.annal, other.url).fails(2, "append", "s", "-t", "X", "-d", '"%s"' % big)
    check("413" in result.stderr, "max_body_bytes from YAML not applied: %r" % result.stderr)
    check(other.terminate() == 0, "second node did not shut down cleanly")
    cli.fails(2, "node", "--config", os.path.join(work, "missing.yaml"), server=False)
    with open(config, "w") as f:
        f.write("listen_port: [oops\n")
    cli.fails(2, "node", "--config", config, server=False)

    check(node.terminate() == 0, "node did not shut down cleanly")
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)
    print("PASS")


if __name__ == "__main__":
    main()
