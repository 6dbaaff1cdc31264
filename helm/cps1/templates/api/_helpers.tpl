{{- /* The api's environment: who the first admin is, its token, and whom to trust for the
       identity and client address headers. */ -}}
{{- define "cps1.apiEnv" -}}
- name: CPS1_API_SYSTEM_NAMESPACE
  value: {{ .Release.Namespace }}
- name: CPS1_API_BOOTSTRAP_ADMIN
  value: {{ .Values.api.bootstrapAdmin | quote }}
- name: CPS1_API_BOOTSTRAP_TOKEN
  valueFrom:
    secretKeyRef:
      name: {{ include "cps1.name" (dict "root" . "component" "bootstrap") }}
      key: token
- name: CPS1_API_PROXY_USER_HEADER
  value: {{ .Values.api.proxyUserHeader | quote }}
- name: CPS1_API_PROXY_TRUSTED_NETWORKS
  value: {{ join "," .Values.api.proxyTrustedNetworks | quote }}
{{- if .Values.api.proxyUserHeader }}
- name: CPS1_API_PROXY_SECRET
  valueFrom:
    secretKeyRef:
      name: {{ required "api.proxySecretSecret: name the Secret (key `secret`) the proxy's shared secret is in" .Values.api.proxySecretSecret }}
      key: secret
{{- end }}
- name: CPS1_API_FORWARDED_TRUSTED_NETWORKS
  value: {{ join "," .Values.api.forwardedTrustedNetworks | quote }}
- name: CPS1_API_MAX_WORKSPACES_PER_USER
  value: {{ .Values.userLimits.workspaces | quote }}
- name: CPS1_API_MAX_RUNNING_PER_USER
  value: {{ .Values.userLimits.running | quote }}
- name: CPS1_API_MAX_CPU_PER_USER
  value: {{ .Values.userLimits.cpu | quote }}
- name: CPS1_API_MAX_MEMORY_PER_USER
  value: {{ .Values.userLimits.memory | quote }}
- name: CPS1_API_MAX_STORAGE_PER_USER
  value: {{ .Values.userLimits.storage | quote }}
{{- end }}
