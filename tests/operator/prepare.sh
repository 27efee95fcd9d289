#!/usr/bin/env bash
# Prepares the operator tests' Kubernetes control plane (see tests/operator/kube/README.md):
# installs the Debian packages it needs, fetches Debian 12's `kubernetes` source package
# (1.20.2), applies the reflect2 fix for Go >= 1.18 and builds kube-apiserver,
# kube-controller-manager and kubectl with Debian's Go. Everything is cached outside the
# checkout, so after the first run (~8 min on 2 cores) this takes about a second.
#   ANNAL_KUBE_CACHE   cache directory (default /var/cache/annal-kube)
# Result: $ANNAL_KUBE_CACHE/bin/{kube-apiserver,kube-controller-manager,kubectl} and the
# stamp $ANNAL_KUBE_CACHE/bin/.stamp. Idempotent; safe to run concurrently (flock).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
cache=${ANNAL_KUBE_CACHE:-/var/cache/annal-kube}
patch_file=$here/kube/reflect2-go118-mapiterinit.patch
binaries=(kube-apiserver kube-controller-manager kubectl)

log() { echo "kube-prepare: $*" >&2; }
as_root() { if [[ $(id -u) -eq 0 ]]; then "$@"; else sudo "$@"; fi; }

# --- Debian packages -----------------------------------------------------------------
# kubectl is built from the same source rather than taken from `kubernetes-client`: the
# package is the same 1.20.2, but it conflicts with any other /usr/bin/kubectl (e.g. the
# Google Cloud SDK's), and a client of the server's own version avoids skew questions.
packages=(golang-go etcd-server rsync make dpkg-dev patch openssl curl python3 ca-certificates util-linux)
apt_updated=0
apt_update() {
  if ((apt_updated == 0)); then
    as_root apt-get update -qq
    apt_updated=1
  fi
}
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  log "installing ${missing[*]}"
  apt_update
  # policy-rc.d may forbid starting etcd's system service; we never use it anyway.
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    "${missing[@]}" >/dev/null
fi

as_root mkdir -p "$cache"
[[ -w "$cache" ]] || as_root chown "$(id -u):$(id -g)" "$cache"
exec 9>"$cache/.lock"
flock 9

# The stamp names everything the binaries depend on; any change rebuilds.
go_version=$(go env GOVERSION)
patch_sum=$(sha256sum "$patch_file" | cut -d' ' -f1)
stamp_wanted="kubernetes-source=bookworm go=$go_version patch=$patch_sum bins=${binaries[*]}"
if [[ -f "$cache/bin/.stamp" ]] && [[ "$(cat "$cache/bin/.stamp")" == "$stamp_wanted" ]]; then
  ok=1
  for b in "${binaries[@]}"; do [[ -x "$cache/bin/$b" ]] || ok=0; done
  if ((ok)); then
    log "cached binaries in $cache/bin are up to date"
    exit 0
  fi
fi

# --- deb-src entry for bookworm --------------------------------------------------------
# Debian 12 images use deb822 (.sources) files; older ones a one-line sources.list. Add a
# deb-src twin of the first bookworm 'deb' entry (same mirror, same keyring) if none exists.
has_deb_src() {
  local f
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [[ -f "$f" ]] && grep -Eq '^[[:space:]]*deb-src[[:space:]].*[[:space:]]bookworm[[:space:]]' "$f" && return 0
  done
  for f in /etc/apt/sources.list.d/*.sources; do
    [[ -f "$f" ]] || continue
    # A stanza counts if its Types include deb-src and its Suites include bookworm.
    awk 'BEGIN{RS=""; found=0}
         /(^|\n)Types:[^\n]*deb-src/ && /(^|\n)Suites:[^\n]*[ \t]bookworm([ \t]|\n|$)/ {found=1}
         END{exit found?0:1}' "$f" && return 0
  done
  return 1
}
first_mirror() {
  local f uri
  for f in /etc/apt/sources.list.d/*.sources; do
    [[ -f "$f" ]] || continue
    uri=$(awk 'BEGIN{RS=""}
               /(^|\n)Suites:[^\n]*[ \t]bookworm([ \t]|\n|$)/ && /(^|\n)Components:[^\n]*main/ {
                 if (match($0, /(^|\n)URIs:[ \t]*[^ \t\n]+/)) {
                   s = substr($0, RSTART, RLENGTH); sub(/.*URIs:[ \t]*/, "", s); print s; exit
                 }
               }' "$f")
    [[ -n "$uri" ]] && { echo "$uri"; return; }
  done
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [[ -f "$f" ]] || continue
    uri=$(sed -nE 's/^[[:space:]]*deb[[:space:]]+(\[[^]]*\][[:space:]]+)?([^[:space:]]+)[[:space:]]+bookworm[[:space:]].*main.*/\2/p' "$f" | head -n1)
    [[ -n "$uri" ]] && { echo "$uri"; return; }
  done
  echo "http://deb.debian.org/debian"
}
if ! has_deb_src; then
  mirror=$(first_mirror)
  log "adding a deb-src entry for bookworm ($mirror)"
  {
    echo "# Added by annal tests/operator/prepare.sh: source packages for 'apt-get source kubernetes'."
    echo "Types: deb-src"
    echo "URIs: $mirror"
    echo "Suites: bookworm"
    echo "Components: main"
    [[ -f /usr/share/keyrings/debian-archive-keyring.gpg ]] &&
      echo "Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg"
  } | as_root tee /etc/apt/sources.list.d/annal-debian-src.sources >/dev/null
  apt_updated=0
fi

# --- source ----------------------------------------------------------------------------
src_parent=$cache/src
mkdir -p "$src_parent"
src=$(find "$src_parent" -mindepth 1 -maxdepth 1 -type d -name 'kubernetes-1.20*' | head -n1)
if [[ -z "$src" || ! -f "$src/.annal-unpacked" ]]; then
  [[ -n "$src" ]] && rm -rf "$src"
  if ! apt-cache showsrc kubernetes 2>/dev/null | grep -q '^Package: kubernetes'; then
    apt_update
  fi
  log "downloading Debian's kubernetes source package"
  # apt-get source needs write access as the current user; '_apt' cannot read $cache.
  (cd "$src_parent" && apt-get source -qq kubernetes 2>&1 | grep -v '^W: Download is performed unsandboxed' >&2) || true
  src=$(find "$src_parent" -mindepth 1 -maxdepth 1 -type d -name 'kubernetes-1.20*' | head -n1)
  if [[ -z "$src" || ! -f "$src/Makefile" ]]; then
    log "apt-get source kubernetes failed"
    exit 1
  fi
  touch "$src/.annal-unpacked"
fi

if [[ ! -f "$src/.annal-reflect2-patched" ]]; then
  log "applying $(basename "$patch_file")"
  patch -p1 -N -s -d "$src" <"$patch_file"
  sha256sum "$patch_file" | cut -d' ' -f1 >"$src/.annal-reflect2-patched"
elif [[ "$(cat "$src/.annal-reflect2-patched")" != "$patch_sum" ]]; then
  log "the reflect2 patch changed; re-extracting the source"
  rm -rf "$src" "$cache/bin/.stamp"
  exec "$0" "$@"
fi

# --- build -----------------------------------------------------------------------------
log "building ${binaries[*]} (17 CPU-minutes: 9 min on 2 idle cores; log: $cache/build.log)"
started=$(date +%s)
what=""
for b in "${binaries[@]}"; do what+="cmd/$b "; done
(
  cd "$src"
  # CGO off as in Debian's own build (static binaries). hack/lib/golang.sh puts GOPATH and
  # GOCACHE under _output/local/go in the source tree, i.e. inside the cache, so a
  # rebuild after a stamp change is incremental.
  export GOFLAGS=-mod=vendor CGO_ENABLED=0
  export HOME=${HOME:-$cache}
  make WHAT="${what% }" >"$cache/build.log" 2>&1
) || {
  log "build failed; last lines of $cache/build.log:"
  tail -n 40 "$cache/build.log" >&2
  exit 1
}
mkdir -p "$cache/bin"
for b in "${binaries[@]}"; do
  install -m 0755 "$src/_output/bin/$b" "$cache/bin/$b.new"
  mv -f "$cache/bin/$b.new" "$cache/bin/$b"
done
echo "$stamp_wanted" >"$cache/bin/.stamp"
log "built in $(($(date +%s) - started)) s; binaries in $cache/bin"
