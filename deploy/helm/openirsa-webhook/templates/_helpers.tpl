{{- define "openirsa.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "openirsa.fullname" -}}
{{- $name := include "openirsa.name" . -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "openirsa.labels" -}}
{{ include "openirsa.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: openirsa
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{- end -}}

{{- define "openirsa.selectorLabels" -}}
app.kubernetes.io/name: {{ include "openirsa.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "openirsa.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "openirsa.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- required "serviceAccount.name is required when serviceAccount.create is false (the webhook needs a ServiceAccount bound to its ClusterRole)" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- /* The Secret the pods mount: the one you manage (existingSecret) or the one the chart or cert-manager writes. */ -}}
{{- define "openirsa.certSecret" -}}
{{- if eq .Values.certificates.mode "existingSecret" -}}
{{- .Values.certificates.existingSecret -}}
{{- else -}}
{{- include "openirsa.fullname" . }}-cert
{{- end -}}
{{- end -}}

{{- /* The namespace label that opts a namespace out of the webhook (disabled) or into fail-closed handling (required);
  on a pod, "required" opts that pod into fail-closed handling. */ -}}
{{- define "openirsa.scopeLabel" -}}openirsa.io/webhook{{- end -}}

{{- define "openirsa.image" -}}
{{- $tag := .Values.image.tag | default .Chart.AppVersion -}}
{{- if .Values.image.digest -}}
{{- printf "%s:%s@%s" .Values.image.repository $tag .Values.image.digest -}}
{{- else -}}
{{- printf "%s:%s" .Values.image.repository $tag -}}
{{- end -}}
{{- end -}}

{{- /* The checks values.schema.json cannot express (types, enums and ranges live there); each names the value.
  Included by each template that needs valid certificate values: helm reports whichever template fails first. */ -}}
{{- define "openirsa.validate" -}}
{{- $c := .Values.certificates -}}
{{- if and (eq $c.mode "existingSecret") (not $c.existingSecret) -}}
{{- fail "certificates.existingSecret (the name of a kubernetes.io/tls Secret in the release namespace) is required with certificates.mode=existingSecret" -}}
{{- end -}}
{{- if eq $c.mode "inline" -}}
{{- if not (hasPrefix "-----BEGIN CERTIFICATE-----" (trim $c.cert)) -}}
{{- fail "certificates.cert must be a PEM certificate (-----BEGIN CERTIFICATE-----) with certificates.mode=inline" -}}
{{- end -}}
{{- if not (regexMatch "^-----BEGIN ([A-Z]+ )?PRIVATE KEY-----" (trim $c.key)) -}}
{{- fail "certificates.key must be a PEM private key (-----BEGIN … PRIVATE KEY-----) with certificates.mode=inline" -}}
{{- end -}}
{{- if not $c.caBundle -}}
{{- fail "certificates.caBundle (PEM of the CA that signed certificates.cert) is required with certificates.mode=inline" -}}
{{- end -}}
{{- end -}}
{{- if and $c.caBundle (not (hasPrefix "-----BEGIN CERTIFICATE-----" (trim $c.caBundle))) -}}
{{- fail "certificates.caBundle must be PEM (-----BEGIN CERTIFICATE-----), not base64 or a file name" -}}
{{- end -}}
{{- $ref := $c.certManager.issuerRef -}}
{{- if and $ref (not $ref.name) -}}
{{- fail "certificates.certManager.issuerRef.name is required when issuerRef is set" -}}
{{- end -}}
{{- if and (or $c.cert $c.key) (ne $c.mode "inline") -}}
{{- fail (printf "certificates.cert and certificates.key are used only with certificates.mode=inline (mode is %s)" $c.mode) -}}
{{- end -}}
{{- if and $c.caBundle (not (has $c.mode (list "existingSecret" "inline"))) -}}
{{- fail (printf "certificates.caBundle is used only with certificates.mode=existingSecret or inline (mode is %s)" $c.mode) -}}
{{- end -}}
{{- if and $c.existingSecret (ne $c.mode "existingSecret") -}}
{{- fail (printf "certificates.existingSecret is used only with certificates.mode=existingSecret (mode is %s)" $c.mode) -}}
{{- end -}}
{{- end -}}
