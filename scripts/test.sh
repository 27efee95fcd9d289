#!/usr/bin/env bash
# The README's test command: installs what is missing, builds everything, runs every
# test through ctest. Extra arguments go to ctest (e.g. -R storage, -L unit).
#   ANNAL_BUILD_DIR   build directory (default: build)
#   ANNAL_SANITIZE    '', 'address' or 'thread'
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

"$root/scripts/setup.sh"
# Test environments that need more than packages (the Kubernetes API server for the
# operator tests) prepare themselves here; they cache outside the checkout.
for prepare in "$root"/tests/*/prepare.sh; do
  if [[ -x "$prepare" ]]; then "$prepare"; fi
done

build=${ANNAL_BUILD_DIR:-build}
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DANNAL_SANITIZE="${ANNAL_SANITIZE:-}" >/dev/null
cmake --build "$build" -j"$(nproc)"
ctest --test-dir "$build" --output-on-failure --timeout 1800 "$@"
