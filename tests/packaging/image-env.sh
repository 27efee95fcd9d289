# shellcheck shell=bash
# Sourced by the packaging scripts: where buildah keeps its images and how it is called.
# A storage root of our own under the cache (vfs driver: works in any container or VM,
# no overlay or fuse needed), so the tests never touch another buildah user's images.
ANNAL_IMAGE_CACHE=${ANNAL_IMAGE_CACHE:-/var/cache/annal-image}
ANNAL_BASE_IMAGE=${ANNAL_BASE_IMAGE:-localhost/annal-debian:bookworm}
# shellcheck disable=SC2034 # used by the scripts that source this file
ANNAL_BUILDAH_FLAGS=(--root "$ANNAL_IMAGE_CACHE/storage" --runroot "/run/annal-image"
  --storage-driver vfs)
