{{/*
The name of every object: fullnameOverride, else the release name when it contains the chart
name, else <release>-gitops-reverser. The default release name gitops-reverser gives the names
deploy/ uses.
*/}}
{{- define "gitops-reverser.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 52 | trimSuffix "-" -}}
{{- else if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 52 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 52 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{/* The controller's namespace. */}}
{{- define "gitops-reverser.namespace" -}}
{{- default .Release.Namespace .Values.namespace.name -}}
{{- end -}}

{{/* The webhook Service, the Certificate and the Secret it is issued into. */}}
{{- define "gitops-reverser.webhookService" -}}
{{- include "gitops-reverser.fullname" . }}-webhook
{{- end -}}

{{- define "gitops-reverser.webhookCertificate" -}}
{{- include "gitops-reverser.fullname" . }}-webhook
{{- end -}}

{{- define "gitops-reverser.webhookCertSecret" -}}
{{- include "gitops-reverser.fullname" . }}-webhook-tls
{{- end -}}

{{/* Labels of every object. */}}
{{- define "gitops-reverser.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: gitops-reverser
{{- end -}}

{{/* Labels that select the controller's Pods. */}}
{{- define "gitops-reverser.selectorLabels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: controller
{{- end -}}

{{/* Labels of the controller's Deployment, Pods and Services. */}}
{{- define "gitops-reverser.controllerLabels" -}}
{{ include "gitops-reverser.labels" . }}
app.kubernetes.io/component: controller
{{- end -}}

{{/* The label that aggregates ClusterRoles into the reader (README, What it may read). */}}
{{- define "gitops-reverser.aggregateLabel" -}}
gitops-reverser.gitops.dev/aggregate-to-reader
{{- end -}}

{{/* The ServiceAccount subject of every binding. */}}
{{- define "gitops-reverser.subjects" -}}
subjects:
  - kind: ServiceAccount
    name: {{ include "gitops-reverser.fullname" . }}
    namespace: {{ include "gitops-reverser.namespace" . }}
{{- end -}}

{{/* The image reference: repository, then @digest or :tag (default: the appVersion). */}}
{{- define "gitops-reverser.image" -}}
{{- if .Values.image.digest -}}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest -}}
{{- else -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}
{{- end -}}
