{{/*
Names: the `helm create` scaffold's name helpers, the service pods' ServiceAccount and
image references.
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

{{- define "corebound.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "corebound.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/*
The image of every container the chart makes: (list $ "service"), (list $ "loadtest") or
(list $ "redis"). `repository@digest` when a digest is set (one exact build; the tag is then
not used), else `repository:tag` with the tag defaulting to appVersion. The loadtest and redis
repositories default to `<image.repository>-loadtest` and `-redis`: the release command pushes
them all under one registry.
*/}}
{{- define "corebound.image" -}}
{{- $ := index . 0 }}
{{- $part := index . 1 }}
{{- $image := get (dict "service" $.Values.image "loadtest" $.Values.loadtest.image "redis" $.Values.jobs.redis.image) $part }}
{{- if not $image }}
{{- fail (printf "corebound.image: no image %q (service, loadtest or redis)" $part) }}
{{- end }}
{{- $repository := $image.repository | default (printf "%s-%s" $.Values.image.repository $part) }}
{{- if $image.digest }}
{{- printf "%s@%s" $repository $image.digest }}
{{- else }}
{{- printf "%s:%s" $repository (default $.Chart.AppVersion $image.tag) }}
{{- end }}
{{- end }}

{{/* The project's published service image: image.repository's default, which NOTES name. */}}
{{- define "corebound.publishedRepository" -}}
ghcr.io/corebound/corebound
{{- end }}

{{/* The built-in Redis: its StatefulSet, Service, ConfigMap, Secret and NetworkPolicy. */}}
{{- define "corebound.redisName" -}}
{{- printf "%s-redis" (include "corebound.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* The Secret holding the built-in Redis's `password`: jobs.redis.existingSecret, else the chart's. */}}
{{- define "corebound.redisSecretName" -}}
{{- .Values.jobs.redis.existingSecret | default (include "corebound.redisName" .) }}
{{- end }}

{{/* The job workers' Deployment and HPA. */}}
{{- define "corebound.jobsName" -}}
{{- printf "%s-jobs" (include "corebound.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}
