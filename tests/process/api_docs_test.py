"""Runs every curl example of docs/API.md against a fresh `annal node` and checks each
answer against the expected-answer block that follows it (format: the HTML comment at
the top of docs/API.md). Exits 77 (ctest: skipped) while docs/API.md does not exist.
"""
import json
import os
import re
import shutil
import subprocess
import sys

from annal_process import Node, arguments, check, temp_dir

SKIP = 77
FENCE = re.compile(r"^```(\w*)\s*$")


def blocks(markdown):
    """(language, text, line number) of every fenced block, in order."""
    found = []
    language = None
    lines = []
    start = 0
    for number, line in enumerate(markdown.splitlines(), 1):
        fence = FENCE.match(line)
        if fence and language is None:
            language, lines, start = fence.group(1) or "text", [], number
        elif line.strip() == "```" and language is not None:
            found.append((language, "\n".join(lines), start))
            language = None
        elif language is not None:
            lines.append(line)
    return found


def examples(markdown):
    """Pairs of (curl command, expectation, line) from consecutive sh + json blocks."""
    pairs = []
    all_blocks = blocks(markdown)
    for index, (language, text, line) in enumerate(all_blocks):
        if language != "sh" or not text.strip().startswith("curl"):
            continue
        check(index + 1 < len(all_blocks) and all_blocks[index + 1][0] == "json",
              "docs/API.md:%d: curl example without a following ```json expectation" % line)
        command = text.strip()
        check("\n" not in command.replace("\\\n", " "),
              "docs/API.md:%d: example holds more than one command" % line)
        try:
            expectation = json.loads(all_blocks[index + 1][1])
        except ValueError as error:
            check(False, "docs/API.md:%d: expectation is not JSON: %s" % (line + 1, error))
        check(isinstance(expectation.get("status"), int),
              "docs/API.md:%d: expectation without an integer status" % line)
        pairs.append((command, expectation, line))
    return pairs


def subset_match(expected, actual, path="$"):
    """None if `actual` matches `expected` (subset rules of docs/API.md), else why not."""
    if expected == "...":
        return None
    if isinstance(expected, dict):
        if not isinstance(actual, dict):
            return "%s: expected an object, got %r" % (path, actual)
        for key, value in expected.items():
            if key not in actual:
                return "%s.%s: missing" % (path, key)
            why = subset_match(value, actual[key], path + "." + key)
            if why:
                return why
        return None
    if isinstance(expected, list):
        if not isinstance(actual, list) or len(actual) != len(expected):
            return "%s: expected an array of %d, got %r" % (path, len(expected), actual)
        for i, (e, a) in enumerate(zip(expected, actual)):
            why = subset_match(e, a, "%s[%d]" % (path, i))
            if why:
                return why
        return None
    if expected != actual or type(expected) is not type(actual) and not (
            isinstance(expected, (int, float)) and isinstance(actual, (int, float))
            and not isinstance(expected, bool) and not isinstance(actual, bool)):
        return "%s: expected %r, got %r" % (path, expected, actual)
    return None


def run_example(command, expectation, line, url, work):
    body_path = os.path.join(work, "body")
    if os.path.exists(body_path):
        os.remove(body_path)
    full = command.replace("\\\n", " ") + " -s -o '%s' -w '%%{http_code}'" % body_path
    result = subprocess.run(["bash", "-c", full], capture_output=True, text=True, timeout=60,
                            env=dict(os.environ, ANNAL=url), cwd=work)
    where = "docs/API.md:%d: %s" % (line, command)
    check(result.returncode in (0, 28), "%s\ncurl exit %d: %s" % (where, result.returncode,
                                                                  result.stderr))
    status = int(result.stdout.strip()[-3:] or 0)
    body = open(body_path, "rb").read().decode() if os.path.exists(body_path) else ""
    check(status == expectation["status"], "%s\nstatus %d, documented %d; body: %s" % (
        where, status, expectation["status"], body[:300]))
    if "json" in expectation:
        try:
            actual = json.loads(body)
        except ValueError:
            check(False, "%s\nbody is not JSON: %s" % (where, body[:300]))
        why = subset_match(expectation["json"], actual)
        check(why is None, "%s\nbody does not match: %s\nbody: %s" % (where, why, body[:500]))
    if "text" in expectation:
        check(body == expectation["text"], "%s\nbody %r, documented %r" % (
            where, body[:200], expectation["text"]))
    for piece in expectation.get("text_contains", []):
        check(piece in body, "%s\nbody lacks %r" % (where, piece))
    if "ndjson" in expectation:
        lines = [json.loads(l) for l in body.splitlines() if l.strip()]
        wanted = expectation["ndjson"]
        check(len(lines) >= len(wanted), "%s\n%d lines, documented at least %d" % (
            where, len(lines), len(wanted)))
        for i, (e, a) in enumerate(zip(wanted, lines)):
            why = subset_match(e, a, "line %d" % (i + 1))
            check(why is None, "%s\n%s" % (where, why))


def main():
    parser = arguments(__doc__)
    parser.add_argument("--api-md", required=True)
    args = parser.parse_args()
    if not os.path.exists(args.api_md):
        print("SKIP: %s does not exist yet" % args.api_md)
        sys.exit(SKIP)
    with open(args.api_md, encoding="utf-8") as f:
        pairs = examples(f.read())
    check(len(pairs) > 0, "docs/API.md has no curl examples")
    check(shutil.which("curl"), "curl is not installed")
    work = temp_dir("annal-api-docs-")
    node = Node(args.annal, os.path.join(work, "data")).start()
    for command, expectation, line in pairs:
        run_example(command, expectation, line, node.url, work)
    check(node.terminate() == 0, "node did not shut down cleanly")
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)
    print("PASS: %d examples" % len(pairs))


if __name__ == "__main__":
    main()
