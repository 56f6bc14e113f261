{{/*
Conditions several templates share: whether an optional object renders.
*/}}

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
