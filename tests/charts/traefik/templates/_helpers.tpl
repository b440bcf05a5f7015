{{/*
Labels of every object, and the two the pods are selected by: the member's cluster entrypoint
Service (role cluster_entrypoint) selects exactly `name: traefik` and `instance: <release>-<namespace>`.
*/}}
{{- define "fixture-traefik.selectorLabels" -}}
app.kubernetes.io/name: traefik
app.kubernetes.io/instance: {{ printf "%s-%s" .Release.Name .Release.Namespace }}
{{- end }}

{{- define "fixture-traefik.labels" -}}
{{ include "fixture-traefik.selectorLabels" . }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end }}

{{/* Cluster-scoped objects carry the namespace too: two releases of one name must not collide. */}}
{{- define "fixture-traefik.clusterName" -}}
{{ printf "%s-%s" .Release.Name .Release.Namespace }}
{{- end }}

{{/* The ServiceAccount, named as the chart names it: the release, or `<release>-traefik`. */}}
{{- define "fixture-traefik.serviceAccountName" -}}
{{- if contains "traefik" .Release.Name }}{{ .Release.Name }}{{ else }}{{ printf "%s-traefik" .Release.Name }}{{ end }}
{{- end }}

{{/*
A values subtree as traefik command-line flags, one `--<prefix>.<key>=<value>` list item per leaf:
traefik reads the same settings from flags as from its static configuration file, so every value the
role passes shows in the Deployment, and changing one rolls the pods. Call with (dict "prefix" "values").
*/}}
{{- define "fixture-traefik.flags" -}}
{{- $prefix := .prefix }}
{{- range $key, $value := .values }}
{{- if kindIs "map" $value }}
{{- include "fixture-traefik.flags" (dict "prefix" (printf "%s.%s" $prefix $key) "values" $value) }}
{{- else if kindIs "slice" $value }}
- {{ printf "--%s.%s=%s" $prefix $key (join "," $value) | quote }}
{{- else if and (kindIs "float64" $value) (eq $value (float64 (int64 $value))) }}
{{- /* Helm reads YAML numbers as floats: print 64000000, not 6.4e+07. */}}
- {{ printf "--%s.%s=%d" $prefix $key (int64 $value) | quote }}
{{- else if not (kindIs "invalid" $value) }}
- {{ printf "--%s.%s=%v" $prefix $key $value | quote }}
{{- end }}
{{- end }}
{{- end }}

{{/* The entry points the pod listens on: every port, except the metrics one when metrics are off. */}}
{{- define "fixture-traefik.entryPoints" -}}
{{- $metrics := .Values.metrics.prometheus }}
{{- $entryPoints := dict }}
{{- range $name, $port := .Values.ports }}
{{- if or $metrics (ne $name "metrics") }}
{{- $_ := set $entryPoints $name $port }}
{{- end }}
{{- end }}
{{- toYaml $entryPoints }}
{{- end }}
