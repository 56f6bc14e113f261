{{/*
Sizing: the formula of service/sizing/formula.py plan(), evaluated at render time. A parity test
renders these over a table of inputs and compares them with plan(). Each helper prints one
number; callers convert with `| float64` or `| int`.
*/}}

{{/*
CPU cores from resources.cpu: 2, "2", 0.5, "2.5" or "1500m" (parse_cpu_quantity). A scope
(corebound.jobWorkerScope) names its own key in the messages.
*/}}
{{- define "corebound.cpuCores" -}}
{{- $raw := toString .Values.resources.cpu | trim }}
{{- $key := get . "cpuKey" | default "resources.cpu" }}
{{- if not (regexMatch "^[0-9]+(\\.[0-9]+)?m?$" $raw) }}
{{- fail (printf "%s: not a CPU quantity: %q (use cores like 2 or 0.5, or millicores like 1500m)" $key $raw) }}
{{- end }}
{{- $cores := 0.0 }}
{{- if hasSuffix "m" $raw }}
{{- $cores = divf (trimSuffix "m" $raw | float64) 1000 }}
{{- else }}
{{- $cores = float64 $raw }}
{{- end }}
{{- if le $cores 0.0 }}
{{- fail (printf "%s: CPU quantity must be positive: %q" $key $raw) }}
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

{{/* Rows per request (MAX_ROWS_PER_REQUEST): the value, else min(256, maxQueueRows). */}}
{{- define "corebound.maxRowsPerRequest" -}}
{{- $b := .Values.batching }}
{{- if $b.maxRowsPerRequest }}
{{- int $b.maxRowsPerRequest }}
{{- else }}
{{- min 256 (int $b.maxQueueRows) }}
{{- end }}
{{- end }}

{{/*
The largest valid body of (list rows width): rows x (width x 26 + 4) + 4096
(formula.largest_body_bytes: the widest float and its separator, the envelope).
*/}}
{{- define "corebound.largestBodyBytes" -}}
{{- $width := int (index . 1) }}
{{- add (mul (int (index . 0)) (add (mul $width 26) 4)) 4096 }}
{{- end }}

{{/* Request body limit in bytes (MAX_BODY_BYTES): the override, else the largest valid request. */}}
{{- define "corebound.maxBodyBytes" -}}
{{- if .Values.batching.maxBodyBytes }}
{{- int .Values.batching.maxBodyBytes }}
{{- else }}
{{- include "corebound.largestBodyBytes" (list (include "corebound.maxRowsPerRequest" .) .Values.model.inputDim) }}
{{- end }}
{{- end }}

{{/* The job body limit B in bytes (JOB_MAX_BODY_BYTES): the largest job of jobs.maxRows rows. */}}
{{- define "corebound.jobBodyBytes" -}}
{{- include "corebound.largestBodyBytes" (list .Values.jobs.maxRows .Values.model.inputDim) }}
{{- end }}

{{/* Bodies read and parsed at once per worker (PARSE_CONCURRENCY). */}}
{{- define "corebound.parseConcurrency" -}}
{{- int .Values.batching.parseConcurrency }}
{{- end }}

{{/*
MiB per worker for request bodies: body limit x (parse slots + 24) (formula.request_mib). With
the job API on, each API worker also reads one job body at a time: request_mib(B, 1).
*/}}
{{- define "corebound.requestMiB" -}}
{{- $slots := include "corebound.parseConcurrency" . | int }}
{{- $mib := divf (mul (include "corebound.maxBodyBytes" . | int) (add $slots 24)) 1048576 }}
{{- if .Values.jobs.enabled }}
{{- $mib = addf $mib (divf (mul (include "corebound.jobBodyBytes" . | int) 25) 1048576) }}
{{- end }}
{{- $mib }}
{{- end }}

{{/* ONNX Runtime runs the model (it alone packs): not a model.class model, model.runtime onnxruntime. */}}
{{- define "corebound.onOnnxruntime" -}}
{{- and (not .Values.model.class) (eq .Values.model.runtime "onnxruntime") }}
{{- end }}

{{/* Memory MiB of the plan with or without packed copies (dict "root" . "packed" bool): ceil(copies x model + workers x (overhead + requests) + headroom); copies: 1 mapped (else one per worker) + one per worker when packed. */}}
{{- define "corebound.planMiB" -}}
{{- $v := .root.Values }}
{{- $workers := include "corebound.workers" .root | int }}
{{- $copies := add (ternary 1 $workers $v.model.mmap) (ternary $workers 0 .packed) }}
{{- $weights := mulf $copies $v.model.sizeMiB }}
{{- $perWorker := mulf $workers (addf $v.concurrency.workerOverheadMiB (include "corebound.requestMiB" .root | float64)) }}
{{- addf $weights $perWorker $v.concurrency.headroomMiB | ceil | int }}
{{- end }}

{{/* Packed copies per worker (formula.packed_plan): `packed` on ONNX Runtime; `auto` when workers x sizeMiB <= packMaxMiB and the packed plan fits resources.memoryMiB (when set). */}}
{{- define "corebound.packed" -}}
{{- $m := .Values.model }}
{{- $packed := false }}
{{- if and (eq (include "corebound.onOnnxruntime" .) "true") (ne $m.packing "shared") }}
{{- if eq $m.packing "packed" }}
{{- $packed = true }}
{{- else }}
{{- $workers := include "corebound.workers" . | float64 }}
{{- $packedMiB := include "corebound.planMiB" (dict "root" . "packed" true) | int }}
{{- $limit := .Values.resources.memoryMiB }}
{{- $fits := or (not $limit) (le $packedMiB (int $limit)) }}
{{- $packed = and (le (mulf $workers $m.sizeMiB) (float64 $m.packMaxMiB)) $fits }}
{{- end }}
{{- end }}
{{- $packed }}
{{- end }}

{{/* Memory MiB, request = limit: the override, else the plan's (corebound.planMiB) with the packing decided. */}}
{{- define "corebound.memoryMiB" -}}
{{- if .Values.resources.memoryMiB }}
{{- int .Values.resources.memoryMiB }}
{{- else }}
{{- include "corebound.planMiB" (dict "root" . "packed" (eq (include "corebound.packed" .) "true")) }}
{{- end }}
{{- end }}

{{/* The model cache's size in MiB: a prepared model.onnx, its plain and packed weights (twice the model), and room for the graph. */}}
{{- define "corebound.modelCacheMiB" -}}
{{- addf (mulf 2 .Values.model.sizeMiB) 64 | ceil | int }}
{{- end }}

{{/* Startup probe failures allowed: the model load budget divided by the period. */}}
{{- define "corebound.startupFailureThreshold" -}}
{{- $p := .Values.probes.startup }}
{{- $seconds := addf $p.baseSeconds (divf .Values.model.sizeMiB $p.loadMiBPerSecond) }}
{{- divf $seconds $p.periodSeconds | ceil | int }}
{{- end }}

{{/*
The job worker's plan: formula.plan() over jobs.worker.resources.cpu with the job body as its
one request body (max_body_bytes = B, parse_concurrency 1), the rest as the service's (mode,
model, packing, overhead, headroom). Call with (list $ $scope): it fills the dict $scope so the
helpers above (workers, threads, memoryMiB) size a worker pod from it. The service's overrides
concurrency.workers/threads and resources.memoryMiB are for its own CPU and are not used.
*/}}
{{- define "corebound.jobWorkerScope" -}}
{{- $ := index . 0 }}
{{- $v := deepCopy $.Values }}
{{- $_ := set $v "resources" (dict "cpu" $.Values.jobs.worker.resources.cpu "memoryMiB" nil) }}
{{- $_ = set $v.concurrency "workers" nil }}
{{- $_ = set $v.concurrency "threads" nil }}
{{- $_ = set $v.batching "maxBodyBytes" (include "corebound.jobBodyBytes" $ | int) }}
{{- $_ = set $v.batching "parseConcurrency" 1 }}
{{- /* A worker holds no API request path: no job body on top of the one above. */}}
{{- $_ = set $v.jobs "enabled" false }}
{{- $_ = set (index . 1) "Values" $v }}
{{- $_ = set (index . 1) "cpuKey" "jobs.worker.resources.cpu" }}
{{- end }}
