{{/*
The distributed load test: a master Job and a worker Job per run, both from suspended
CronJobs (loadtest-cronjobs.yaml), the workers reaching the master through a headless Service.
*/}}

{{/* Locust worker pods per run: loadtest.workers, else enough for the last step's rate. */}}
{{- define "corebound.loadtestWorkers" -}}
{{- $l := .Values.loadtest }}
{{- if $l.workers }}
{{- int $l.workers }}
{{- else }}
{{- $rps := mulf (include "corebound.loadtestStepUsers" . | float64) $l.stepCount $l.plan.userRequestsPerSecond }}
{{- divf $rps $l.plan.workerRequestsPerSecond | ceil | int | max 1 }}
{{- end }}
{{- end }}

{{/* The headless Service the workers find the master by. */}}
{{- define "corebound.loadtestMasterHost" -}}
{{- printf "%s-loadtest-master" (include "corebound.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* The ConfigMap the master keeps a run's results in (loadtests/publish.py). */}}
{{- define "corebound.loadtestResults" -}}
{{- printf "%s-loadtest-results" (include "corebound.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* The master's account: it updates the results ConfigMap (and counts endpoints). */}}
{{- define "corebound.loadtestServiceAccountName" -}}
{{- printf "%s-loadtest" (include "corebound.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Locust's port on the master (its default). */}}
{{- define "corebound.loadtestMasterPort" -}}
5557
{{- end }}

{{/*
A CronJob's jobTemplate for one role of a run: (list $ "master") or (list $ "worker").
The image's CMD runs on both; the master runs it under loadtests/publish.py, which keeps
the reports in the results ConfigMap and exits with Locust's code.
*/}}
{{- define "corebound.loadtestJobTemplate" -}}
{{- $ := index . 0 }}
{{- $role := index . 1 }}
{{- $l := $.Values.loadtest }}
{{- $master := eq $role "master" }}
{{- $workers := include "corebound.loadtestWorkers" $ | int }}
metadata:
  labels:
    {{- include "corebound.clientLabels" (list $ (printf "loadtest-%s" $role)) | nindent 4 }}
spec:
  {{- if $master }}
  completions: 1
  parallelism: 1
  {{- else }}
  completions: {{ $workers }}
  parallelism: {{ $workers }}
  {{- end }}
  # A run is judged once: a retried pod would start another run.
  backoffLimit: 0
  activeDeadlineSeconds: {{ int $l.deadlineSeconds }}
  # The ended pods and their logs stay a day, then the Job goes.
  ttlSecondsAfterFinished: 86400
  template:
    metadata:
      labels:
        {{- include "corebound.clientLabels" (list $ (printf "loadtest-%s" $role)) | nindent 8 }}
      annotations:
        # An evicted run would read as a missed SLO: keep the autoscaler's hands off it.
        cluster-autoscaler.kubernetes.io/safe-to-evict: "false"
        # A mesh sidecar never exits, so the run would never complete.
        sidecar.istio.io/inject: "false"
        linkerd.io/inject: disabled
        checksum/config: {{ include (print $.Template.BasePath "/loadtest-configmap.yaml") $ | sha256sum }}
    spec:
      restartPolicy: Never
      # Workers too: pull secrets given to this account (kustomize's way) reach them. Without
      # its token: they only send load.
      serviceAccountName: {{ include "corebound.loadtestServiceAccountName" $ }}
      {{- if not $master }}
      automountServiceAccountToken: false
      {{- end }}
      enableServiceLinks: false
      {{- include "corebound.clientScheduling" $ | nindent 6 }}
      securityContext:
        {{- toYaml $.Values.podSecurityContext | nindent 8 }}
      initContainers:
        # Load starts once the pods it is sized for are ready: model loading is not the SLO's business.
        - name: wait-ready
          image: {{ include "corebound.image" (list $ "loadtest") }}
          imagePullPolicy: {{ $l.image.pullPolicy }}
          {{- if $master }}
          command: {{ include "corebound.loadtestWaitCommand" $ | trim }}
          {{- else }}
          command: ["python", "-m", "service.probe", "url", {{ printf "%s/readyz" (include "corebound.serviceURL" $) | quote }}, "--timeout", "{{ $l.readyTimeoutSeconds }}"]
          {{- end }}
          securityContext:
            {{- toYaml $.Values.securityContext | nindent 12 }}
          resources:
            requests: {cpu: 50m, memory: 64Mi}
            limits: {cpu: 50m, memory: 64Mi}
        {{- if not $master }}
        # Locust's worker gives up at once on a name that does not resolve yet.
        - name: wait-master
          image: {{ include "corebound.image" (list $ "loadtest") }}
          imagePullPolicy: {{ $l.image.pullPolicy }}
          command: ["python", "-m", "service.probe", "resolve", {{ include "corebound.loadtestMasterHost" $ | quote }}, "--timeout", "{{ $l.readyTimeoutSeconds }}"]
          securityContext:
            {{- toYaml $.Values.securityContext | nindent 12 }}
          resources:
            requests: {cpu: 50m, memory: 64Mi}
            limits: {cpu: 50m, memory: 64Mi}
        {{- end }}
      containers:
        - name: locust
          image: {{ include "corebound.image" (list $ "loadtest") }}
          imagePullPolicy: {{ $l.image.pullPolicy }}
          {{- if $master }}
          command: ["python", "-m", "loadtests.publish", "--configmap", {{ include "corebound.loadtestResults" $ | quote }}, "--", "locust"]
          {{- end }}
          # The image's CMD (docs/CONTRACT.md "Image"); the role comes from Locust's own env.
          args: {{ include "corebound.loadtestArgs" $ | trim }}
          envFrom:
            - configMapRef:
                name: {{ include "corebound.fullname" $ }}-loadtest
          env:
            {{- if $master }}
            - name: LOCUST_MODE_MASTER
              value: "true"
            - name: LOCUST_EXPECT_WORKERS
              value: {{ $workers | quote }}
            - name: LOCUST_EXPECT_WORKERS_MAX_WAIT
              value: {{ int $l.readyTimeoutSeconds | toString | quote }}
            # The run's name in its results: the Job's, whoever made it.
            - name: RUN_NAME
              valueFrom:
                fieldRef:
                  fieldPath: metadata.labels['batch.kubernetes.io/job-name']
            {{- else }}
            - name: LOCUST_MODE_WORKER
              value: "true"
            - name: LOCUST_MASTER_NODE_HOST
              value: {{ include "corebound.loadtestMasterHost" $ | quote }}
            {{- end }}
          {{- if $master }}
          ports:
            - name: locust-master
              containerPort: {{ include "corebound.loadtestMasterPort" $ }}
              protocol: TCP
          {{- end }}
          securityContext:
            {{- toYaml $.Values.securityContext | nindent 12 }}
          {{- $cpu := ternary $l.master.cpu $l.cpu $master }}
          {{- $mem := ternary $l.master.memoryMiB $l.memoryMiB $master }}
          resources:
            requests:
              cpu: {{ toString $cpu | quote }}
              memory: {{ printf "%dMi" (int $mem) }}
            limits:
              cpu: {{ toString $cpu | quote }}
              memory: {{ printf "%dMi" (int $mem) }}
          volumeMounts:
            - name: tmp
              mountPath: /tmp
            {{- if $l.samples }}
            - name: samples
              mountPath: {{ dir (include "corebound.samplesFile" $) }}
              readOnly: true
            {{- end }}
      volumes:
        # Locust's CSV and HTML reports; the root filesystem is read-only.
        - name: tmp
          emptyDir:
            sizeLimit: 256Mi
        {{- if $l.samples }}
        # loadtest.samples (SAMPLES_FILE points here).
        - name: samples
          configMap:
            name: {{ include "corebound.fullname" $ }}-samples
        {{- end }}
{{- end }}

{{/* The loadtest image's CMD, which both roles run (tests/chart/test_chart_loadtest.py). */}}
{{- define "corebound.loadtestArgs" -}}
["-f", "loadtests/locustfile.py,loadtests/shapes/selected.py", "--headless", "--csv", "/tmp/locust", "--html", "/tmp/locust.html"]
{{- end }}

{{/* The master waits for the ready endpoints it is sized for, through its own account. */}}
{{- define "corebound.loadtestWaitCommand" -}}
{{- $l := .Values.loadtest }}
["python", "-m", "service.probe", "endpoints", "--service", {{ include "corebound.fullname" . | quote }}, "--count", "{{ include "corebound.loadtestReadyReplicas" . }}", "--timeout", "{{ $l.readyTimeoutSeconds }}"]
{{- end }}
