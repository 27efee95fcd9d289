#!/usr/bin/env bash
# The README's run command: installs what is missing, builds, and runs a local 3-node
# Annal cluster on 127.0.0.1:2113, :2114 and :2115 (data in ./annal-data/node-1..3, or
# under $ANNAL_DATA_DIR), in the foreground until Ctrl-C, which shuts all three down
# gracefully. Node 1 (port 2113) is asked to lead once a leader is elected; followers
# redirect writes to the leader (307), so use `curl -L` or the annal CLI.
#   ANNAL_BUILD_DIR   build directory (default: build)
#   ANNAL_DATA_DIR    data directory (default: ./annal-data)
#   ANNAL_PORT        first port (default: 2113; the others follow)
#   ANNAL_NODES       1 for one standalone node instead of a cluster (default: 3)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

"$root/scripts/setup.sh"

build=${ANNAL_BUILD_DIR:-build}
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$build" -j"$(nproc)" --target annal

annal="$root/$build/bin/annal"
data_dir=${ANNAL_DATA_DIR:-./annal-data}
first_port=${ANNAL_PORT:-2113}
node_count=${ANNAL_NODES:-3}
url="http://127.0.0.1:$first_port"
cli="$build/bin/annal"
if [[ $first_port != 2113 ]]; then cli+=" --server $url"; fi

pids=()
# Ctrl-C / SIGTERM go to every node, which hands leadership over, drains in-flight
# requests and closes its store; this script then waits for all of them.
forward() { for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done; }
trap forward INT TERM

if [[ $node_count == 1 ]]; then
  "$annal" node --data-dir "$data_dir" --listen-address 127.0.0.1 --listen-port "$first_port" &
  pids+=($!)
else
  members=()
  for i in $(seq 1 "$node_count"); do
    members+=("$i=127.0.0.1:$((first_port + i - 1))")
  done
  initial_cluster=$(IFS=,; echo "${members[*]}")
  for i in $(seq 1 "$node_count"); do
    mkdir -p "$data_dir"
    "$annal" node --data-dir "$data_dir/node-$i" --listen-address 127.0.0.1 \
      --listen-port "$((first_port + i - 1))" --node-id "$i" --cluster-id local \
      --initial-cluster "$initial_cluster" &
    pids+=($!)
  done
fi

alive() { for pid in "${pids[@]}"; do kill -0 "$pid" 2>/dev/null || return 1; done; }
stop_all() {
  forward
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
}

# Ready = the node knows a leader and has applied what was committed when it learned it.
ready=false
for _ in $(seq 1 300); do
  alive || break
  all_ready=true
  for i in $(seq 1 "$node_count"); do
    curl -fsS "http://127.0.0.1:$((first_port + i - 1))/readyz" >/dev/null 2>&1 || all_ready=false
  done
  if [[ $all_ready == true ]]; then ready=true; break; fi
  sleep 0.1
done
if [[ $ready != true ]]; then
  echo "run: the nodes did not become ready on 127.0.0.1:$first_port.." >&2
  stop_all
  exit 1
fi

if [[ $node_count != 1 ]]; then
  # Best effort: the examples below then usually talk to the leader directly.
  "$annal" --server "$url" cluster transfer 1 >/dev/null 2>&1 || true
  echo
  "$annal" --server "$url" cluster status || true
  echo
  echo "A first append (through the CLI, which follows redirects) and a read (curl):"
  "$annal" --server "$url" append run-demo --type Started --data '{"by": "run.sh"}' || true
  curl -s "$url/v1/streams/run-demo?direction=backwards&limit=1"
  echo
fi

cat <<EOT

Annal is running: $node_count node(s) from $url (data in $data_dir). Ctrl-C stops them.
Any node answers; a follower redirects writes to the leader (307): use curl -L.

With curl:
  curl -sL -X POST $url/v1/streams/orders-1 -H 'Content-Type: application/json' \\
       -d '{"expected_version": "any", "events": [{"type": "OrderPlaced", "data": {"total": 42}}]}'
  curl -s '$url/v1/streams/orders-1?from=0&limit=10'
  curl -s '$url/v1/all?from=1&consistency=stale'  # without the leader round trip
  curl -sN '$url/v1/subscribe?from=1'          # live, one JSON event per line
  curl -s $url/admin/cluster                   # leader, term, members
  curl -s $url/metrics

With the annal CLI (--json for machine output, --help for everything):
  $cli append orders-1 --type OrderPlaced --data '{"total": 42}'
  $cli read orders-1
  $cli read --all --json
  $cli tail                 # follow new events until Ctrl-C
  $cli cluster status
  $cli cluster transfer 2   # hand leadership to node 2
  $cli bench --clients 64 --duration 10

EOT

# `wait` returns early when a trapped signal arrives; keep waiting for the nodes
# themselves, then collect their exit codes (the first failure wins).
status=0
for pid in "${pids[@]}"; do
  while kill -0 "$pid" 2>/dev/null; do
    wait "$pid" || true
  done
  code=0
  wait "$pid" || code=$?
  if [[ $status == 0 && $code != 0 && $code != 127 ]]; then status=$code; fi
done
exit "$status"
