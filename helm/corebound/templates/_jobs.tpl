{{/*
The job API's pieces the API pods and the job workers share: their settings and their way
to the built-in Redis under networkPolicy.enabled.
*/}}

{{/*
The job API's settings (docs/CONTRACT.md "Env"), for the API (list $ true: JOBS_ENABLED too)
and the workers (list $ false). REDIS_URL: the built-in Redis's, its password from the Secret
through Kubernetes' $(VAR) expansion (never in the pod spec), or the whole URL from
jobs.externalRedis.existingSecret.
*/}}
{{- define "corebound.jobsEnv" -}}
{{- $ := index . 0 }}
{{- $j := $.Values.jobs }}
{{- if index . 1 }}
- name: JOBS_ENABLED
  value: "true"
{{- end }}
- name: JOB_MAX_ROWS
  value: {{ int $j.maxRows | toString | quote }}
# The body limit both memory plans budget (jobs.maxRows x model.inputDim).
- name: JOB_MAX_BODY_BYTES
  value: {{ include "corebound.jobBodyBytes" $ | quote }}
- name: JOB_MAX_QUEUED
  value: {{ int $j.maxQueued | toString | quote }}
- name: JOB_RESULT_TTL_S
  value: {{ int $j.resultTtlSeconds | toString | quote }}
- name: JOB_TIME_LIMIT_S
  value: {{ int $j.timeLimitSeconds | toString | quote }}
- name: JOB_MAX_RUNS
  value: {{ int $j.maxRuns | toString | quote }}
{{- if $j.redis.enabled }}
- name: REDIS_PASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ include "corebound.redisSecretName" $ }}
      key: password
# $(REDIS_PASSWORD), defined above, is expanded by the kubelet.
- name: REDIS_URL
  value: {{ printf "redis://:$(REDIS_PASSWORD)@%s:6379/0" (include "corebound.redisName" $) | quote }}
{{- else }}
- name: REDIS_URL
  valueFrom:
    secretKeyRef:
      name: {{ $j.externalRedis.existingSecret }}
      key: {{ $j.externalRedis.urlKey }}
{{- end }}
{{- end }}

{{/*
Egress rules for the API pods and the job workers under networkPolicy.enabled: the built-in
Redis on its port, and the cluster DNS REDIS_URL's host resolves through. An external Redis is
the user's to list in networkPolicy.egress. Empty unless jobs.enabled.
*/}}
{{- define "corebound.jobsEgress" -}}
{{- if .Values.jobs.enabled }}
{{- if .Values.jobs.redis.enabled }}
- to:
    - podSelector:
        matchLabels:
          {{- include "corebound.clientSelectorLabels" (list . "redis") | nindent 10 }}
  ports:
    - port: 6379
      protocol: TCP
{{- end }}
- ports:
    - port: 53
      protocol: UDP
    - port: 53
      protocol: TCP
{{- end }}
{{- end }}
