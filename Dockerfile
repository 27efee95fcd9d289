# Annal container image: the `annal` node/CLI binary and `annal-operator`.
#
# One image with both binaries, not two targets: an AnnalCluster's pods run `annal` from
# the image named in its spec and the operator Deployment runs `annal-operator`; shipping
# them as one artifact means one tag names one build, so the operator and the nodes it
# manages are always the same version, and users mirror, scan and sign one image. The
# operator adds only a few MB (its libraries, cpprest and OpenSSL, are shared with nothing
# else, but they are small next to the base).
#
# Build (no registry needed once the base exists; tests/packaging/prepare.sh makes it with
# debootstrap and buildah):
#   buildah build --isolation chroot --layers -t localhost/annal:dev .
#   docker build -t annal:dev --build-arg BASE_IMAGE=debian:bookworm-slim .
# Run:
#   docker run --read-only -v annal-data:/var/lib/annal -p 2113:2113 annal:dev \
#     annal node --listen-address 0.0.0.0 --data-dir /var/lib/annal
#
# BASE_IMAGE: a Debian 12 (bookworm) root filesystem. debian:bookworm-slim works where a
# registry is reachable; the tests use localhost/annal-debian:bookworm, a debootstrap
# minbase committed locally.
ARG BASE_IMAGE=localhost/annal-debian:bookworm

# ---- build stage --------------------------------------------------------------------
FROM ${BASE_IMAGE} AS build
# The build dependencies of scripts/setup.sh, minus test-only tools; git so that
# `annal --version` names the commit (CMake runs `git describe`); ccache so that a
# rebuild after a small change recompiles only what changed (cache mount below).
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      g++ cmake ninja-build pkg-config git ccache ca-certificates \
      libboost-dev libboost-system-dev liblmdb-dev libssl-dev libyaml-cpp-dev \
      libcpprest-dev doctest-dev nlohmann-json3-dev libcli11-dev \
 && rm -rf /var/lib/apt/lists/*

# .dockerignore keeps build directories and caches out of the context. Few steps after
# this one: with buildah's vfs driver every committed step copies the whole tree.
COPY . /src
# The build name for `annal --version`, computed on the host by build-image.sh (a git
# worktree's .git is only a pointer that is useless inside the container).
ARG ANNAL_GIT_DESCRIBE=""
# Every product part (ANNAL_PARTS), no tests (BUILD_TESTING=OFF). The cache mount keeps
# ccache's store between builds (it is not part of any layer).
# Release at -O2, not CMake's default -O3: GCC 12 at -O3 reports false -Wrestrict
# warnings inside libstdc++'s std::string code, which -Werror makes fatal, and -O2 is the
# level the test suite (RelWithDebInfo) verifies.
RUN --mount=type=cache,target=/root/.cache/ccache \
    git config --global --add safe.directory /src \
 && cmake -S /src -B /build -G Ninja \
      -DCMAKE_BUILD_TYPE=Release -DCMAKE_CXX_FLAGS_RELEASE="-O2 -DNDEBUG" \
      -DBUILD_TESTING=OFF -DANNAL_PARTS="raft;storage;replication;transport;tls;client;api;cli;operator" \
      -DCMAKE_CXX_COMPILER_LAUNCHER=ccache -DANNAL_GIT_DESCRIBE="${ANNAL_GIT_DESCRIBE}" \
 && cmake --build /build -j"$(nproc)" --target annal annal-operator \
 && strip --strip-unneeded /build/bin/annal /build/bin/annal-operator \
 && install -D -m 0755 -t /out /build/bin/annal /build/bin/annal-operator \
 && rm -rf /build \
 && /out/annal --version

# ---- runtime stage ------------------------------------------------------------------
FROM ${BASE_IMAGE} AS runtime
# Only the shared libraries the two binaries link (ldd): LMDB, yaml-cpp, cpprest (with
# its Boost and OpenSSL dependencies). No compiler, no shell tools beyond the base.
# The user has a fixed numeric UID/GID (10001), so Kubernetes' runAsNonRoot can verify it
# without reading /etc/passwd, and fsGroup 10001 makes mounted volumes writable.
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      liblmdb0 libyaml-cpp0.7 libcpprest2.10 libssl3 \
 && rm -rf /var/lib/apt/lists/* /var/cache/apt/* /var/log/apt /var/log/dpkg.log \
 && groupadd --system --gid 10001 annal \
 && useradd --system --uid 10001 --gid 10001 --home-dir /var/lib/annal --no-create-home \
      --shell /usr/sbin/nologin annal \
 && install -d -o 10001 -g 10001 -m 0750 /var/lib/annal

COPY --from=build /out/annal /out/annal-operator /usr/local/bin/

# Everything the node writes goes to the data directory, a volume: the root filesystem
# can be mounted read-only.
VOLUME ["/var/lib/annal"]
WORKDIR /var/lib/annal
USER 10001:10001
EXPOSE 2113
LABEL org.opencontainers.image.title="annal" \
      org.opencontainers.image.description="Annal: a Raft-replicated event store, and its Kubernetes operator"
ENTRYPOINT ["annal"]
CMD ["node", "--listen-address", "0.0.0.0", "--data-dir", "/var/lib/annal"]
