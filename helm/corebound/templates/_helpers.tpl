{{/*
Names and labels: the `helm create` scaffold's helpers.
*/}}
{{- define "corebound.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "corebound.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "corebound.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

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
app.kubernetes.io/name: {{ printf "%s-%s" (include "corebound.name" $) (index . 1) | trunc 63 | trimSuffix "-" }}
app.kubernetes.io/instance: {{ $.Release.Name }}
app.kubernetes.io/component: {{ index . 1 }}
app.kubernetes.io/managed-by: {{ $.Release.Service }}
{{- end }}

{{- define "corebound.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "corebound.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* `repository:tag` (tag defaults to appVersion) or `repository@digest`. Call with (list $ .Values.image). */}}
{{- define "corebound.image" -}}
{{- $ := index . 0 }}
{{- $image := index . 1 }}
{{- if $image.digest }}
{{- printf "%s@%s" $image.repository $image.digest }}
{{- else }}
{{- printf "%s:%s" $image.repository (default $.Chart.AppVersion $image.tag) }}
{{- end }}
{{- end }}

{{/* The load test image: loadtest.image, its repository defaulting to `<image.repository>-loadtest`. */}}
{{- define "corebound.loadtestImage" -}}
{{- $image := deepCopy .Values.loadtest.image }}
{{- if not $image.repository }}
{{- $_ := set $image "repository" (printf "%s-loadtest" .Values.image.repository) }}
{{- end }}
{{- $_ := set $image "digest" "" }}
{{- include "corebound.image" (list . $image) }}
{{- end }}

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

{{/* Rows per request (MAX_ROWS_PER_REQUEST): the value, else min(256, maxQueueRows). */}}
{{- define "corebound.maxRowsPerRequest" -}}
{{- $b := .Values.batching }}
{{- if $b.maxRowsPerRequest }}
{{- int $b.maxRowsPerRequest }}
{{- else }}
{{- min 256 (int $b.maxQueueRows) }}
{{- end }}
{{- end }}

{{/* The in-cluster URL of the Service (LOCUST_HOST, the helm test target). */}}
{{- define "corebound.serviceURL" -}}
{{- printf "http://%s.%s.svc:%v" (include "corebound.fullname" .) .Release.Namespace .Values.service.port }}
{{- end }}

{{/*
Sizing: the formula of service/resources.py plan(), evaluated at render time. A parity test
renders these over a table of inputs and compares them with plan(). Each helper prints one
number; callers convert with `| float64` or `| int`.
*/}}

{{/* CPU cores from resources.cpu: 2, "2", 0.5, "2.5" or "1500m" (parse_cpu_quantity). */}}
{{- define "corebound.cpuCores" -}}
{{- $raw := toString .Values.resources.cpu | trim }}
{{- if not (regexMatch "^[0-9]+(\\.[0-9]+)?m?$" $raw) }}
{{- fail (printf "resources.cpu: not a CPU quantity: %q (use cores like 2 or 0.5, or millicores like 1500m)" $raw) }}
{{- end }}
{{- $cores := 0.0 }}
{{- if hasSuffix "m" $raw }}
{{- $cores = divf (trimSuffix "m" $raw | float64) 1000 }}
{{- else }}
{{- $cores = float64 $raw }}
{{- end }}
{{- if le $cores 0.0 }}
{{- fail (printf "resources.cpu: CPU quantity must be positive: %q" $raw) }}
{{- end }}
{{- $cores }}
{{- end }}

{{/* Gunicorn workers (WEB_CONCURRENCY): the override, else latency mode 1, else max(1, floor(cpu)). */}}
{{- define "corebound.workers" -}}
{{- if .Values.concurrency.workers }}
{{- int .Values.concurrency.workers }}
{{- else if eq .Values.concurrency.mode "latency" }}
{{- 1 }}
{{- else }}
{{- max 1 (include "corebound.cpuCores" . | float64 | floor | int) }}
{{- end }}
{{- end }}

{{/* BLAS threads per worker (OMP_NUM_THREADS): the override, else max(1, floor(cpu / workers)). */}}
{{- define "corebound.threads" -}}
{{- if .Values.concurrency.threads }}
{{- int .Values.concurrency.threads }}
{{- else }}
{{- $workers := include "corebound.workers" . | float64 }}
{{- max 1 (divf (include "corebound.cpuCores" . | float64) $workers | floor | int) }}
{{- end }}
{{- end }}

{{/*
Request body limit in bytes (MAX_BODY_BYTES): the override, else the largest valid request,
rows x (width x 26 + 4) + 4096 (resources.body_limit: the widest float and its separator).
*/}}
{{- define "corebound.maxBodyBytes" -}}
{{- if .Values.batching.maxBodyBytes }}
{{- int .Values.batching.maxBodyBytes }}
{{- else }}
{{- $rows := include "corebound.maxRowsPerRequest" . | int }}
{{- $width := int .Values.model.inputDim }}
{{- add (mul $rows (add (mul $width 26) 4)) 4096 }}
{{- end }}
{{- end }}

{{/* Bodies read and parsed at once per worker (PARSE_CONCURRENCY). */}}
{{- define "corebound.parseConcurrency" -}}
{{- int .Values.batching.parseConcurrency }}
{{- end }}

{{/* MiB per worker for request bodies: body limit x (parse slots + 24) (resources.request_mib). */}}
{{- define "corebound.requestMiB" -}}
{{- $slots := include "corebound.parseConcurrency" . | int }}
{{- divf (mul (include "corebound.maxBodyBytes" . | int) (add $slots 24)) 1048576 }}
{{- end }}

{{/* Memory MiB, request = limit: the override, else ceil(copies x model + workers x (overhead + requests) + headroom); copies: 1 mapped (else one per worker) + one packed per worker on onnxruntime. */}}
{{- define "corebound.memoryMiB" -}}
{{- if .Values.resources.memoryMiB }}
{{- int .Values.resources.memoryMiB }}
{{- else }}
{{- $workers := include "corebound.workers" . | int }}
{{- $copies := add (ternary 1 $workers .Values.model.mmap) (ternary $workers 0 (eq .Values.model.runtime "onnxruntime")) }}
{{- $weights := mulf $copies .Values.model.sizeMiB }}
{{- $perWorker := mulf $workers (addf .Values.concurrency.workerOverheadMiB (include "corebound.requestMiB" . | float64)) }}
{{- addf $weights $perWorker .Values.concurrency.headroomMiB | ceil | int }}
{{- end }}
{{- end }}

{{/* Startup probe failures allowed: the model load budget divided by the period. */}}
{{- define "corebound.startupFailureThreshold" -}}
{{- $p := .Values.probes.startup }}
{{- $seconds := addf $p.baseSeconds (divf .Values.model.sizeMiB $p.loadMiBPerSecond) }}
{{- divf $seconds $p.periodSeconds | ceil | int }}
{{- end }}

{{/* The ServiceMonitor renders: forced, or auto-detected from the cluster's APIs. */}}
{{- define "corebound.serviceMonitor" -}}
{{- $sm := .Values.serviceMonitor }}
{{- if or $sm.enabled (and $sm.autoDetect (.Capabilities.APIVersions.Has "monitoring.coreos.com/v1/ServiceMonitor")) }}true{{ end }}
{{- end }}

{{/* More than one service pod can exist: the PDB's condition. */}}
{{- define "corebound.multiReplica" -}}
{{- if .Values.autoscaling.enabled }}
{{- if gt (int .Values.autoscaling.maxReplicas) 1 }}true{{ end }}
{{- else if gt (int .Values.replicaCount) 1 }}true
{{- end }}
{{- end }}

{{/* Checks across keys that values.schema.json cannot express. */}}
{{- define "corebound.validate" -}}
{{- if le (float64 .Values.model.sizeMiB) 0.0 }}
{{- fail (printf "model.sizeMiB must be the model's weight size in MiB, greater than 0 (got %v)" .Values.model.sizeMiB) }}
{{- end }}
{{- if and .Values.autoscaling.enabled (lt (int .Values.autoscaling.maxReplicas) (int .Values.autoscaling.minReplicas)) }}
{{- fail (printf "autoscaling.maxReplicas (%v) must be >= autoscaling.minReplicas (%v)" .Values.autoscaling.maxReplicas .Values.autoscaling.minReplicas) }}
{{- end }}
{{- if not (regexMatch "^[0-9]+(\\.[0-9]+)?m?$" (toString .Values.loadtest.cpu)) }}
{{- fail (printf "loadtest.cpu: not a CPU quantity: %q (use cores like 1 or 0.5, or millicores like 500m)" (toString .Values.loadtest.cpu)) }}
{{- end }}
{{- $rows := include "corebound.maxRowsPerRequest" . | int }}
{{- if gt $rows (int .Values.batching.maxQueueRows) }}
{{- fail (printf "batching.maxRowsPerRequest (%d) must be <= batching.maxQueueRows (%v): the service refuses to start when a request could never be queued" $rows .Values.batching.maxQueueRows) }}
{{- end }}
{{- if gt (int .Values.loadtest.rowsPerRequest) $rows }}
{{- fail (printf "loadtest.rowsPerRequest (%v) must be <= batching.maxRowsPerRequest (%d): every load test request would be refused" .Values.loadtest.rowsPerRequest $rows) }}
{{- end }}
{{- if and .Values.model.dir (not (hasPrefix "/" .Values.model.dir)) }}
{{- fail (printf "model.dir must be an absolute path in the container (got %q)" .Values.model.dir) }}
{{- end }}
{{- if gt (float64 .Values.loadtest.slo.p95Ms) (float64 .Values.loadtest.slo.p99Ms) }}
{{- fail (printf "loadtest.slo.p95Ms (%v) must be <= loadtest.slo.p99Ms (%v)" .Values.loadtest.slo.p95Ms .Values.loadtest.slo.p99Ms) }}
{{- end }}
{{- end }}
