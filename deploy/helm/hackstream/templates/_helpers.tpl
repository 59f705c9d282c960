{{/* The release's name for its objects, at most 63 characters. */}}
{{- define "hackstream.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "hackstream.labels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{/* selector labels of one component: (dict "root" $ "component" "api") */}}
{{- define "hackstream.selector" -}}
app.kubernetes.io/name: {{ .root.Chart.Name }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "hackstream.sessionsNamespace" -}}
{{- default (printf "%s-sessions" .Release.Namespace) .Values.sessions.namespace -}}
{{- end -}}

{{- define "hackstream.secretName" -}}
{{- default (include "hackstream.fullname" .) .Values.secrets.existingSecret -}}
{{- end -}}

{{/* The sessions' domain: <id>.sessions.<domain> and <id>.web.sessions.<domain>. */}}
{{- define "hackstream.domain" -}}
{{- default .Values.publicHost .Values.sessions.domain -}}
{{- end -}}

{{- define "hackstream.caSecretName" -}}
{{- default (printf "%s-ca" (include "hackstream.fullname" .)) .Values.ca.existingSecret -}}
{{- end -}}

{{- define "hackstream.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}

{{- define "hackstream.redisAddress" -}}
{{- if .Values.bundled.redis -}}
{{- printf "%s-redis:6379" (include "hackstream.fullname" .) -}}
{{- else -}}
{{- required "redis.address is required without bundled.redis" .Values.redis.address -}}
{{- end -}}
{{- end -}}

{{- define "hackstream.temporalAddress" -}}
{{- if .Values.bundled.temporal -}}
{{- printf "%s-temporal:7233" (include "hackstream.fullname" .) -}}
{{- else -}}
{{- required "temporal.address is required without bundled.temporal" .Values.temporal.address -}}
{{- end -}}
{{- end -}}

{{/* A secret's key as an environment variable: (list "NAME" "key" $) */}}
{{- define "hackstream.secretEnv" -}}
- name: {{ index . 0 }}
  valueFrom:
    secretKeyRef:
      name: {{ include "hackstream.secretName" (index . 2) }}
      key: {{ index . 1 }}
{{- end -}}

{{/*
The environment the API and the worker share: (dict "root" $ "redisUser" "hackstream-api" "redisPasswordKey" "redis-api-password").
Secrets come from the Secret, never from values; the Redis URL is put together by Kubernetes
from the password variable defined before it.
*/}}
{{- define "hackstream.env" -}}
{{- $root := .root -}}
- name: HACKSTREAM_ENV
  value: production
- name: HACKSTREAM_DATA_DIR
  value: /var/lib/hackstream
- name: HACKSTREAM_PUBLIC_HOST
  value: {{ $root.Values.publicHost | quote }}
- name: HACKSTREAM_PUBLIC_PORT
  value: "443"
- name: HACKSTREAM_DOMAIN
  value: {{ include "hackstream.domain" $root | quote }}
- name: HACKSTREAM_DB_DRIVER
  value: {{ $root.Values.database.driver | quote }}
{{- if $root.Values.bundled.postgresql }}
{{ include "hackstream.secretEnv" (list "POSTGRES_PASSWORD" "postgres-password" $root) }}
- name: HACKSTREAM_DB_URL
  value: {{ printf "postgresql://hackstream:$(POSTGRES_PASSWORD)@%s-postgresql:5432/hackstream" (include "hackstream.fullname" $root) | quote }}
{{- else }}
{{ include "hackstream.secretEnv" (list "HACKSTREAM_DB_URL" "database-url" $root) }}
{{- end }}
{{ include "hackstream.secretEnv" (list "REDIS_PASSWORD" .redisPasswordKey $root) }}
- name: HACKSTREAM_REDIS_URL
  value: {{ printf "redis://%s:$(REDIS_PASSWORD)@%s" .redisUser (include "hackstream.redisAddress" $root) | quote }}
- name: HACKSTREAM_CA_DIR
  value: /etc/hackstream/ca
- name: HACKSTREAM_TEMPORAL_ADDRESS
  value: {{ include "hackstream.temporalAddress" $root | quote }}
- name: HACKSTREAM_TEMPORAL_NAMESPACE
  value: {{ $root.Values.temporal.namespace | quote }}
{{- if $root.Values.temporal.tls.existingSecret }}
- name: HACKSTREAM_TEMPORAL_TLS_CA_FILE
  value: /etc/hackstream/temporal-tls/ca.pem
- name: HACKSTREAM_TEMPORAL_TLS_CERT_FILE
  value: /etc/hackstream/temporal-tls/tls.crt
- name: HACKSTREAM_TEMPORAL_TLS_KEY_FILE
  value: /etc/hackstream/temporal-tls/tls.key
- name: HACKSTREAM_TEMPORAL_TLS_SERVER_NAME
  value: {{ $root.Values.temporal.tls.serverName | quote }}
{{- end }}
{{ include "hackstream.secretEnv" (list "HACKSTREAM_SESSION_TOKEN_SECRET" "session-token-secret" $root) }}
{{- end -}}

{{/* Volumes every control-plane pod has: a writable data directory and /tmp on a read-only root, and Temporal's TLS files. */}}
{{- define "hackstream.volumes" -}}
- name: data
  emptyDir: {}
- name: tmp
  emptyDir: {}
{{- if .Values.temporal.tls.existingSecret }}
- name: temporal-tls
  secret:
    secretName: {{ .Values.temporal.tls.existingSecret }}
{{- end }}
{{- end -}}

{{- define "hackstream.volumeMounts" -}}
- name: data
  mountPath: /var/lib/hackstream
- name: tmp
  mountPath: /tmp
{{- if .Values.temporal.tls.existingSecret }}
- name: temporal-tls
  mountPath: /etc/hackstream/temporal-tls
  readOnly: true
{{- end }}
{{- end -}}

{{/* signIn.groupRoles as HACKSTREAM_AUTH_PROXY_ROLES: group=role,… (sorted: the same render every time) */}}
{{- define "hackstream.groupRoles" -}}
{{- $pairs := list -}}
{{- range $group, $role := .Values.signIn.groupRoles -}}
{{- $pairs = append $pairs (printf "%s=%s" $group $role) -}}
{{- end -}}
{{- join "," $pairs -}}
{{- end -}}

{{/* A label map as key=value,key=value (sorted by key): the form HACKSTREAM_KUBE_INGRESS_POD_LABELS takes. */}}
{{- define "hackstream.labelList" -}}
{{- $pairs := list -}}
{{- range $k, $v := . }}{{ $pairs = append $pairs (printf "%s=%s" $k $v) }}{{ end -}}
{{- join "," $pairs -}}
{{- end -}}

{{/* The HackStream CA's Secret as a volume: the certificate only ("cert"), or with its key ("key"). */}}
{{- define "hackstream.caVolume" -}}
- name: ca
  secret:
    secretName: {{ include "hackstream.caSecretName" .root }}
    # 0440: the pods' group (fsGroup) reads the files.
    defaultMode: 288
    items:
      - key: ca.pem
        path: ca.pem
      {{- if eq .with "key" }}
      - key: ca-key.pem
        path: ca-key.pem
      {{- end }}
{{- end -}}

{{- define "hackstream.caVolumeMount" -}}
- name: ca
  mountPath: /etc/hackstream/ca
  readOnly: true
{{- end -}}

{{/*
The app catalog of sessions.apps (templates/apps.yaml) for the API and the worker: its variable,
volume and mount, nothing when it is not set. Not the preparation Job's: a hook that runs before
the ConfigMap exists, and needs no catalog.
*/}}
{{- define "hackstream.appsEnv" -}}
{{- if .Values.sessions.apps -}}
- name: HACKSTREAM_APP_CATALOG
  value: /etc/hackstream/apps/apps.json
{{- end -}}
{{- end -}}

{{- define "hackstream.appsVolume" -}}
{{- if .Values.sessions.apps -}}
- name: apps
  configMap:
    name: {{ include "hackstream.fullname" . }}-apps
{{- end -}}
{{- end -}}

{{- define "hackstream.appsVolumeMount" -}}
{{- if .Values.sessions.apps -}}
- name: apps
  mountPath: /etc/hackstream/apps
  readOnly: true
{{- end -}}
{{- end -}}
