#!/usr/bin/env bash
# start.sh DIR — starts a throw-away Kubernetes control plane for tests, all state in DIR:
# etcd, kube-apiserver, kube-controller-manager and (unless ANNAL_FAKE_KUBELET=0) the
# kubelet stand-in. Everything listens on 127.0.0.1 on free ports, so several can run at
# once. Writes DIR/kubeconfig and DIR/env (see README.md), then waits until the API server
# is ready and the default ServiceAccount has its token. Stop it with stop.sh DIR.
#   ANNAL_KUBE_CACHE          where prepare.sh put the binaries (default /var/cache/annal-kube)
#   ANNAL_KUBE_BIN            the binaries' directory (default $ANNAL_KUBE_CACHE/bin)
#   ANNAL_FAKE_KUBELET        1 (default) to start kube/fake-kubelet, 0 not to
#   ANNAL_FAKE_KUBELET_NODES  how many Nodes the stand-in registers (default 1)
#   ANNAL_FAKE_KUBELET_ARGS   more fake-kubelet options, e.g. "--termination-delay 2"
#   ANNAL_KUBE_WATCH_PID      if set, everything is stopped when that process exits (a
#                             test passes its own pid so a crash leaks no processes)
#   ANNAL_KUBE_START_TIMEOUT  seconds to wait for readiness (default 60)
set -euo pipefail

if [[ $# -ne 1 ]]; then
  echo "usage: $0 DIR" >&2
  exit 2
fi
here=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$1"
dir=$(cd "$1" && pwd)
bin=${ANNAL_KUBE_BIN:-${ANNAL_KUBE_CACHE:-/var/cache/annal-kube}/bin}
timeout=${ANNAL_KUBE_START_TIMEOUT:-60}

for b in kube-apiserver kube-controller-manager kubectl; do
  if [[ ! -x "$bin/$b" ]]; then
    echo "start.sh: $bin/$b is missing; run tests/operator/prepare.sh first" >&2
    exit 3
  fi
done
etcd_bin=$(command -v etcd || true)
if [[ -z "$etcd_bin" ]]; then
  echo "start.sh: etcd is missing (Debian package etcd-server); run tests/operator/prepare.sh" >&2
  exit 3
fi
if [[ -e "$dir/env" || -e "$dir/etcd" ]]; then
  echo "start.sh: $dir already holds an environment; stop it (stop.sh) and use a fresh DIR" >&2
  exit 2
fi

fail() {
  echo "start.sh: $*" >&2
  for log in etcd kube-apiserver kube-controller-manager fake-kubelet; do
    if [[ -s "$dir/logs/$log.log" ]]; then
      echo "---- last lines of $dir/logs/$log.log" >&2
      tail -n 15 "$dir/logs/$log.log" >&2
    fi
  done
  "$here/stop.sh" "$dir" >/dev/null 2>&1 || true
  exit 1
}

mkdir -p "$dir/certs" "$dir/logs" "$dir/pids"

# Four free loopback ports, held open together so they are distinct.
read -r etcd_port etcd_peer_port api_port spare_port < <(python3 -c '
import socket
socks = [socket.socket() for _ in range(4)]
for s in socks: s.bind(("127.0.0.1", 0))
print(" ".join(str(s.getsockname()[1]) for s in socks))')
: "$spare_port"

# --- credentials -----------------------------------------------------------------------
# One CA signs the serving certificate and an admin client certificate; EC keys keep this
# fast. The service-account key pair signs the tokens the controller-manager mints.
certs=$dir/certs
(
  cd "$certs"
  umask 077
  openssl ecparam -name prime256v1 -genkey -noout -out ca.key 2>/dev/null
  openssl req -x509 -new -key ca.key -sha256 -days 3650 -subj "/CN=annal-test-ca" -out ca.crt 2>/dev/null
  openssl ecparam -name prime256v1 -genkey -noout -out apiserver.key 2>/dev/null
  openssl req -new -key apiserver.key -subj "/CN=kube-apiserver" -out apiserver.csr 2>/dev/null
  printf '%s\n' "subjectAltName=IP:127.0.0.1,IP:10.0.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local" \
    "extendedKeyUsage=serverAuth" >apiserver.ext
  openssl x509 -req -in apiserver.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 3650 -sha256 \
    -extfile apiserver.ext -out apiserver.crt 2>/dev/null
  openssl ecparam -name prime256v1 -genkey -noout -out admin.key 2>/dev/null
  openssl req -new -key admin.key -subj "/O=system:masters/CN=annal-test-admin" -out admin.csr 2>/dev/null
  printf 'extendedKeyUsage=clientAuth\n' >admin.ext
  openssl x509 -req -in admin.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 3650 -sha256 \
    -extfile admin.ext -out admin.crt 2>/dev/null
  openssl ecparam -name prime256v1 -genkey -noout -out sa.key 2>/dev/null
  openssl ec -in sa.key -pubout -out sa.pub 2>/dev/null
  rm -f ./*.csr ./*.ext ./*.srl
) || fail "could not make certificates with openssl"
token=$(openssl rand -hex 24)
printf '%s,annal-test-admin,annal-test-admin,"system:masters"\n' "$token" >"$certs/tokens.csv"
chmod 600 "$certs/tokens.csv"

api_url=https://127.0.0.1:$api_port
write_kubeconfig() { # file, user-section lines...
  local file=$1
  shift
  {
    cat <<EOF
apiVersion: v1
kind: Config
clusters:
- name: annal-test
  cluster:
    server: $api_url
    certificate-authority: $certs/ca.crt
contexts:
- name: annal-test
  context:
    cluster: annal-test
    user: annal-test-admin
    namespace: default
current-context: annal-test
users:
- name: annal-test-admin
  user:
EOF
    printf '    %s\n' "$@"
  } >"$file"
  chmod 600 "$file"
}
write_kubeconfig "$dir/kubeconfig" "token: $token"
write_kubeconfig "$dir/kubeconfig-cert" "client-certificate: $certs/admin.crt" "client-key: $certs/admin.key"

start() { # name, command...
  local name=$1
  shift
  # setsid: the processes outlive this script but not stop.sh, which kills each group.
  setsid "$@" >"$dir/logs/$name.log" 2>&1 </dev/null &
  echo $! >"$dir/pids/$name"
}

# --- etcd ------------------------------------------------------------------------------
start etcd "$etcd_bin" --name default --data-dir "$dir/etcd" \
  --listen-client-urls "http://127.0.0.1:$etcd_port" --advertise-client-urls "http://127.0.0.1:$etcd_port" \
  --listen-peer-urls "http://127.0.0.1:$etcd_peer_port" \
  --initial-advertise-peer-urls "http://127.0.0.1:$etcd_peer_port" \
  --initial-cluster "default=http://127.0.0.1:$etcd_peer_port" \
  --quota-backend-bytes 1073741824 --snapshot-count 100000

# --- kube-apiserver --------------------------------------------------------------------
# Flags follow controller-runtime's envtest, plus what a cluster with a controller-manager
# needs (service-account signing, a service CIDR). The default admission plugins stay on:
# ServiceAccount makes pods wait for their token exactly as in a real cluster, and
# DefaultStorageClass/StorageObjectInUseProtection give PVCs their real behaviour.
start kube-apiserver "$bin/kube-apiserver" \
  --etcd-servers "http://127.0.0.1:$etcd_port" \
  --bind-address 127.0.0.1 --secure-port "$api_port" --advertise-address 127.0.0.1 \
  --cert-dir "$certs" --tls-cert-file "$certs/apiserver.crt" --tls-private-key-file "$certs/apiserver.key" \
  --client-ca-file "$certs/ca.crt" --token-auth-file "$certs/tokens.csv" \
  --service-account-key-file "$certs/sa.pub" --service-account-signing-key-file "$certs/sa.key" \
  --service-account-issuer https://kubernetes.default.svc.cluster.local \
  --api-audiences https://kubernetes.default.svc.cluster.local \
  --authorization-mode RBAC --allow-privileged=true \
  --service-cluster-ip-range 10.0.0.0/24 --endpoint-reconciler-type none \
  --disable-admission-plugins TaintNodesByCondition \
  --profiling=false --v=1

# The API server needs etcd; give both a moment before the controller-manager starts.
deadline=$((SECONDS + timeout))
curl_api() { curl -sS --max-time 5 --cacert "$certs/ca.crt" -H "Authorization: Bearer $token" "$@"; }
until [[ "$(curl_api "$api_url/readyz" 2>/dev/null)" == "ok" ]]; do
  ((SECONDS < deadline)) || fail "kube-apiserver not ready after ${timeout}s"
  kill -0 "$(cat "$dir/pids/etcd")" 2>/dev/null || fail "etcd exited"
  kill -0 "$(cat "$dir/pids/kube-apiserver")" 2>/dev/null || fail "kube-apiserver exited"
  sleep 0.2
done

# --- kube-controller-manager -----------------------------------------------------------
# All controllers ('*'), so StatefulSets create pods and PVCs, the garbage collector
# follows owner references and the token controller gives service accounts their secrets.
# No serving ports (several environments may run at once); no leader election.
start kube-controller-manager "$bin/kube-controller-manager" \
  --kubeconfig "$dir/kubeconfig" \
  --controllers '*' --leader-elect=false --port 0 --secure-port 0 \
  --service-account-private-key-file "$certs/sa.key" --root-ca-file "$certs/ca.crt" \
  --use-service-account-credentials=false \
  --cluster-signing-cert-file "$certs/ca.crt" --cluster-signing-key-file "$certs/ca.key" \
  --service-cluster-ip-range 10.0.0.0/24 \
  --v=1

# --- environment file ------------------------------------------------------------------
{
  echo "# written by tests/operator/kube/start.sh; source it from bash"
  echo "export KUBECONFIG='$dir/kubeconfig'"
  echo "export ANNAL_KUBE_DIR='$dir'"
  echo "export ANNAL_KUBE_API='$api_url'"
  echo "export ANNAL_KUBE_TOKEN='$token'"
  echo "export ANNAL_KUBE_CA='$certs/ca.crt'"
  echo "export ANNAL_KUBE_CLIENT_CERT='$certs/admin.crt'"
  echo "export ANNAL_KUBE_CLIENT_KEY='$certs/admin.key'"
  echo "export ANNAL_KUBE_KUBECONFIG_CERT='$dir/kubeconfig-cert'"
  echo "export ANNAL_KUBECTL='$bin/kubectl'"
  echo "export ANNAL_KUBE_ETCD='http://127.0.0.1:$etcd_port'"
  echo "export ANNAL_KUBE_ETCD_PID=$(cat "$dir/pids/etcd")"
  echo "export ANNAL_KUBE_APISERVER_PID=$(cat "$dir/pids/kube-apiserver")"
  echo "export ANNAL_KUBE_CONTROLLER_MANAGER_PID=$(cat "$dir/pids/kube-controller-manager")"
} >"$dir/env.tmp"

# --- kubelet stand-in ------------------------------------------------------------------
if [[ "${ANNAL_FAKE_KUBELET:-1}" != "0" ]]; then
  read -r -a kubelet_args <<<"${ANNAL_FAKE_KUBELET_ARGS:-}"
  start fake-kubelet python3 "$here/fake-kubelet" --server "$api_url" --token "$token" \
    --ca "$certs/ca.crt" --nodes "${ANNAL_FAKE_KUBELET_NODES:-1}" "${kubelet_args[@]}"
  echo "export ANNAL_FAKE_KUBELET_PID=$(cat "$dir/pids/fake-kubelet")" >>"$dir/env.tmp"
fi

if [[ -n "${ANNAL_KUBE_WATCH_PID:-}" ]]; then
  # A watchdog in its own session: when the watched process is gone, stop everything.
  # shellcheck disable=SC2016 # expanded by the inner bash
  setsid bash -c 'while kill -0 "$1" 2>/dev/null; do sleep 1; done; exec "$2" "$3"' \
    watchdog "$ANNAL_KUBE_WATCH_PID" "$here/stop.sh" "$dir" >"$dir/logs/watchdog.log" 2>&1 </dev/null &
  echo $! >"$dir/pids/watchdog"
fi

# --- ready: default ServiceAccount with its token (pods are admitted only then) ---------
until curl_api "$api_url/api/v1/namespaces/default/serviceaccounts/default" 2>/dev/null |
  python3 -c 'import json,sys; sys.exit(0 if json.load(sys.stdin).get("secrets") else 1)' 2>/dev/null; do
  ((SECONDS < deadline)) || fail "default ServiceAccount has no token after ${timeout}s"
  kill -0 "$(cat "$dir/pids/kube-controller-manager")" 2>/dev/null || fail "kube-controller-manager exited"
  sleep 0.2
done
if [[ -f "$dir/pids/fake-kubelet" ]]; then
  until "$bin/kubectl" --kubeconfig "$dir/kubeconfig" get nodes -o name 2>/dev/null | grep -q node/; do
    ((SECONDS < deadline)) || fail "fake-kubelet registered no Node after ${timeout}s"
    kill -0 "$(cat "$dir/pids/fake-kubelet")" 2>/dev/null || fail "fake-kubelet exited"
    sleep 0.2
  done
fi
mv "$dir/env.tmp" "$dir/env"
echo "start.sh: ready at $api_url (source $dir/env)" >&2
