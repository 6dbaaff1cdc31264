{{- /*
Helpers of the Metacontroller dependency chart: one object per file (serviceaccount, the
ClusterRole for the cps1-workspaces CompositeController and its binding, the leader-election
Role and its binding, the StatefulSet). Every object carries metacontroller.labels, which are
also the StatefulSet's selector (the hooks' NetworkPolicy admits pods named metacontroller).
*/ -}}
{{- define "metacontroller.labels" -}}
{{- toYaml (dict "app.kubernetes.io/name" "metacontroller" "app.kubernetes.io/instance" .Release.Name "app.kubernetes.io/part-of" "cps1") }}
{{- end -}}
