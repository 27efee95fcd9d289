#!/usr/bin/env bash
# build-image.sh [TAG] — builds the project's Dockerfile with buildah (chroot isolation,
# vfs storage under $ANNAL_IMAGE_CACHE, layer cache on, ccache in a cache mount that
# persists under $ANNAL_IMAGE_CACHE/tmp) from the base image prepare.sh made.
# Prints the build's wall time. Needs root.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
# shellcheck source=image-env.sh
source "$here/image-env.sh"
tag=${1:-localhost/annal:test}

# buildah keeps RUN --mount=type=cache directories under TMPDIR: put them in the cache
# directory so ccache's store survives between test runs (and reboots).
mkdir -p "$ANNAL_IMAGE_CACHE/tmp"
export TMPDIR=$ANNAL_IMAGE_CACHE/tmp
started=$(date +%s)
timeout --kill-after=30 "${ANNAL_IMAGE_BUILD_TIMEOUT:-3000}" \
  buildah "${ANNAL_BUILDAH_FLAGS[@]}" build --isolation chroot --layers --force-rm \
  --build-arg BASE_IMAGE="$ANNAL_BASE_IMAGE" \
  --build-arg ANNAL_GIT_DESCRIBE="$(git -C "$repo" describe --always --dirty --tags 2>/dev/null || true)" \
  -f "$repo/Dockerfile" -t "$tag" "$repo"
echo "build-image: built $tag in $(($(date +%s) - started)) s" >&2
