#!/usr/bin/env bash
# stop.sh DIR — stops what start.sh DIR started (each process and its session's group):
# SIGTERM, then SIGKILL after 3 s. Keeps DIR (logs, data) but removes DIR/env; delete DIR
# afterwards. Safe to call twice, or on a half-started DIR.
set -uo pipefail

if [[ $# -ne 1 ]]; then
  echo "usage: $0 DIR" >&2
  exit 2
fi
dir=$1
[[ -d "$dir/pids" ]] || exit 0

alive() { kill -0 "$1" 2>/dev/null; }
signal() { kill "-$1" -- "-$2" 2>/dev/null || kill "-$1" "$2" 2>/dev/null; }

# All at once (teardown need not be orderly; the data is thrown away), dependants first so
# little logs errors about a vanished API server; SIGKILL what is left after 3 s.
pids=()
for name in watchdog fake-kubelet kube-controller-manager kube-apiserver etcd; do
  file=$dir/pids/$name
  [[ -f "$file" ]] || continue
  pid=$(cat "$file")
  # The watchdog runs this script through exec, so it must not signal itself.
  if [[ "$pid" =~ ^[0-9]+$ ]] && [[ "$pid" != "$$" ]] && alive "$pid"; then
    signal TERM "$pid"
    pids+=("$pid")
  fi
done
for _ in $(seq 30); do
  left=()
  for pid in "${pids[@]}"; do alive "$pid" && left+=("$pid"); done
  ((${#left[@]})) || break
  sleep 0.1
done
for pid in "${pids[@]}"; do alive "$pid" && signal KILL "$pid"; done
rm -f "$dir"/pids/* "$dir/env" "$dir/env.tmp"
