{{- define "fixture-cert-manager.labels" -}}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end }}

{{/* The object name of a component: the release name for the controller, `<release>-<component>` else. */}}
{{- define "fixture-cert-manager.name" -}}
{{ if eq .component "controller" }}{{ .root.Release.Name }}{{ else }}{{ printf "%s-%s" .root.Release.Name .component }}{{ end }}
{{- end }}

{{/*
One component's ServiceAccount and Deployment. Call with (dict "root" $ "component" "controller"
"resources" {...} "args" [...]).
*/}}
{{- define "fixture-cert-manager.component" -}}
{{- $root := .root }}
{{- $name := include "fixture-cert-manager.name" . }}
{{- $selector := dict "app.kubernetes.io/name" $name "app.kubernetes.io/component" .component }}
apiVersion: v1
kind: ServiceAccount
metadata:
  name: {{ $name }}
  namespace: {{ $root.Release.Namespace }}
  labels:
    {{- include "fixture-cert-manager.labels" $root | nindent 4 }}
    {{- toYaml $selector | nindent 4 }}
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ $name }}
  namespace: {{ $root.Release.Namespace }}
  labels:
    {{- include "fixture-cert-manager.labels" $root | nindent 4 }}
    {{- toYaml $selector | nindent 4 }}
spec:
  replicas: 1
  selector:
    matchLabels:
      {{- toYaml (merge (dict "app.kubernetes.io/instance" $root.Release.Name) $selector) | nindent 6 }}
  template:
    metadata:
      labels:
        {{- include "fixture-cert-manager.labels" $root | nindent 8 }}
        {{- toYaml $selector | nindent 8 }}
    spec:
      serviceAccountName: {{ $name }}
      containers:
        - name: {{ .component }}
          image: {{ printf "%s/cert-manager-%s:%s" $root.Values.image.registry .component ($root.Values.image.tag | default $root.Chart.AppVersion) | quote }}
          args:
            {{- toYaml .args | nindent 12 }}
          env:
            - name: POD_NAMESPACE
              valueFrom:
                fieldRef:
                  fieldPath: metadata.namespace
          {{- with .resources }}
          resources:
            {{- toYaml . | nindent 12 }}
          {{- end }}
      {{- with $root.Values.nodeSelector }}
      nodeSelector:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- with $root.Values.tolerations }}
      tolerations:
        {{- toYaml . | nindent 8 }}
      {{- end }}
{{- end }}
