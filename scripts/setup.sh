#!/usr/bin/env bash
# Installs every Debian 12 package the build and tests need; skips what is present.
# Idempotent: safe to run on every invocation of run.sh / test.sh.
set -euo pipefail

packages=(
  build-essential cmake ninja-build pkg-config git curl ca-certificates python3
  libboost-dev libboost-system-dev liblmdb-dev lmdb-utils libssl-dev openssl
  libyaml-cpp-dev libcpprest-dev doctest-dev nlohmann-json3-dev libcli11-dev
  clang-format
)
if [[ "${ANNAL_SETUP_EXTRA:-}" != "" ]]; then
  read -r -a extra <<<"${ANNAL_SETUP_EXTRA}"
  packages+=("${extra[@]}")
fi

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}"
  SUDO=""
  if [[ $(id -u) -ne 0 ]]; then SUDO="sudo"; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
