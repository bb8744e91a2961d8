{{/* The chart's name, and the release's full name (the prefix of every object). */}}
{{- define "m365sync.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "m365sync.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else if contains (include "m365sync.name" .) .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name (include "m365sync.name" .) | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{/* Labels of every object; selector labels of one component (api, scheduler, worker). */}}
{{- define "m365sync.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
app.kubernetes.io/name: {{ include "m365sync.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}

{{- define "m365sync.selectorLabels" -}}
app.kubernetes.io/name: {{ include "m365sync.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "m365sync.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}

{{- define "m365sync.secretName" -}}
{{- default (include "m365sync.fullname" .) .Values.secrets.existingSecret -}}
{{- end -}}

{{/* Where the Secret's files are mounted. */}}
{{- define "m365sync.secretDir" -}}/run/secrets/m365sync{{- end -}}

{{/*
The environment of every process: the non-secret settings of `config`, and the secrets as files
(X_FILE: connectors/secret-files.ts reads them), never a secret value. Refuses a secret in `config`.
*/}}
{{- define "m365sync.env" -}}
{{- $secretVariables := list "REDIS_URL" "MONGODB_URI" "M365SYNC_ENCRYPTION_KEYS" "M365SYNC_API_TOKEN" -}}
{{- range $name := keys .Values.config | sortAlpha }}
{{- if or (has $name $secretVariables) (hasSuffix "_FILE" $name) }}
{{- fail (printf "config.%s: a secret belongs in the Secret %s (secrets.keys), not in values" $name (include "m365sync.secretName" $)) }}
{{- end }}
- name: {{ $name }}
  value: {{ index $.Values.config $name | toString | quote }}
{{- end }}
- name: REDIS_URL_FILE
  value: {{ printf "%s/%s" (include "m365sync.secretDir" .) .Values.secrets.keys.redisUrl | quote }}
- name: MONGODB_URI_FILE
  value: {{ printf "%s/%s" (include "m365sync.secretDir" .) .Values.secrets.keys.mongodbUri | quote }}
- name: M365SYNC_ENCRYPTION_KEYS_FILE
  value: {{ printf "%s/%s" (include "m365sync.secretDir" .) .Values.secrets.keys.encryptionKeys | quote }}
{{- end -}}

{{/* A component's own `env` (name → value), after the shared one. */}}
{{- define "m365sync.componentEnv" -}}
{{- range $name := keys . | sortAlpha }}
- name: {{ $name }}
  value: {{ index $ $name | toString | quote }}
{{- end }}
{{- end -}}

{{/* The Secret's three required keys as read-only files; a missing key stops the pod from starting. */}}
{{- define "m365sync.secretVolume" -}}
- name: secrets
  secret:
    secretName: {{ include "m365sync.secretName" . }}
    defaultMode: 0440
    items:
      - key: {{ .Values.secrets.keys.redisUrl }}
        path: {{ .Values.secrets.keys.redisUrl }}
      - key: {{ .Values.secrets.keys.mongodbUri }}
        path: {{ .Values.secrets.keys.mongodbUri }}
      - key: {{ .Values.secrets.keys.encryptionKeys }}
        path: {{ .Values.secrets.keys.encryptionKeys }}
- name: tmp
  emptyDir: {}
{{- end -}}

{{- define "m365sync.volumeMounts" -}}
- name: secrets
  mountPath: {{ include "m365sync.secretDir" . }}
  readOnly: true
- name: tmp
  mountPath: /tmp
{{- end -}}

{{/* Pod annotations for a Prometheus that discovers pods. */}}
{{- define "m365sync.scrapeAnnotations" -}}
prometheus.io/scrape: "true"
prometheus.io/port: {{ .port | quote }}
prometheus.io/path: /metrics
{{- end -}}

{{/* Liveness and readiness probes: .port (a port name), .live and .ready paths. */}}
{{- define "m365sync.probes" -}}
livenessProbe:
  httpGet:
    path: {{ .live }}
    port: {{ .port }}
    # The API answers only the Host names it knows: the probe names loopback.
    httpHeaders:
      - name: Host
        value: localhost
  {{- toYaml .root.Values.probes.liveness | nindent 2 }}
readinessProbe:
  httpGet:
    path: {{ .ready }}
    port: {{ .port }}
    httpHeaders:
      - name: Host
        value: localhost
  {{- toYaml .root.Values.probes.readiness | nindent 2 }}
{{- end -}}

{{- define "m365sync.podSpecCommon" -}}
{{- with .Values.imagePullSecrets -}}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{ end -}}
securityContext:
  {{- toYaml .Values.podSecurityContext | nindent 2 }}
volumes:
  {{- include "m365sync.secretVolume" . | nindent 2 }}
{{- end -}}
