{{/*
What the model's pods share: the service's (deployment.yaml) and the job workers'
(jobs-deployment.yaml) run the same image on the same model, set up the same way (account,
pull secrets, init containers, settings, volumes, security, placement). Each helper is
indented for its place in a pod spec or a container.
*/}}

{{/*
`replicas` of a Deployment an HPA may own: (list $ name hpaEnabled fixedCount). Switching the
HPA on in an upgrade would drop `replicas`, which Helm's three-way merge turns into 1 pod; keep
the live count instead (empty under `helm template`).
*/}}
{{- define "corebound.replicas" -}}
{{- $ := index . 0 }}
{{- if not (index . 2) }}
replicas: {{ index . 3 }}
{{- else }}
{{- with lookup "apps/v1" "Deployment" $.Release.Namespace (index . 1) }}
replicas: {{ .spec.replicas }}
{{- end }}
{{- end }}
{{- end }}

{{/* The pod spec's head: (list $ terminationGracePeriodSeconds). */}}
{{- define "corebound.modelPodHead" -}}
{{- $ := index . 0 -}}
serviceAccountName: {{ include "corebound.serviceAccountName" $ }}
automountServiceAccountToken: false
# Service links would add *_PORT variables that nothing reads.
enableServiceLinks: false
terminationGracePeriodSeconds: {{ index . 1 }}
{{- with $.Values.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with $.Values.priorityClassName }}
priorityClassName: {{ . }}
{{- end }}
securityContext:
  {{- toYaml $.Values.podSecurityContext | nindent 2 }}
{{- with $.Values.initContainers }}
initContainers:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end }}

{{/* A model container's image and security. */}}
{{- define "corebound.modelImage" -}}
image: {{ include "corebound.image" (list . "service") }}
imagePullPolicy: {{ .Values.image.pullPolicy }}
securityContext:
  {{- toYaml .Values.securityContext | nindent 2 }}
{{- end }}

{{/*
A model container's environment: (dict "root" $ "plan" $scope "api" bool). The settings
ConfigMap, the plan's counts for this pod's CPU (the service's own, or a corebound.jobWorkerScope),
the job API's settings when jobs.enabled, and extraEnv last.
*/}}
{{- define "corebound.modelEnv" -}}
envFrom:
  - configMapRef:
      name: {{ include "corebound.fullname" .root }}
# Sized for this template's CPU limit, so they live in the pod template: a pod of an
# old ReplicaSet that restarts mid-rollout keeps the counts of its own limit (an
# edited ConfigMap would hand it the new ones).
env:
  - name: WEB_CONCURRENCY
    value: {{ include "corebound.workers" .plan | quote }}
  - name: OMP_NUM_THREADS
    value: {{ include "corebound.threads" .plan | quote }}
  {{- if .root.Values.jobs.enabled }}
  {{- include "corebound.jobsEnv" (list .root .api) | trim | nindent 2 }}
  {{- end }}
  {{- with .root.Values.extraEnv }}
  {{- toYaml . | nindent 2 }}
  {{- end }}
{{- end }}

{{/* A model container's resources from a plan scope (root or corebound.jobWorkerScope). */}}
{{- define "corebound.modelResources" -}}
{{- $cpu := toString .Values.resources.cpu | trim | quote }}
{{- $memory := printf "%dMi" (include "corebound.memoryMiB" . | int) -}}
resources:
  # Requests = limits: Guaranteed QoS, and the CFS quota gunicorn sizes itself from.
  requests:
    cpu: {{ $cpu }}
    memory: {{ $memory }}
  limits:
    cpu: {{ $cpu }}
    memory: {{ $memory }}
{{- end }}

{{/* A model container's mounts: scratch, metrics, the model cache, extraVolumeMounts. */}}
{{- define "corebound.modelVolumeMounts" -}}
volumeMounts:
  - name: tmp
    mountPath: /tmp
  - name: metrics
    mountPath: /run/prometheus
  - name: model-cache
    mountPath: /var/cache/corebound
  {{- with .Values.extraVolumeMounts }}
  {{- toYaml . | nindent 2 }}
  {{- end }}
{{- end }}

{{/* The volumes those mounts name, and extraVolumes (the model an init container fetches). */}}
{{- define "corebound.modelVolumes" -}}
volumes:
  # The root filesystem is read-only: scratch space and the multiprocess metrics files.
  - name: tmp
    emptyDir:
      sizeLimit: 256Mi
  - name: metrics
    emptyDir:
      sizeLimit: 64Mi
  # A model.onnx prepared once for all workers (MODEL_CACHE_DIR): its weights in one
  # mapped file, plain and packed bytes when packed.
  - name: model-cache
    emptyDir:
      sizeLimit: {{ printf "%dMi" (include "corebound.modelCacheMiB" . | int) }}
  {{- with .Values.extraVolumes }}
  {{- toYaml . | nindent 2 }}
  {{- end }}
{{- end }}

{{/* Where the pods go: (list $ selectorLabels), the selector spreading each rollout's pods. */}}
{{- define "corebound.modelPlacement" -}}
{{- $ := index . 0 }}
{{- $selector := index . 1 -}}
{{- if $.Values.topologySpread.topologyKeys }}
topologySpreadConstraints:
  {{- range $.Values.topologySpread.topologyKeys }}
  - topologyKey: {{ . }}
    maxSkew: {{ $.Values.topologySpread.maxSkew }}
    whenUnsatisfiable: {{ $.Values.topologySpread.whenUnsatisfiable }}
    labelSelector:
      matchLabels:
        {{- $selector | nindent 8 }}
    # Spread each rollout's pods, not old and new together.
    matchLabelKeys:
      - pod-template-hash
  {{- end }}
{{- end }}
{{- with $.Values.nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with $.Values.affinity }}
affinity:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with $.Values.tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end }}
