{{- define "openirsa.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "openirsa.labels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: openirsa
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{- end -}}

{{- define "openirsa.selectorLabels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "openirsa.certSecret" -}}
{{ include "openirsa.fullname" . }}-cert
{{- end -}}

{{- define "openirsa.validate" -}}
{{- if not (has .Values.certificates.mode (list "certManager" "selfSigned")) -}}
{{- fail (printf "certificates.mode must be certManager or selfSigned, not %q" .Values.certificates.mode) -}}
{{- end -}}
{{- if not (has .Values.mutatingWebhook.failurePolicy (list "Fail" "Ignore")) -}}
{{- fail "mutatingWebhook.failurePolicy must be Fail or Ignore" -}}
{{- end -}}
{{- if or (lt (int .Values.mutatingWebhook.timeoutSeconds) 1) (gt (int .Values.mutatingWebhook.timeoutSeconds) 30) -}}
{{- fail "mutatingWebhook.timeoutSeconds must be 1-30" -}}
{{- end -}}
{{- end -}}
