#!/usr/bin/env bash
# image-test.sh — ctest packaging_image: builds the Dockerfile with buildah and runs the
# image for real:
#   1. `annal --version` inside the image reports the project version (and commit);
#   2. the image's user is the numeric non-root 10001, /var/lib/annal is a volume, and
#      the runtime stage has no compiler;
#   3. `annal node` started with `buildah run` (the image's own user, data on a volume)
#      answers /healthz and writes its data to the volume;
#   4. the same node from the image's root filesystem mounted read-only (chroot as UID
#      10001 with only the data directory writable) answers /healthz too.
# Exit 77 (SKIP) when buildah cannot run here (not root) or prepare.sh made no base image.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
# shellcheck source=image-env.sh
source "$here/image-env.sh"
tag=localhost/annal:test
log() { echo "[image $(date +%H:%M:%S)] $*"; }
fail() {
  log "FAIL: $*"
  exit 1
}

if [[ $(id -u) -ne 0 ]]; then
  log "SKIP: buildah with chroot isolation needs root here"
  exit 77
fi
if ! command -v buildah >/dev/null; then
  log "SKIP: buildah is not installed; run tests/packaging/prepare.sh"
  exit 77
fi
if ! buildah "${ANNAL_BUILDAH_FLAGS[@]}" inspect --type image "$ANNAL_BASE_IMAGE" >/dev/null 2>&1; then
  log "SKIP: no base image $ANNAL_BASE_IMAGE; run tests/packaging/prepare.sh"
  exit 77
fi

work=$(mktemp -d /tmp/annal-image-test.XXXXXX)
container=""
pids=()
cleanup() {
  # Each background node runs in its own process group (setsid): kill the whole group,
  # buildah's chroot runtime and the node with it.
  for pid in "${pids[@]}"; do kill -- "-$pid" 2>/dev/null || kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  if [[ -n "$container" ]]; then
    if mountpoint -q "$work/ro" 2>/dev/null; then umount -l "$work/ro" || true; fi
    buildah "${ANNAL_BUILDAH_FLAGS[@]}" rm "$container" >/dev/null 2>&1 || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT

b() { buildah "${ANNAL_BUILDAH_FLAGS[@]}" "$@"; }
# buildah run's default isolation needs an OCI runtime (runc), which is not installed.
brun() { b run --isolation chroot "$@"; }
# Working containers an interrupted earlier run left behind (this storage is ours alone).
b rm --all >/dev/null 2>&1 || true

# --- build -----------------------------------------------------------------------------
# ANNAL_IMAGE_SKIP_BUILD=1 reuses the last built image (for working on this script).
commit=""
if [[ "${ANNAL_IMAGE_SKIP_BUILD:-0}" != 1 ]]; then
  # The commit the build context is taken from (read before the build: the tree may move).
  commit=$(git -C "$repo" rev-parse --short HEAD 2>/dev/null || true)
  started=$(date +%s)
  "$here/build-image.sh" "$tag" >"$work/build.log" 2>&1 || {
    tail -n 40 "$work/build.log"
    fail "the image build failed"
  }
  log "image built in $(($(date +%s) - started)) s ($(grep -c 'STEP [0-9]' "$work/build.log") steps," \
    "$(grep -c 'Using cache' "$work/build.log") from the layer cache)"
fi
size=$(b images --format '{{.Size}}' "$tag" | head -n1)
log "image $tag: $size"

# --- 1. version ------------------------------------------------------------------------
container=$(b from --quiet "$tag")
version=$(brun "$container" -- annal --version)
project_version=$(sed -nE 's/^project\(annal VERSION ([0-9.]+).*/\1/p' "$repo/CMakeLists.txt")
[[ "$version" == "annal $project_version"* ]] || fail "annal --version said '$version', expected annal $project_version"
if [[ -n "$commit" ]]; then
  [[ "$version" == *"$commit"* ]] || fail "annal --version '$version' does not name commit $commit"
fi
log "annal --version: $version"
brun "$container" -- annal-operator --help | grep -q -- '--leader-elect' || fail "annal-operator --help"

# --- 2. configuration ------------------------------------------------------------------
user=$(b inspect --format '{{.OCIv1.Config.User}}' "$tag")
[[ "$user" == "10001:10001" ]] || fail "image user is '$user', expected 10001:10001"
[[ "$(brun "$container" -- id -u)" == 10001 ]] || fail "buildah run is not UID 10001"
b inspect --format '{{.OCIv1.Config.Volumes}}' "$tag" | grep -q '/var/lib/annal:' ||
  fail "/var/lib/annal is not a volume"
# `docker run IMAGE --version` must reach annal: the entrypoint is the binary.
[[ "$(b inspect --format '{{.OCIv1.Config.Entrypoint}}' "$tag")" == '[annal]' ]] ||
  fail "the entrypoint is not [\"annal\"]"
if brun "$container" -- sh -c 'command -v g++ || command -v cmake || command -v cc' >/dev/null 2>&1; then
  fail "the runtime image contains a compiler"
fi
log "user 10001:10001, volume /var/lib/annal, no compiler in the runtime stage"

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_healthz() { # port, pid, what
  for _ in $(seq 150); do
    if curl -sf --max-time 1 "http://127.0.0.1:$1/healthz" >/dev/null 2>&1; then
      return 0
    fi
    kill -0 "$2" 2>/dev/null || return 1
    sleep 0.2
  done
  return 1
}

# --- 3. a single node with buildah run (chroot isolation shares the host's network) ------
data=$work/data
mkdir -p "$data"
chown 10001:10001 "$data"
port=$(free_port)
setsid buildah "${ANNAL_BUILDAH_FLAGS[@]}" run --isolation chroot --volume "$data:/var/lib/annal" "$container" -- \
  annal node --listen-address 127.0.0.1 --listen-port "$port" --data-dir /var/lib/annal \
  --fsync false >"$work/node.log" 2>&1 &
pids+=($!)
wait_healthz "$port" $! || {
  cat "$work/node.log"
  fail "the node in the image did not answer /healthz on port $port"
}
health=$(curl -s "http://127.0.0.1:$port/healthz")
kill -- "-${pids[-1]}"
wait "${pids[-1]}" 2>/dev/null || true
[[ -n "$(find "$data" -type f -user 10001 | head -n1)" ]] || fail "the node wrote nothing (as 10001) to its volume"
log "buildah run: annal node answered /healthz ($health) and wrote $(du -sh "$data" | cut -f1) to the volume as UID 10001"

# --- 4. read-only root filesystem ------------------------------------------------------
rootfs=$(b mount "$container")
mkdir -p "$work/ro" "$work/data-ro"
chown 10001:10001 "$work/data-ro"
port=$(free_port)
# A private mount namespace: the image's root read-only, /proc and /dev from the host,
# the data directory the only writable path; then chroot as UID/GID 10001.
# shellcheck disable=SC2016 # expanded by the inner bash
setsid unshare --mount --propagation private bash -c '
  set -e
  mount --bind "$1" "$2" && mount -o remount,bind,ro "$2"
  mount -t proc proc "$2/proc"
  mount --rbind /dev "$2/dev"
  mount --bind "$3" "$2/var/lib/annal"
  exec chroot --userspec=10001:10001 "$2" /usr/local/bin/annal node \
    --listen-address 127.0.0.1 --listen-port "$4" --data-dir /var/lib/annal --fsync false
' ro-root "$rootfs" "$work/ro" "$work/data-ro" "$port" >"$work/node-ro.log" 2>&1 &
pids+=($!)
wait_healthz "$port" $! || {
  cat "$work/node-ro.log"
  fail "the node on a read-only root did not answer /healthz"
}
kill -- "-${pids[-1]}"
wait "${pids[-1]}" 2>/dev/null || true
[[ -n "$(find "$work/data-ro" -type f | head -n1)" ]] || fail "no data written on the read-only root"
b umount "$container" >/dev/null
log "read-only root filesystem: annal node answered /healthz; only the data volume was written"
# No node may outlive its test (a stray one would hold the port and the container).
for pid in "${pids[@]}"; do
  for _ in $(seq 75); do kill -0 -- "-$pid" 2>/dev/null || break; sleep 0.2; done
  if kill -0 -- "-$pid" 2>/dev/null; then fail "a node's process group $pid outlived SIGTERM by 15 s"; fi
done
# vfs stores every layer as a full copy and each source change adds ~1 GB of build-stage
# layers; past a bound, drop the untagged ones (the next build redoes its apt step).
max_gb=${ANNAL_IMAGE_STORAGE_MAX_GB:-20}
used_gb=$(du -s --block-size=1G "$ANNAL_IMAGE_CACHE/storage" 2>/dev/null | cut -f1)
if ((${used_gb:-0} > max_gb)); then
  log "image storage uses ${used_gb} GB (> $max_gb): removing untagged images"
  b rmi --prune >/dev/null 2>&1 || true
fi
log "PASS"
