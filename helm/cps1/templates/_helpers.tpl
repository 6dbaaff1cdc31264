{{- /*
Shared template helpers of the CPS1 chart. The templates are one Kubernetes object per file, in
a folder per component (hooks/, api/, ide-prober/, console/, gateway/, gateway-keygen/,
metacontroller/, network/, ingress/, tests/); a component's own helpers are in its folder's
_helpers.tpl. Here:
- cps1.fullname, cps1.name (a component's object name: dict "root" . "component" NAME),
  cps1.selectorLabels and cps1.labels (the same dict);
- cps1.image: the services image, its tag the chart's appVersion unless image.tag is set;
- cps1.podSecurity, cps1.containerSecurity: the restricted Pod Security profile every CPS1 pod
  runs under (uid 10001, read-only root, no capabilities, RuntimeDefault seccomp);
- cps1.scheduling: nodeSelector, tolerations, imagePullSecrets;
- cps1.fromIngressAndNamespace: NetworkPolicy peers for what the ingress controller and this
  namespace may reach;
- the names of the generated Secrets and the IDE base URL.
*/ -}}
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
  drop:
    - ALL
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

{{- /* Ingress peers: the ingress controller's namespace (workspaces.ingressNamespaceLabel,
       KEY=VALUE) and every pod of this namespace. */ -}}
{{- define "cps1.fromIngressAndNamespace" -}}
{{- $label := splitList "=" .Values.workspaces.ingressNamespaceLabel }}
- namespaceSelector:
    matchLabels:
      {{ first $label | quote }}: {{ last $label | quote }}
- podSelector: {}
{{- end -}}

{{- define "cps1.ideBaseURL" -}}
{{- printf "%s://%s" (ternary "https" "http" .Values.ingress.tls.enabled) .Values.ingress.host -}}
{{- end -}}
