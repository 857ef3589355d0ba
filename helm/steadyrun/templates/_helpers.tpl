{{- define "steadyrun.name" -}}{{ .Release.Name }}-steadyrun{{- end -}}

{{- define "steadyrun.labels" -}}
app.kubernetes.io/name: steadyrun
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{- define "steadyrun.selector" -}}
app.kubernetes.io/name: steadyrun
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{/* image reference: "steadyrun.image" (list $ .Values.image.orchestrator) */}}
{{- define "steadyrun.image" -}}
{{- $root := index . 0 -}}{{- $img := index . 1 -}}
{{- $prefix := ternary "" (printf "%s/" (trimSuffix "/" $root.Values.image.registry)) (empty $root.Values.image.registry) -}}
{{- printf "%s%s:%s" $prefix $img.repository (default $root.Chart.AppVersion $img.tag) -}}
{{- end -}}

{{- define "steadyrun.secretName" -}}
{{- .Values.secrets.name -}}
{{- end -}}

{{- define "steadyrun.checkpointClaim" -}}
{{- default (printf "%s-checkpoints" (include "steadyrun.name" .)) .Values.checkpoints.existingClaim -}}
{{- end -}}

{{- define "steadyrun.orchestratorUrl" -}}
{{- printf "%s://%s-orchestrator:%v" (ternary "https" "http" .Values.tls.enabled) (include "steadyrun.name" .) .Values.orchestrator.port -}}
{{- end -}}

{{- define "steadyrun.agentLabels" -}}
{{- $pairs := list -}}
{{- range $k, $v := .Values.agent.labels }}{{- $pairs = append $pairs (printf "%s=%s" $k $v) -}}{{- end -}}
{{- join "," $pairs -}}
{{- end -}}

{{- define "steadyrun.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: {{ .Values.securityContext.runAsUser }}
runAsGroup: {{ .Values.securityContext.runAsGroup }}
fsGroup: {{ .Values.securityContext.fsGroup }}
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{- define "steadyrun.containerSecurityContext" -}}
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
capabilities:
  drop: [ALL]
{{- end -}}
