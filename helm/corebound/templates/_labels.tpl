{{/*
Labels: the `helm create` scaffold's, with the selector kept apart from the full set.
*/}}

{{- define "corebound.labels" -}}
helm.sh/chart: {{ include "corebound.chart" . }}
{{ include "corebound.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{/*
Pod template labels: no chart or app version, so a chart bump alone restarts no pod (the
image tag already changes the template when the app changes).
*/}}
{{- define "corebound.podLabels" -}}
{{ include "corebound.selectorLabels" . }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{/* Immutable once deployed: the Deployment's selector. */}}
{{- define "corebound.selectorLabels" -}}
app.kubernetes.io/name: {{ include "corebound.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/*
Labels of the load test and `helm test` pods. Their name differs from the service's so the
Service's selector (name + instance) never sends traffic to them. Call with (list $ "part").
*/}}
{{- define "corebound.clientLabels" -}}
{{- $ := index . 0 -}}
{{ include "corebound.clientSelectorLabels" . }}
app.kubernetes.io/component: {{ index . 1 }}
app.kubernetes.io/managed-by: {{ $.Release.Service }}
{{- end }}

{{/* What selects one part's client pods (the load test master's Service). Call as above. */}}
{{- define "corebound.clientSelectorLabels" -}}
{{- $ := index . 0 -}}
app.kubernetes.io/name: {{ printf "%s-%s" (include "corebound.name" $) (index . 1) | trunc 63 | trimSuffix "-" }}
app.kubernetes.io/instance: {{ $.Release.Name }}
{{- end }}
