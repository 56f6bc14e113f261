{{/*
Validation: the rules across keys that values.schema.json cannot express. Each fails the
render (`helm install` and `helm template`) with a message naming the values; validate.yaml
runs them.
*/}}

{{- define "corebound.validate" -}}
{{- /* resources.cpu: the sizing helper that parses it refuses a malformed quantity. */}}
{{- $_ := include "corebound.cpuCores" . }}
{{- if le (float64 .Values.model.sizeMiB) 0.0 }}
{{- fail (printf "model.sizeMiB must be the model's weight size in MiB, greater than 0 (got %v)" .Values.model.sizeMiB) }}
{{- end }}
{{- if and .Values.autoscaling.enabled (lt (int .Values.autoscaling.maxReplicas) (int .Values.autoscaling.minReplicas)) }}
{{- fail (printf "autoscaling.maxReplicas (%v) must be >= autoscaling.minReplicas (%v)" .Values.autoscaling.maxReplicas .Values.autoscaling.minReplicas) }}
{{- end }}
{{- range $key, $cpu := dict "loadtest.cpu" .Values.loadtest.cpu "loadtest.master.cpu" .Values.loadtest.master.cpu }}
{{- if not (regexMatch "^[0-9]+(\\.[0-9]+)?m?$" (toString $cpu)) }}
{{- fail (printf "%s: not a CPU quantity: %q (use cores like 1 or 0.5, or millicores like 500m)" $key (toString $cpu)) }}
{{- end }}
{{- end }}
{{- $workerCpu := toString .Values.loadtest.cpu }}
{{- if gt (ternary (divf (trimSuffix "m" $workerCpu | float64) 1000) (float64 $workerCpu) (hasSuffix "m" $workerCpu)) 1.0 }}
{{- fail (printf "loadtest.cpu (%s) must be at most 1: a Locust worker is one process on one core; raise loadtest.workers for more load" $workerCpu) }}
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
{{- /* loadtest.env adds settings; those loadtest-configmap.yaml sets come from their values. */}}
{{- $chartSets := list "LOCUST_HOST" "LOAD_SHAPE" "STEP_USERS" "STEP_SECONDS" "STEP_COUNT" "SPAWN_RATE" "ROWS_PER_REQUEST" "WEIGHT_V1_PREDICT" "WEIGHT_V2_INFER" "SAMPLES_FILE" "RECYCLE_EVERY" "SLO_MAX_FAILURE_RATIO" "SLO_P95_MS" "SLO_P99_MS" }}
{{- range $name, $_ := .Values.loadtest.env }}
{{- if has $name $chartSets }}
{{- fail (printf "loadtest.env.%s: the chart sets %s from its loadtest values; set the value instead (values.yaml names it)" $name $name) }}
{{- end }}
{{- end }}
{{- if gt (float64 .Values.loadtest.slo.p95Ms) (float64 .Values.loadtest.slo.p99Ms) }}
{{- fail (printf "loadtest.slo.p95Ms (%v) must be <= loadtest.slo.p99Ms (%v)" .Values.loadtest.slo.p95Ms .Values.loadtest.slo.p99Ms) }}
{{- end }}
{{- include "corebound.validateRoutes" . }}
{{- include "corebound.validateJobs" . }}
{{- end }}

{{/* The job API, once enabled: where its Redis is, and the workers' CPU and bounds. */}}
{{- define "corebound.validateJobs" -}}
{{- $j := .Values.jobs }}
{{- if $j.enabled }}
{{- if and (not $j.redis.enabled) (not $j.externalRedis.existingSecret) }}
{{- fail "jobs.externalRedis.existingSecret is required when jobs.enabled and jobs.redis.enabled=false: name a Secret holding the whole REDIS_URL (redis://:<password>@<host>:6379/0) under the key jobs.externalRedis.urlKey, or keep jobs.redis.enabled=true for the built-in Redis" }}
{{- end }}
{{- if and $j.redis.enabled $j.externalRedis.existingSecret }}
{{- fail (printf "jobs.externalRedis.existingSecret (%q) is used only with jobs.redis.enabled=false: set that to use your Redis, or leave the Secret out for the built-in one" $j.externalRedis.existingSecret) }}
{{- end }}
{{- /* The worker's plan parses jobs.worker.resources.cpu and names it when it is malformed. */}}
{{- $worker := dict }}
{{- include "corebound.jobWorkerScope" (list . $worker) }}
{{- $_ := include "corebound.memoryMiB" $worker }}
{{- $a := $j.worker.autoscaling }}
{{- if and $a.enabled (lt (int $a.maxReplicas) (int $a.minReplicas)) }}
{{- fail (printf "jobs.worker.autoscaling.maxReplicas (%v) must be >= jobs.worker.autoscaling.minReplicas (%v)" $a.maxReplicas $a.minReplicas) }}
{{- end }}
{{- end }}
{{- end }}

{{/* The Ingress and the HTTPRoute: what each needs once enabled. */}}
{{- define "corebound.validateRoutes" -}}
{{- $ing := .Values.ingress }}
{{- if and $ing.enabled (not $ing.hosts) }}
{{- fail "ingress.hosts: at least one rule when ingress.enabled (host \"\" with path / routes every host)" }}
{{- end }}
{{- if $ing.enabled }}
{{- $routed := list }}
{{- range $ing.hosts }}{{ $routed = append $routed (.host | default "") }}{{ end }}
{{- range $i, $tls := $ing.tls }}
{{- range $tls.hosts }}
{{- $host := . }}
{{- $covered := false }}
{{- range $routed }}
{{- if or (eq . "") (eq . $host) (include "corebound.wildcardMatches" (list . $host)) (include "corebound.wildcardMatches" (list $host .)) }}
{{- $covered = true }}
{{- end }}
{{- end }}
{{- if not $covered }}
{{- fail (printf "ingress.tls[%d].hosts: %q is not one of ingress.hosts (%s): the Ingress would serve a certificate for a host it does not route" $i $host (join ", " $routed)) }}
{{- end }}
{{- end }}
{{- end }}
{{- end }}
{{- if and .Values.httpRoute.enabled (not .Values.httpRoute.parentRefs) }}
{{- fail "httpRoute.parentRefs is required when httpRoute.enabled: name the Gateway to attach to, e.g. --set httpRoute.parentRefs[0].name=<gateway> (and .namespace when it is in another namespace)" }}
{{- end }}
{{- end }}

{{/* "true" when the first host is a wildcard (`*.example.com`) covering the second. */}}
{{- define "corebound.wildcardMatches" -}}
{{- $pattern := index . 0 }}
{{- if hasPrefix "*." $pattern }}
{{- if regexMatch (printf "^[^.]+%s$" (trimPrefix "*" $pattern | regexQuoteMeta)) (index . 1) }}true{{ end }}
{{- end }}
{{- end }}
