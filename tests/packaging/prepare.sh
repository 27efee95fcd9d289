#!/usr/bin/env bash
# Prepares the packaging tests (see tests/packaging/README.md): installs the Debian
# packages they need (buildah, debootstrap, Go with sprig / gojsonschema / ghodss-yaml for
# the chart renderer) and makes the base image the Dockerfile builds FROM, since no
# container registry is reachable here:
#   debootstrap --variant=minbase bookworm  ->  rootfs tarball (cached)
#   buildah from scratch + mount + untar + commit  ->  localhost/annal-debian:bookworm
# Everything is cached outside the checkout, so after the first run (~1-2 min) this takes
# about a second.
#   ANNAL_IMAGE_CACHE   cache directory (default /var/cache/annal-image): the rootfs
#                       tarball and buildah's storage (vfs driver) live here
# Idempotent; safe to run concurrently (flock).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=image-env.sh
source "$here/image-env.sh"

log() { echo "packaging-prepare: $*" >&2; }
as_root() { if [[ $(id -u) -eq 0 ]]; then "$@"; else sudo "$@"; fi; }

packages=(buildah debootstrap golang-go golang-github-masterminds-sprig-dev
  golang-github-xeipuuv-gojsonschema-dev golang-github-ghodss-yaml-dev golang-gopkg-yaml.v2-dev
  python3 curl util-linux)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  log "installing ${missing[*]}"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    "${missing[@]}" >/dev/null
fi

# buildah needs root here (chroot isolation, no user namespaces configured); without it
# the image test reports SKIP and the rest of the packaging tests still run.
if [[ $(id -u) -ne 0 ]] && ! sudo -n true 2>/dev/null; then
  log "not root: the base image is not built (the image test will SKIP)"
  exit 0
fi

as_root mkdir -p "$ANNAL_IMAGE_CACHE"
exec 9>"$ANNAL_IMAGE_CACHE/.lock"
flock 9

mirror=${ANNAL_DEBIAN_MIRROR:-http://deb.debian.org/debian}
security_mirror=${ANNAL_DEBIAN_SECURITY_MIRROR:-http://deb.debian.org/debian-security}
tarball=$ANNAL_IMAGE_CACHE/annal-debian-bookworm-minbase.tar
stamp_wanted="debootstrap minbase bookworm mirror=$mirror security=$security_mirror v1"
if [[ ! -f "$tarball" || "$(cat "$tarball.stamp" 2>/dev/null)" != "$stamp_wanted" ]]; then
  log "debootstrap --variant=minbase bookworm (about 30-60 s)"
  started=$(date +%s)
  rootfs=$(mktemp -d "$ANNAL_IMAGE_CACHE/rootfs.XXXXXX")
  trap 'as_root rm -rf "$rootfs"' EXIT
  as_root debootstrap --variant=minbase bookworm "$rootfs" "$mirror" >"$ANNAL_IMAGE_CACHE/debootstrap.log" 2>&1 || {
    log "debootstrap failed; last lines of $ANNAL_IMAGE_CACHE/debootstrap.log:"
    tail -n 30 "$ANNAL_IMAGE_CACHE/debootstrap.log" >&2
    exit 1
  }
  # The image's apt sources: the release, its updates and security fixes.
  as_root tee "$rootfs/etc/apt/sources.list" >/dev/null <<SOURCES
deb $mirror bookworm main
deb $mirror bookworm-updates main
deb $security_mirror bookworm-security main
SOURCES
  # As in Debian's official images: no package caches or lists in layers, no docs.
  as_root tee "$rootfs/etc/apt/apt.conf.d/90annal-image" >/dev/null <<'APTCONF'
APT::Install-Recommends "false";
APT::Install-Suggests "false";
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/*.bin || true"; };
APTCONF
  as_root rm -rf "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/apt/archives/*.deb \
    "$rootfs"/var/cache/apt/*.bin "$rootfs"/var/log/*.log
  as_root tar --numeric-owner --xattrs -C "$rootfs" -cf "$tarball.new" .
  as_root mv -f "$tarball.new" "$tarball"
  echo "$stamp_wanted" | as_root tee "$tarball.stamp" >/dev/null
  sha256sum "$tarball" | cut -d' ' -f1 | as_root tee "$tarball.sha256" >/dev/null
  as_root rm -rf "$rootfs"
  trap - EXIT
  log "base rootfs made in $(($(date +%s) - started)) s: $tarball"
fi

# The image in buildah's storage; rebuilt when the tarball changed.
[[ -s "$tarball.sha256" ]] || sha256sum "$tarball" | cut -d' ' -f1 | as_root tee "$tarball.sha256" >/dev/null
tar_sum=$(cat "$tarball.sha256")
have_sum=$(as_root buildah "${ANNAL_BUILDAH_FLAGS[@]}" inspect --type image \
  --format '{{index .ImageAnnotations "dev.annal.rootfs-sha256"}}' "$ANNAL_BASE_IMAGE" 2>/dev/null || true)
if [[ "$have_sum" != "$tar_sum" ]]; then
  log "committing $ANNAL_BASE_IMAGE from $tarball"
  container=$(as_root buildah "${ANNAL_BUILDAH_FLAGS[@]}" from scratch)
  mountpoint=$(as_root buildah "${ANNAL_BUILDAH_FLAGS[@]}" mount "$container")
  as_root tar --numeric-owner --xattrs -C "$mountpoint" -xf "$tarball"
  as_root buildah "${ANNAL_BUILDAH_FLAGS[@]}" umount "$container" >/dev/null
  as_root buildah "${ANNAL_BUILDAH_FLAGS[@]}" config --cmd /bin/bash \
    --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    --annotation "dev.annal.rootfs-sha256=$tar_sum" "$container"
  as_root buildah "${ANNAL_BUILDAH_FLAGS[@]}" commit --quiet --rm "$container" "$ANNAL_BASE_IMAGE" >/dev/null
fi
log "base image $ANNAL_BASE_IMAGE is ready"
