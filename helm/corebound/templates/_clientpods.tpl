{{/*
Client pods: the load test and `helm test` pods, which reach the service through its
Service and wait for it with the probe program.
*/}}

{{/*
What the load test and `helm test` pods share with the service pods so they can pull and be
scheduled on the same (private, tainted, prioritised) pools. Indented for a pod spec.
*/}}
{{- define "corebound.clientScheduling" -}}
{{- with .Values.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.priorityClassName }}
priorityClassName: {{ . }}
{{- end }}
{{- with .Values.nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end }}

{{/* The ServiceAccount of the client pods (probe RBAC). */}}
{{- define "corebound.probeServiceAccountName" -}}
{{- printf "%s-probe" (include "corebound.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Ready endpoints the load test waits for: loadtest.readyReplicas, else the least pods that run. */}}
{{- define "corebound.loadtestReadyReplicas" -}}
{{- if .Values.loadtest.readyReplicas }}
{{- int .Values.loadtest.readyReplicas }}
{{- else if .Values.autoscaling.enabled }}
{{- int .Values.autoscaling.minReplicas }}
{{- else }}
{{- max 1 (int .Values.replicaCount) }}
{{- end }}
{{- end }}

{{/*
A probe container's command that waits for the Service: ready endpoints through the API when
the probe RBAC exists, else /readyz through the Service. Call with (list $ count timeout).
*/}}
{{- define "corebound.waitCommand" -}}
{{- $ := index . 0 }}
{{- if $.Values.probe.rbac }}
["python", "-m", "service.probe", "endpoints", "--service", {{ include "corebound.fullname" $ | quote }}, "--count", "{{ index . 1 }}", "--timeout", "{{ index . 2 }}"]
{{- else }}
["python", "-m", "service.probe", "url", {{ printf "%s/readyz" (include "corebound.serviceURL" $) | quote }}, "--timeout", "{{ index . 2 }}"]
{{- end }}
{{- end }}

{{/*
Users per load step: loadtest.stepUsers, else sized so the last step offers loadFactor x what
the least pods serve at the HPA target (cores x 1000 / cpuMsPerRequest requests per second).
*/}}
{{- define "corebound.loadtestStepUsers" -}}
{{- $l := .Values.loadtest }}
{{- if $l.stepUsers }}
{{- int $l.stepUsers }}
{{- else }}
{{- $cores := include "corebound.cpuCores" . | float64 }}
{{- $pods := include "corebound.loadtestReadyReplicas" . | float64 }}
{{- $target := ternary (divf .Values.autoscaling.targetCPUUtilizationPercentage 100) 1.0 .Values.autoscaling.enabled }}
{{- $rps := mulf $cores (divf 1000 $l.plan.cpuMsPerRequest) $pods $target $l.plan.loadFactor }}
{{- $users := divf $rps $l.plan.userRequestsPerSecond | ceil }}
{{- divf $users $l.stepCount | ceil | int | max 1 }}
{{- end }}
{{- end }}

{{/*
The Service's URL from the release's namespace (LOCUST_HOST, the helm test target): its short
name, so the same manifests work in whatever namespace kustomize puts them.
*/}}
{{- define "corebound.serviceURL" -}}
{{- printf "http://%s:%v" (include "corebound.fullname" .) .Values.service.port }}
{{- end }}

{{/* Where the client pods find loadtest.samples (SAMPLES_FILE, modelcheck --samples). */}}
{{- define "corebound.samplesFile" -}}
/samples/samples.json
{{- end }}
