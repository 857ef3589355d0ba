{{- define "steadyrun.name" -}}{{ .Release.Name }}-steadyrun{{- end -}}
{{- define "steadyrun.labels" -}}
app.kubernetes.io/name: steadyrun
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
{{- end -}}
{{- define "steadyrun.agentLabels" -}}
{{- $pairs := list -}}
{{- range $k, $v := .Values.agent.labels }}{{- $pairs = append $pairs (printf "%s=%s" $k $v) -}}{{- end -}}
{{- join "," $pairs -}}
{{- end -}}
