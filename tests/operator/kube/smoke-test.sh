#!/usr/bin/env bash
# kube_env_smoke: proves the operator tests' control plane behaves like a cluster.
#  - a StatefulSet (2 replicas, headless Service, volumeClaimTemplate) gets its pods from
#    the controller-manager, Ready from fake-kubelet, and Bound PVCs;
#  - scale-down finishes (graceful pod deletion completed by fake-kubelet);
#  - a CustomResourceDefinition with status/scale subresources, validation and printer
#    columns works, and an object of it can be created (the reflect2 crash site);
#  - the garbage collector deletes dependents of a deleted owner (StatefulSet → pods,
#    custom resource → ConfigMap).
# Exits 77 (ctest SKIP) when prepare.sh has not built the binaries.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
bin=${ANNAL_KUBE_BIN:-${ANNAL_KUBE_CACHE:-/var/cache/annal-kube}/bin}
for b in kube-apiserver kube-controller-manager kubectl; do
  if [[ ! -x "$bin/$b" ]]; then
    echo "SKIP: $bin/$b is missing; run tests/operator/prepare.sh (scripts/test.sh does)"
    exit 77
  fi
done
if ! command -v etcd >/dev/null; then
  echo "SKIP: etcd is missing (Debian package etcd-server); run tests/operator/prepare.sh"
  exit 77
fi

dir=$(mktemp -d /tmp/annal-kube-smoke.XXXXXX)
cleanup() {
  status=$?
  "$here/stop.sh" "$dir"
  if ((status != 0)); then
    for log in "$dir"/logs/*.log; do
      echo "---- $log (last 20 lines)"
      tail -n 20 "$log"
    done
  fi
  rm -rf "$dir"
}
trap cleanup EXIT

started=$SECONDS
ANNAL_KUBE_WATCH_PID=$$ "$here/start.sh" "$dir"
echo "control plane ready in $((SECONDS - started)) s"
# shellcheck disable=SC1091
source "$dir/env"
k() { "$ANNAL_KUBECTL" "$@"; }

step() { echo "== $*"; }
# wait_for DESCRIPTION SECONDS COMMAND...: polls until COMMAND succeeds.
wait_for() {
  local what=$1 limit=$2
  shift 2
  local deadline=$((SECONDS + limit))
  until "$@" >/dev/null 2>&1; do
    if ((SECONDS >= deadline)); then
      echo "FAIL: timed out after ${limit}s waiting for: $what"
      return 1
    fi
    sleep 0.3
  done
  echo "ok: $what"
}
equals() { [[ "$("${@:2}")" == "$1" ]]; }
gone() { ! k get "$@" -o name 2>/dev/null | grep -q .; }

step "the server is the version we built, and the token and client certificate both work"
k version -o json | python3 -c 'import json,sys; v=json.load(sys.stdin)["serverVersion"]; print(v["gitVersion"]); sys.exit(0 if v["minor"]=="20" else 1)'
[[ "$(k auth can-i '*' '*')" == yes ]]
KUBECONFIG=$ANNAL_KUBE_KUBECONFIG_CERT k get namespace default -o name | grep -q namespace/default
curl -sS --fail --cacert "$ANNAL_KUBE_CA" -H "Authorization: Bearer $ANNAL_KUBE_TOKEN" \
  "$ANNAL_KUBE_API/api/v1/namespaces/default" | grep -q '"name": "default"'
equals True k get node fake-node-0 -o 'jsonpath={.status.conditions[?(@.type=="Ready")].status}'

step "StatefulSet with a headless Service and a volumeClaimTemplate"
k apply -f - <<'EOF'
apiVersion: v1
kind: Service
metadata:
  name: web
spec:
  clusterIP: None
  selector: {app: web}
  ports: [{name: http, port: 80}]
---
apiVersion: apps/v1
kind: StatefulSet
metadata:
  name: web
spec:
  serviceName: web
  replicas: 2
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
      - name: web
        image: example.invalid/web:1
        ports: [{containerPort: 80}]
        volumeMounts: [{name: data, mountPath: /data}]
  volumeClaimTemplates:
  - metadata: {name: data}
    spec:
      accessModes: [ReadWriteOnce]
      resources: {requests: {storage: 1Gi}}
EOF
wait_for "StatefulSet web has 2 ready replicas" 90 equals 2 k get statefulset web -o 'jsonpath={.status.readyReplicas}'
for i in 0 1; do
  equals Running k get pod "web-$i" -o 'jsonpath={.status.phase}'
  equals True k get pod "web-$i" -o 'jsonpath={.status.conditions[?(@.type=="Ready")].status}'
  k get pod "web-$i" -o 'jsonpath={.status.podIP}' | grep -Eq '^127\.'
  wait_for "PVC data-web-$i is Bound" 60 equals Bound k get pvc "data-web-$i" -o 'jsonpath={.status.phase}'
  equals standard k get pvc "data-web-$i" -o 'jsonpath={.spec.storageClassName}'
done

step "readiness override: an annotated pod turns not ready, then ready again"
k annotate pod web-1 fake-kubelet.annal.dev/ready=false
wait_for "web-1 not ready" 30 equals False k get pod web-1 -o 'jsonpath={.status.conditions[?(@.type=="Ready")].status}'
wait_for "StatefulSet counts 1 ready replica" 30 equals 1 k get statefulset web -o 'jsonpath={.status.readyReplicas}'
k annotate pod web-1 fake-kubelet.annal.dev/ready-
wait_for "web-1 ready again" 30 equals True k get pod web-1 -o 'jsonpath={.status.conditions[?(@.type=="Ready")].status}'

step "scale down: graceful deletion is completed by the kubelet stand-in"
k scale statefulset web --replicas=1
wait_for "pod web-1 is gone" 60 gone pod web-1
equals 1 k get statefulset web -o 'jsonpath={.status.replicas}'

step "garbage collection: deleting the StatefulSet deletes its pods"
k delete statefulset web --wait=false
wait_for "pod web-0 is collected" 60 gone pod web-0
k get pvc data-web-0 -o name # PVCs outlive their StatefulSet on 1.20, as in a real cluster
k delete pvc data-web-0 data-web-1 --wait=false
wait_for "the provisioned volumes are released and deleted" 60 gone pv -l fake-kubelet.annal.dev/provisioned=true

step "CustomResourceDefinition with validation, status and scale subresources, printer columns"
k apply -f - <<'EOF'
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: widgets.smoke.annal.dev
spec:
  group: smoke.annal.dev
  scope: Namespaced
  names: {plural: widgets, singular: widget, kind: Widget, shortNames: [wdg]}
  versions:
  - name: v1alpha1
    served: true
    storage: true
    subresources:
      status: {}
      scale:
        specReplicasPath: .spec.replicas
        statusReplicasPath: .status.replicas
        labelSelectorPath: .status.selector
    additionalPrinterColumns:
    - {name: Replicas, type: integer, jsonPath: .spec.replicas}
    - {name: Ready, type: integer, jsonPath: .status.readyReplicas}
    - {name: Age, type: date, jsonPath: .metadata.creationTimestamp}
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec:
            type: object
            required: [replicas]
            properties:
              replicas: {type: integer, minimum: 1, maximum: 9}
              labels: {type: object, additionalProperties: {type: string}}
          status:
            type: object
            properties:
              replicas: {type: integer}
              readyReplicas: {type: integer}
              selector: {type: string}
EOF
wait_for "CRD established" 30 equals True k get crd widgets.smoke.annal.dev -o 'jsonpath={.status.conditions[?(@.type=="Established")].status}'
# spec.labels is a map: encoding it is what crashed the unpatched reflect2.
k apply -f - <<'EOF'
apiVersion: smoke.annal.dev/v1alpha1
kind: Widget
metadata:
  name: one
spec:
  replicas: 3
  labels: {tier: db, zone: a}
EOF
# kubectl learns a new CRD's names (plural, short name, printer columns) through its
# discovery cache, which may lag the Established condition by a moment: poll, do not assume.
wait_for "widget one readable by its plural" 30 equals 3 k get widget one -o 'jsonpath={.spec.replicas}'
wait_for "widget one readable by its short name" 30 equals db k get wdg one -o 'jsonpath={.spec.labels.tier}'
widget_header() { k get widgets | head -n1 | grep -Eq '^NAME +REPLICAS +READY +AGE'; }
wait_for "printer columns of widgets" 30 widget_header
if k apply -f - 2>"$dir/invalid.err" <<'EOF'; then
apiVersion: smoke.annal.dev/v1alpha1
kind: Widget
metadata:
  name: invalid
spec:
  replicas: 0
EOF
  echo "FAIL: replicas 0 was accepted"
  exit 1
fi
grep -q 'spec.replicas' "$dir/invalid.err"
echo "ok: invalid object rejected: $(head -c 200 "$dir/invalid.err")"
# kubectl 1.20 has no --subresource flag: patch the status subresource over HTTP.
curl -sS --fail --cacert "$ANNAL_KUBE_CA" -H "Authorization: Bearer $ANNAL_KUBE_TOKEN" \
  -H 'Content-Type: application/merge-patch+json' -X PATCH \
  -d '{"status":{"replicas":3,"readyReplicas":2,"selector":"app=one"}}' \
  "$ANNAL_KUBE_API/apis/smoke.annal.dev/v1alpha1/namespaces/default/widgets/one/status" >/dev/null
equals 2 k get widget one -o 'jsonpath={.status.readyReplicas}'
k get widget one | grep -Eq '^one +3 +2 '
k scale widget one --replicas=5
equals 5 k get widget one -o 'jsonpath={.spec.replicas}'
k get --raw /apis/smoke.annal.dev/v1alpha1/namespaces/default/widgets/one/scale | grep -q '"selector":"app=one"'

step "garbage collection follows an owner reference to a custom resource"
uid=$(k get widget one -o 'jsonpath={.metadata.uid}')
k apply -f - <<EOF
apiVersion: v1
kind: ConfigMap
metadata:
  name: one-config
  ownerReferences:
  - {apiVersion: smoke.annal.dev/v1alpha1, kind: Widget, name: one, uid: $uid, controller: true, blockOwnerDeletion: true}
data: {key: value}
EOF
k delete widget one --wait=false
wait_for "the owned ConfigMap is collected" 60 gone configmap one-config

echo "PASS: kube_env_smoke in $((SECONDS - started)) s"
