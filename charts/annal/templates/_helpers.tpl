{{/* Names and labels shared by every template. */}}

{{- define "annal.name" -}}
{{- .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* The release's full name; the release name alone when it already contains the chart's. */}}
{{- define "annal.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "annal.operatorName" -}}
{{- printf "%s-operator" (include "annal.fullname" .) | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "annal.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: annal
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
{{- end -}}

{{/* Selects the operator's pods; deliberately not app.kubernetes.io/name=annal, which
     the operator uses for the member pods it watches. */}}
{{- define "annal.operatorSelectorLabels" -}}
app.kubernetes.io/name: annal-operator
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "annal.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "annal.operatorName" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "annal.image" -}}
{{- printf "%s:%s" .Values.operator.image.repository (default .Chart.AppVersion .Values.operator.image.tag) -}}
{{- end -}}

{{/*
The operator's permissions on the objects it manages: exactly the requests it makes
(operator/src: reconciler, controller informers, event recorder), nothing more.
tests/packaging checks these against manifests/ and proves them sufficient and
minimal against a real API server.
*/}}
{{- define "annal.operatorRules" -}}
# AnnalClusters: informer (list, watch), reconcile (get), finalizer (update), status.
- apiGroups: [annal.dev]
  resources: [annalclusters]
  verbs: [get, list, watch, update]
- apiGroups: [annal.dev]
  resources: [annalclusters/status]
  verbs: [patch]
# Owner references with blockOwnerDeletion need this where the
# OwnerReferencesPermissionEnforcement admission plugin is on (e.g. OpenShift).
- apiGroups: [annal.dev]
  resources: [annalclusters/finalizers]
  verbs: [update]
# Owned objects: server-side apply (patch; create when absent), informers (list,
# watch), the ownership check before applying (get). Secrets: the cluster CA and node
# certificate of tls.mode OperatorGenerated.
- apiGroups: [""]
  resources: [configmaps, services, secrets]
  verbs: [get, list, watch, create, patch]
- apiGroups: [apps]
  resources: [statefulsets]
  verbs: [get, list, watch, create, patch, delete]
- apiGroups: [policy]
  resources: [poddisruptionbudgets]
  verbs: [get, list, watch, create, patch]
# Member pods: informer and the volume clean-up's "is the pod gone" check.
- apiGroups: [""]
  resources: [pods]
  verbs: [list, watch]
# Volumes of removed members (storage.onScaleDown / onDelete: Delete).
- apiGroups: [""]
  resources: [persistentvolumeclaims]
  verbs: [list, delete]
- apiGroups: [""]
  resources: [events]
  verbs: [create]
{{- end -}}

{{/* Leader election: the Lease in the operator's own namespace. */}}
{{- define "annal.leaderElectionRules" -}}
- apiGroups: [coordination.k8s.io]
  resources: [leases]
  verbs: [get, create, update]
{{- end -}}
