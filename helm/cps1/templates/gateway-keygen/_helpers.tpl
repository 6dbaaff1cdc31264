{{- /* The keygen hook's objects: made before install and upgrade, deleted once it succeeded;
       the argument is the hook weight (its identity first, then the Job). */ -}}
{{- define "cps1.keygenAnnotations" -}}
{{- toYaml (dict "helm.sh/hook" "pre-install,pre-upgrade" "helm.sh/hook-delete-policy" "before-hook-creation,hook-succeeded" "helm.sh/hook-weight" .) }}
{{- end -}}
