#!/usr/bin/env bash
# The README's run command: installs what is missing, builds, and runs one Annal node on
# 127.0.0.1:2113 with its data in ./annal-data (or $ANNAL_DATA_DIR), in the foreground
# until Ctrl-C, which shuts it down gracefully.
#   ANNAL_BUILD_DIR   build directory (default: build)
#   ANNAL_DATA_DIR    data directory (default: ./annal-data)
#   ANNAL_PORT        port (default: 2113)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

"$root/scripts/setup.sh"

build=${ANNAL_BUILD_DIR:-build}
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$build" -j"$(nproc)" --target annal

annal="$root/$build/bin/annal"
data_dir=${ANNAL_DATA_DIR:-./annal-data}
port=${ANNAL_PORT:-2113}
url="http://127.0.0.1:$port"
cli="$build/bin/annal"
if [[ $port != 2113 ]]; then cli+=" --server $url"; fi

"$annal" node --data-dir "$data_dir" --listen-address 127.0.0.1 --listen-port "$port" &
node_pid=$!

# Ctrl-C / SIGTERM go to the node, which drains in-flight requests and closes the store;
# this script then waits for it and exits with its exit code.
forward() { kill -TERM "$node_pid" 2>/dev/null || true; }
trap forward INT TERM

ready=false
for _ in $(seq 1 300); do
  if ! kill -0 "$node_pid" 2>/dev/null; then
    break
  fi
  if curl -fsS "$url/readyz" >/dev/null 2>&1; then
    ready=true
    break
  fi
  sleep 0.1
done
if [[ $ready != true ]]; then
  echo "run: the node did not become ready on $url" >&2
  kill -TERM "$node_pid" 2>/dev/null || true
  wait "$node_pid" || true
  exit 1
fi

cat <<EOT

Annal is running on $url (data in $data_dir). Press Ctrl-C to stop it.

With curl:
  curl -s -X POST $url/v1/streams/orders-1 -H 'Content-Type: application/json' \\
       -d '{"expected_version": "any", "events": [{"type": "OrderPlaced", "data": {"total": 42}}]}'
  curl -s '$url/v1/streams/orders-1?from=0&limit=10'
  curl -s '$url/v1/all?from=1'
  curl -sN '$url/v1/subscribe?from=1'          # live, one JSON event per line
  curl -s $url/metrics

With the annal CLI (--json for machine output, --help for everything):
  $cli append orders-1 --type OrderPlaced --data '{"total": 42}'
  $cli read orders-1
  $cli read --all --json
  $cli tail                 # follow new events until Ctrl-C
  $cli status
  $cli bench --clients 64 --duration 10

EOT

# `wait` returns early when a trapped signal arrives; keep waiting for the node itself,
# then collect its real exit code.
while kill -0 "$node_pid" 2>/dev/null; do
  wait "$node_pid" || true
done
status=0
wait "$node_pid" || status=$?
exit "$status"
