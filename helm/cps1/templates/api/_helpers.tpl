{{- /* The api's environment: who the first admin is, its token, whom to trust for the
       identity and client address headers, sign-in, preview URLs and user limits. */ -}}
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
{{- with .Values.api.oidc }}
{{- if .issuer }}
{{- $url := printf "%s://%s" (ternary "https" "http" $.Values.ingress.tls.enabled) $.Values.ingress.host }}
- name: CPS1_API_OIDC_ISSUER
  value: {{ .issuer | quote }}
- name: CPS1_API_OIDC_CLIENT_ID
  value: {{ required "api.oidc.clientId: the client id registered at the provider" .clientId | quote }}
- name: CPS1_API_OIDC_CLIENT_SECRET
  valueFrom:
    secretKeyRef:
      name: {{ required "api.oidc.existingSecret: name the Secret (key `clientSecret`) holding the client secret" .existingSecret }}
      key: clientSecret
- name: CPS1_API_OIDC_CLI_CLIENT_ID
  value: {{ .cliClientId | quote }}
- name: CPS1_API_OIDC_SCOPES
  value: {{ .scopes | quote }}
- name: CPS1_API_OIDC_USERNAME_CLAIM
  value: {{ .usernameClaim | quote }}
- name: CPS1_API_OIDC_GROUPS_CLAIM
  value: {{ .groupsClaim | quote }}
- name: CPS1_API_OIDC_ADMIN_GROUPS
  value: {{ join "," .adminGroups | quote }}
- name: CPS1_API_OIDC_PROVIDER_NAME
  value: {{ .providerName | quote }}
- name: CPS1_API_OIDC_SESSION_HOURS
  value: {{ .sessionHours | quote }}
- name: CPS1_API_PUBLIC_URL
  value: {{ $url | quote }}
- name: CPS1_API_CONSOLE_URL
  value: {{ printf "%s/" $url | quote }}
- name: CPS1_API_SESSION_COOKIE_SECURE
  value: {{ $.Values.ingress.tls.enabled | quote }}
{{- end }}
{{- end }}
{{- with .Values.previews }}
{{- if .enabled }}
- name: CPS1_API_PREVIEW_DOMAIN
  value: {{ $.Values.workspaces.ideDomain | quote }}
- name: CPS1_API_PREVIEW_SECRET
  valueFrom:
    secretKeyRef:
      name: {{ include "cps1.previewSecretName" $ }}
      key: secret
- name: CPS1_API_PREVIEW_SIGN_IN_URL
  value: {{ include "cps1.previewSignInURL" $ | quote }}
- name: CPS1_API_PREVIEW_CACHE_SECONDS
  value: {{ .cacheSeconds | quote }}
{{- end }}
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
- name: CPS1_API_GROUP_LIMITS
  value: {{ .Values.groupLimits | toJson | quote }}
{{- end }}

{{- /* Preview URLs: the Secret with the signing key (an existing one, else the chart's), where
       signed-out browsers go (the console unless set), and the forward-auth URL the hooks give
       every Workspace Ingress: the api Service in-cluster, as the ingress controller reaches it. */ -}}
{{- define "cps1.previewSecretName" -}}{{ .Values.previews.existingSecret | default (include "cps1.name" (dict "root" . "component" "preview")) }}{{- end -}}

{{- define "cps1.previewSignInURL" -}}
{{- if .Values.previews.signInUrl -}}
{{- .Values.previews.signInUrl -}}
{{- else -}}
{{- if not .Values.console.enabled }}{{ fail "previews.signInUrl: the console is off, so name where signed-out browsers sign in" }}{{ end -}}
{{- printf "%s/" (include "cps1.ideBaseURL" .) -}}
{{- end -}}
{{- end -}}

{{- define "cps1.forwardAuthURL" -}}
{{- printf "http://%s.%s.svc:8080/preview/auth" (include "cps1.name" (dict "root" . "component" "api")) .Release.Namespace -}}
{{- end -}}
