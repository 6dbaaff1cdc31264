{{- define "cps1.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "cps1.name" -}}{{ printf "%s-%s" (include "cps1.fullname" .root) .component | trunc 63 | trimSuffix "-" }}{{- end -}}

{{- define "cps1.selectorLabels" -}}
app.kubernetes.io/name: cps1
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "cps1.labels" -}}
{{ include "cps1.selectorLabels" . }}
app.kubernetes.io/part-of: cps1
app.kubernetes.io/managed-by: {{ .root.Release.Service }}
app.kubernetes.io/version: {{ .root.Chart.AppVersion | quote }}
helm.sh/chart: {{ printf "%s-%s" .root.Chart.Name .root.Chart.Version }}
{{- end -}}

{{- define "cps1.image" -}}{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}{{- end -}}

{{- define "cps1.podSecurity" -}}
runAsNonRoot: true
runAsUser: 10001
runAsGroup: 10001
fsGroup: 10001
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{- define "cps1.containerSecurity" -}}
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
runAsNonRoot: true
capabilities:
  drop: [ALL]
{{- end -}}

{{- define "cps1.scheduling" -}}
{{- with .Values.nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end -}}

{{- /* The secret seed: an existing Secret's, else one kept across upgrades, else new. */ -}}
{{- define "cps1.seedSecretName" -}}{{ .Values.hooks.secretSeedSecret | default (include "cps1.name" (dict "root" . "component" "seed")) }}{{- end -}}

{{- define "cps1.gatewayKeySecret" -}}{{ include "cps1.name" (dict "root" . "component" "gateway-upstream-key") }}{{- end -}}

{{- define "cps1.hostKeySecret" -}}{{ include "cps1.name" (dict "root" . "component" "gateway-host-key") }}{{- end -}}

{{- define "cps1.ideBaseURL" -}}
{{- printf "%s://%s" (ternary "https" "http" .Values.ingress.tls.enabled) .Values.ingress.host -}}
{{- end -}}
