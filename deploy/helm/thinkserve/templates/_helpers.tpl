{{/* Names, labels and the pieces the Deployment and the LeaderWorkerSet share. */}}

{{- define "thinkserve.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "thinkserve.fullname" -}}
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

{{- define "thinkserve.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "thinkserve.selectorLabels" -}}
app.kubernetes.io/name: {{ include "thinkserve.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "thinkserve.labels" -}}
helm.sh/chart: {{ include "thinkserve.chart" . }}
{{ include "thinkserve.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{/* The pods that serve HTTP: the Deployment's, or the LeaderWorkerSet's leaders. */}}
{{- define "thinkserve.serverSelectorLabels" -}}
{{ include "thinkserve.selectorLabels" . }}
app.kubernetes.io/component: {{ .Values.multiNode.enabled | ternary "leader" "server" }}
{{- end }}

{{- define "thinkserve.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "thinkserve.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "thinkserve.image" -}}
{{- $tag := .Values.image.tag | default (.Values.gpu.enabled | ternary "gpu" "cpu") }}
{{- printf "%s:%s" .Values.image.repository $tag }}
{{- end }}

{{/* What clients send as `model`, and the `model_name` label of vLLM's metrics. */}}
{{- define "thinkserve.servedModelName" -}}
{{- .Values.engine.servedModelName | default .Values.engine.model | default "tiny-reasoner" }}
{{- end }}

{{/*
GPUs per pod, computed from the engine sizes so that they cannot disagree:
one node: tensorParallelSize x pipelineParallelSize; several: multiNode.gpusPerNode, with
tensorParallelSize x pipelineParallelSize = nodes x gpusPerNode enforced. 0 on the CPU profile.
*/}}
{{- define "thinkserve.gpusPerPod" -}}
{{- $world := mul (int64 .Values.engine.tensorParallelSize) (int64 .Values.engine.pipelineParallelSize) }}
{{- if not .Values.gpu.enabled }}
{{- 0 }}
{{- else if .Values.multiNode.enabled }}
{{- $total := mul (int64 .Values.multiNode.nodes) (int64 .Values.multiNode.gpusPerNode) }}
{{- if ne $world $total }}
{{- fail (printf "multiNode: engine.tensorParallelSize x engine.pipelineParallelSize (%d) must equal multiNode.nodes x multiNode.gpusPerNode (%d)" $world $total) }}
{{- end }}
{{- int64 .Values.multiNode.gpusPerNode }}
{{- else }}
{{- $world }}
{{- end }}
{{- end }}

{{/* resources: the user's CPU/memory plus nvidia.com/gpu (limits = requests) from gpusPerPod. */}}
{{- define "thinkserve.resources" -}}
{{- $resources := deepCopy (.Values.resources | default dict) }}
{{- $gpus := include "thinkserve.gpusPerPod" . | int64 }}
{{- if gt $gpus 0 }}
{{- $limits := get $resources "limits" | default dict }}
{{- $requests := get $resources "requests" | default dict }}
{{- $_ := set $limits "nvidia.com/gpu" $gpus }}
{{- $_ := set $requests "nvidia.com/gpu" $gpus }}
{{- $_ := set $resources "limits" $limits }}
{{- $_ := set $resources "requests" $requests }}
{{- end }}
{{- toYaml $resources }}
{{- end }}

{{/*
The server's arguments (after the `thinkserve` executable), one `--flag=value` per item so that
values never need shell quoting. A null value (or a key removed with null) omits its flag. Integers go through int64: Helm reads numbers as float64 and
would print 1000000 as 1e+06.
*/}}
{{- define "thinkserve.args" -}}
{{- $e := .Values.engine }}
{{- $b := .Values.budget -}}
- "--host=0.0.0.0"
- "--port=8000"
{{- if not (kindIs "invalid" $e.model) }}
- {{ printf "--model=%s" $e.model | quote }}
{{- end }}
{{- if not (kindIs "invalid" $e.servedModelName) }}
- {{ printf "--served-model-name=%s" $e.servedModelName | quote }}
{{- end }}
- {{ printf "--tensor-parallel-size=%d" (int64 $e.tensorParallelSize) | quote }}
- {{ printf "--pipeline-parallel-size=%d" (int64 $e.pipelineParallelSize) | quote }}
{{- if .Values.multiNode.enabled }}
- "--distributed-executor-backend=ray"
{{- end }}
{{- if not (kindIs "invalid" $e.maxModelLen) }}
- {{ printf "--max-model-len=%d" (int64 $e.maxModelLen) | quote }}
{{- end }}
{{- if not (kindIs "invalid" $e.gpuMemoryUtilization) }}
- {{ printf "--gpu-memory-utilization=%v" $e.gpuMemoryUtilization | quote }}
{{- end }}
{{- if not (kindIs "invalid" $b.thinkingFormat) }}
- {{ printf "--thinking-format=%s" $b.thinkingFormat | quote }}
{{- end }}
{{- if not (kindIs "invalid" $b.minThinkingTokens) }}
- {{ printf "--min-thinking-tokens=%d" (int64 $b.minThinkingTokens) | quote }}
{{- end }}
{{- if not (kindIs "invalid" $b.maxThinkingTokens) }}
- {{ printf "--max-thinking-tokens=%d" (int64 $b.maxThinkingTokens) | quote }}
{{- end }}
{{- if not (kindIs "invalid" $b.minThinkingWaits) }}
- {{ printf "--min-thinking-waits=%d" (int64 $b.minThinkingWaits) | quote }}
{{- end }}
{{- if not (kindIs "invalid" $b.thinkingWaitString) }}
- {{ printf "--thinking-wait-string=%s" $b.thinkingWaitString | quote }}
{{- end }}
{{- if not (kindIs "invalid" $b.thinkingAnswerPrefix) }}
- {{ printf "--thinking-answer-prefix=%s" $b.thinkingAnswerPrefix | quote }}
{{- end }}
{{- if not (kindIs "invalid" $b.reasoningEffortBudgets) }}
- {{ printf "--reasoning-effort-budgets=%s" (toJson $b.reasoningEffortBudgets) | quote }}
{{- end }}
{{- range $e.extraArgs }}
- {{ . | quote }}
{{- end }}
{{- end }}

{{/*
Environment: HF_HOME, and secrets only by reference (secretKeyRef), never by value.
Called with (dict "root" $ "server" bool): Ray workers serve no HTTP, so they get no API key.
*/}}
{{- define "thinkserve.env" -}}
{{- $v := .root.Values -}}
- name: HF_HOME
  value: /models
{{- with $v.secrets.hfToken }}
{{- if .name }}
- name: HF_TOKEN
  valueFrom:
    secretKeyRef:
      name: {{ .name | quote }}
      key: {{ .key | quote }}
{{- end }}
{{- end }}
{{- if .server }}
{{- with $v.secrets.apiKey }}
{{- if .name }}
- name: THINKSERVE_API_KEY
  valueFrom:
    secretKeyRef:
      name: {{ .name | quote }}
      key: {{ .key | quote }}
{{- end }}
{{- end }}
{{- end }}
{{- with $v.env }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{- define "thinkserve.claimName" -}}
{{- .Values.persistence.existingClaim | default (printf "%s-models" (include "thinkserve.fullname" .)) }}
{{- end }}

{{- define "thinkserve.volumes" -}}
- name: dshm
  emptyDir:
    medium: Memory
    sizeLimit: {{ .Values.shm.sizeLimit | quote }}
- name: models
{{- if .Values.persistence.enabled }}
  persistentVolumeClaim:
    claimName: {{ include "thinkserve.claimName" . }}
{{- else }}
  emptyDir: {}
{{- end }}
{{- end }}

{{- define "thinkserve.volumeMounts" -}}
- name: dshm
  mountPath: /dev/shm
- name: models
  mountPath: /models
{{- end }}

{{- define "thinkserve.probes" -}}
{{- $p := .Values.probes -}}
startupProbe:
  httpGet:
    path: /health
    port: http
  periodSeconds: {{ $p.startup.periodSeconds }}
  failureThreshold: {{ $p.startup.failureThreshold }}
  timeoutSeconds: {{ $p.startup.timeoutSeconds }}
livenessProbe:
  httpGet:
    path: /health
    port: http
  periodSeconds: {{ $p.liveness.periodSeconds }}
  failureThreshold: {{ $p.liveness.failureThreshold }}
  timeoutSeconds: {{ $p.liveness.timeoutSeconds }}
readinessProbe:
  httpGet:
    path: /health
    port: http
  periodSeconds: {{ $p.readiness.periodSeconds }}
  failureThreshold: {{ $p.readiness.failureThreshold }}
  timeoutSeconds: {{ $p.readiness.timeoutSeconds }}
{{- end }}

{{/* Pod-level fields shared by the Deployment and both LeaderWorkerSet templates. */}}
{{- define "thinkserve.podCommon" -}}
serviceAccountName: {{ include "thinkserve.serviceAccountName" . }}
automountServiceAccountToken: false
terminationGracePeriodSeconds: {{ .Values.terminationGracePeriodSeconds }}
{{- with .Values.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.runtimeClassName }}
runtimeClassName: {{ . }}
{{- end }}
{{- with .Values.priorityClassName }}
priorityClassName: {{ . }}
{{- end }}
securityContext:
  {{- toYaml .Values.podSecurityContext | nindent 2 }}
{{- with .Values.nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.affinity }}
affinity:
  {{- toYaml . | nindent 2 }}
{{- end }}
volumes:
  {{- include "thinkserve.volumes" . | nindent 2 }}
{{- end }}

{{/* Container fields shared by every container that runs the image; (dict "root" $ "server" bool). */}}
{{- define "thinkserve.containerCommon" -}}
{{- $server := .server }}
{{- with .root -}}
image: {{ include "thinkserve.image" . | quote }}
imagePullPolicy: {{ .Values.image.pullPolicy }}
securityContext:
  {{- toYaml .Values.securityContext | nindent 2 }}
env:
  {{- include "thinkserve.env" (dict "root" . "server" $server) | nindent 2 }}
{{- with .Values.envFrom }}
envFrom:
  {{- toYaml . | nindent 2 }}
{{- end }}
resources:
  {{- include "thinkserve.resources" . | nindent 2 }}
volumeMounts:
  {{- include "thinkserve.volumeMounts" . | nindent 2 }}
{{- end }}
{{- end }}
