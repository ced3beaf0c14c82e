{{/* Chart name, truncated to the 63 characters a label allows. */}}
{{- define "cim-forge.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Release-qualified name; component names append "-api", "-worker", … so keep room. */}}
{{- define "cim-forge.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 52 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 52 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 52 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "cim-forge.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
app.kubernetes.io/name: {{ include "cim-forge.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: cim-forge
{{- end -}}

{{/* Selector labels of one component: call with (dict "ctx" $ "component" "api"). */}}
{{- define "cim-forge.selectorLabels" -}}
app.kubernetes.io/name: {{ include "cim-forge.name" .ctx }}
app.kubernetes.io/instance: {{ .ctx.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{/* image reference: call with (dict "ctx" $ "image" .Values.api.image). */}}
{{- define "cim-forge.image" -}}
{{- printf "%s:%s" .image.repository (default .ctx.Chart.AppVersion .image.tag) -}}
{{- end -}}

{{/* The controller runs from the API image unless controller.image.repository is set. */}}
{{- define "cim-forge.controllerImage" -}}
{{- if .Values.controller.image.repository -}}
{{- include "cim-forge.image" (dict "ctx" . "image" .Values.controller.image) -}}
{{- else -}}
{{- include "cim-forge.image" (dict "ctx" . "image" .Values.api.image) -}}
{{- end -}}
{{- end -}}

{{- define "cim-forge.secretName" -}}
{{- default (include "cim-forge.fullname" .) .Values.secrets.existingSecret -}}
{{- end -}}

{{/* Environment shared by the API, the controller and the workers. */}}
{{- define "cim-forge.env" -}}
- name: DATABASE_URL
  valueFrom: { secretKeyRef: { name: {{ include "cim-forge.secretName" . }}, key: DATABASE_URL } }
- name: REDIS_URL
  valueFrom: { secretKeyRef: { name: {{ include "cim-forge.secretName" . }}, key: REDIS_URL } }
- name: S3_ACCESS_KEY_ID
  valueFrom: { secretKeyRef: { name: {{ include "cim-forge.secretName" . }}, key: S3_ACCESS_KEY_ID } }
- name: S3_SECRET_ACCESS_KEY
  valueFrom: { secretKeyRef: { name: {{ include "cim-forge.secretName" . }}, key: S3_SECRET_ACCESS_KEY } }
{{- end -}}

{{/* the bootstrap admin secret: the API only (workers, controller and rank processes never get it) */}}
{{- define "cim-forge.adminTokenEnv" -}}
- name: CIM_ADMIN_TOKEN
  valueFrom: { secretKeyRef: { name: {{ include "cim-forge.secretName" . }}, key: CIM_ADMIN_TOKEN } }
{{- end -}}

{{/* CIM_METRICS_TOKEN for the API, the controller and the workers (included while metrics.requireToken): /metrics and /docs need it */}}
{{- define "cim-forge.metricsTokenEnv" -}}
- name: CIM_METRICS_TOKEN
  valueFrom: { secretKeyRef: { name: {{ include "cim-forge.secretName" . }}, key: CIM_METRICS_TOKEN } }
{{- end -}}

{{/* a ServiceMonitor endpoint's credentials: the metrics token as a bearer token */}}
{{- define "cim-forge.scrapeAuth" -}}
authorization:
  type: Bearer
  credentials: { name: {{ include "cim-forge.secretName" . }}, key: CIM_METRICS_TOKEN }
{{- end -}}

{{/* /tmp is the services' scratch (the data cache, a rank's sources); the root filesystem is read-only. */}}
{{- define "cim-forge.tmpVolume" -}}
- name: tmp
  emptyDir: {}
{{- end -}}

{{/* The collective's Redis URLs, comma-separated: collective.redis.urls, else the chart's K shards, else empty (the workers use REDIS_URL) */}}
{{- define "cim-forge.collectiveRedisUrls" -}}
{{- if .Values.collective.redis.urls -}}
{{- join "," .Values.collective.redis.urls -}}
{{- else if gt (int .Values.collective.redis.shards) 0 -}}
{{- $name := printf "%s-collective-redis" (include "cim-forge.fullname" .) -}}
{{- $urls := list -}}
{{- range $k := until (int .Values.collective.redis.shards) -}}
{{- $urls = append $urls (printf "redis://%s-%d.%s.%s.svc:6379" $name $k $name $.Release.Namespace) -}}
{{- end -}}
{{- join "," $urls -}}
{{- end -}}
{{- end -}}
