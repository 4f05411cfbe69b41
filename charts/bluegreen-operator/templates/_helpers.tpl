{{/* Full name: the release name, unless it does not contain the chart name. */}}
{{- define "bluegreen-operator.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "bluegreen-operator.selectorLabels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "bluegreen-operator.labels" -}}
{{ include "bluegreen-operator.selectorLabels" . }}
app.kubernetes.io/part-of: {{ .Chart.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{- define "bluegreen-operator.serviceAccountName" -}}
{{- default (include "bluegreen-operator.fullname" .) .Values.serviceAccount.name -}}
{{- end -}}

{{/* What the operator calls in each watched namespace: src/runtime/rbac.ts OPERATOR_RULES. */}}
{{- define "bluegreen-operator.rules" -}}
# The informer lists and watches BlueGreenDeployments; the executor annotates one it aborts.
- apiGroups: [bluegreen.io]
  resources: [bluegreendeployments]
  verbs: [get, list, watch, patch]
# Status is written whole, conditional on resourceVersion (PUT).
- apiGroups: [bluegreen.io]
  resources: [bluegreendeployments/status]
  verbs: [update]
# Owner references with blockOwnerDeletion need this where OwnerReferencesPermissionEnforcement is on.
- apiGroups: [bluegreen.io]
  resources: [bluegreendeployments/finalizers]
  verbs: [update]
# One Deployment per color: server-side apply (create or patch), replica and annotation patches.
- apiGroups: [apps]
  resources: [deployments]
  verbs: [get, list, watch, create, patch]
# The active and preview Services: server-side apply.
- apiGroups: [""]
  resources: [services]
  verbs: [get, list, watch, create, patch]
# Ready endpoints behind each Service gate the switch.
- apiGroups: [discovery.k8s.io]
  resources: [endpointslices]
  verbs: [list, watch]
# Pod readiness per color; patch: role metadata (strategy.activeMetadata/previewMetadata) on pods.
- apiGroups: [""]
  resources: [pods]
  verbs: [list, watch, patch]
# spec.trafficRouting: the user's HTTPRoute, read from the cache (no get) and its backendRef weights
# patched (JSON patch with test ops). Granted even where the Gateway API is not installed: then the list
# answers 404 and the operator runs without routes.
- apiGroups: [gateway.networking.k8s.io]
  resources: [httproutes]
  verbs: [list, watch, patch]
# Kubernetes Events on each BlueGreenDeployment.
- apiGroups: [""]
  resources: [events]
  verbs: [create]
# Gates: the Jobs of job checks (created once per revision, watched until they finish).
- apiGroups: [batch]
  resources: [jobs]
  verbs: [list, watch, create]
# Gates and notifications: the Secrets an http check or a receiver names (get by name only, never listed).
- apiGroups: [""]
  resources: [secrets]
  verbs: [get]
# Gates: the log tail of a failed Job's pod (read once per failed Job; RBAC cannot narrow it to our Jobs' pods).
- apiGroups: [""]
  resources: [pods/log]
  verbs: [get]
# Notifications: the receivers, from the one ConfigMap of that name (list and watch by field selector).
- apiGroups: [""]
  resources: [configmaps]
  resourceNames: [bluegreen-notifications]
  verbs: [list, watch]
{{- end -}}
