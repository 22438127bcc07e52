{{/*
Chart name, truncated to 63 characters (the DNS label limit).
*/}}
{{- define "simplechat.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Fully qualified app name: the release name, unless it already contains the chart name.
Resources are named <fullname>-<component>; KServe adds "-predictor" (10 characters) to an
InferenceService name, so the prefix is kept to 40 characters.
*/}}
{{- define "simplechat.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 40 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 40 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 40 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{/*
Chart name and version, for the helm.sh/chart label.
*/}}
{{- define "simplechat.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Common labels.
*/}}
{{- define "simplechat.labels" -}}
helm.sh/chart: {{ include "simplechat.chart" . }}
app.kubernetes.io/name: {{ include "simplechat.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: simplechat
{{- end }}

{{/*
Selector labels (stable across upgrades: no version).
*/}}
{{- define "simplechat.selectorLabels" -}}
app.kubernetes.io/name: {{ include "simplechat.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/*
Image reference of one component: [registry/]simplechat-<component>:<tag or appVersion>[-cuda].
The -cuda images carry CUDA torch wheels (scripts/build-images.sh --cuda).
Usage: include "simplechat.image" (dict "root" . "component" "chatbot" ["cuda" true])
*/}}
{{- define "simplechat.image" -}}
{{- $image := .root.Values.image }}
{{- $tag := printf "%s%s" (default .root.Chart.AppVersion $image.tag) (ternary "-cuda" "" (default false .cuda)) }}
{{- if $image.registry }}
{{- printf "%s/simplechat-%s:%s" (trimSuffix "/" $image.registry) .component $tag }}
{{- else }}
{{- printf "simplechat-%s:%s" .component $tag }}
{{- end }}
{{- end }}

{{/*
Name of a predictor's InferenceService, and of the Service KServe makes for it.
Usage: include "simplechat.isvcName" (dict "root" . "name" "chatbot")
*/}}
{{- define "simplechat.isvcName" -}}
{{- printf "%s-%s" (include "simplechat.fullname" .root) .name }}
{{- end }}

{{- define "simplechat.predictorService" -}}
{{- printf "%s-predictor" (include "simplechat.isvcName" .) }}
{{- end }}

{{/*
The restricted Pod Security Standard, for a container.
*/}}
{{- define "simplechat.containerSecurityContext" -}}
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
runAsNonRoot: true
capabilities:
  drop: ["ALL"]
seccompProfile:
  type: RuntimeDefault
{{- end }}

{{/*
Seconds a predictor may spend draining after SIGTERM (its --grace_period_s): the pod's grace
period minus the preStop sleep, which the kubelet counts against the same budget.
*/}}
{{- define "simplechat.drainSeconds" -}}
{{- $s := .Values.shutdown }}
{{- if le (int $s.gracePeriodSeconds) (int $s.preStopSleepSeconds) }}
{{- fail "shutdown.gracePeriodSeconds must exceed shutdown.preStopSleepSeconds (the drain gets the difference)" }}
{{- end }}
{{- sub $s.gracePeriodSeconds $s.preStopSleepSeconds }}
{{- end }}

{{/*
A serving container's lifecycle: sleep before SIGTERM so the endpoint controller and the ingress
stop sending new requests first. exec sleep, not the native sleep action: that is alpha (off)
on Kubernetes 1.29, which the chart supports; both images ship /bin/sleep.
*/}}
{{- define "simplechat.lifecycle" -}}
preStop:
  exec:
    command: ["sleep", "{{ .Values.shutdown.preStopSleepSeconds }}"]
{{- end }}

{{/*
Spec of an Ingress: class, optional TLS and host, and the given paths to Services on port 80.
Usage: include "simplechat.ingressSpec" (dict "root" . "paths" (list (dict "path" "/" "pathType" "Prefix" "service" "name")))
*/}}
{{- define "simplechat.ingressSpec" -}}
ingressClassName: {{ .root.Values.ingress.className }}
{{- if .root.Values.ingress.tlsSecretName }}
tls:
  - hosts: [{{ required "ingress.host is required with ingress.tlsSecretName" .root.Values.ingress.host | quote }}]
    secretName: {{ .root.Values.ingress.tlsSecretName }}
{{- end }}
rules:
  - {{- with .root.Values.ingress.host }}
    host: {{ . | quote }}
    {{- end }}
    http:
      paths:
        {{- range .paths }}
        - path: {{ .path }}
          pathType: {{ .pathType }}
          backend:
            service:
              name: {{ .service }}
              port:
                number: 80
        {{- end }}
{{- end }}

{{/*
A CPU quantity in millicores ("500m" -> 500, "2" -> 2000, 1.5 -> 1500).
*/}}
{{- define "simplechat.millicores" -}}
{{- $q := toString . }}
{{- if hasSuffix "m" $q }}{{ trimSuffix "m" $q | int64 }}{{ else }}{{ mulf (float64 $q) 1000 | int64 }}{{ end }}
{{- end }}

{{/*
A memory quantity in bytes ("1Gi", "768Mi", "2G", "1000000").
*/}}
{{- define "simplechat.bytes" -}}
{{- $q := toString . }}
{{- $units := dict "Ki" 1024 "Mi" 1048576 "Gi" 1073741824 "Ti" 1099511627776 "k" 1000 "K" 1000 "M" 1000000 "G" 1000000000 "T" 1000000000000 }}
{{- $unit := regexFind "([kKMGT]i?)$" $q }}
{{- if $unit }}{{ mulf (float64 (trimSuffix $unit $q)) (index $units $unit) | int64 }}{{ else }}{{ float64 $q | int64 }}{{ end }}
{{- end }}

{{/*
Fails unless `resources` sets CPU and memory limits at least as large as the requests. KServe's
webhook fills a missing limit with its own default (1 CPU, 2Gi), which can fall below the
request and make the Deployment invalid; a container without a CPU limit also cannot tell
torch how many threads to run. Usage: include "simplechat.checkResources" (dict "name" "chatbot" "resources" $r)
*/}}
{{- define "simplechat.checkResources" -}}
{{- $requests := .resources.requests | default dict }}
{{- $limits := .resources.limits | default dict }}
{{- range $resource := list "cpu" "memory" }}
{{- if not (hasKey $limits $resource) }}
{{- fail (printf "%s.resources.limits.%s is required (KServe would add its own default limit)" $.name $resource) }}
{{- end }}
{{- if hasKey $requests $resource }}
{{- $unit := ternary "simplechat.millicores" "simplechat.bytes" (eq $resource "cpu") }}
{{- if gt (include $unit (index $requests $resource) | int64) (include $unit (index $limits $resource) | int64) }}
{{- fail (printf "%s.resources: requests.%s (%v) exceeds limits.%s (%v)" $.name $resource (index $requests $resource) $resource (index $limits $resource)) }}
{{- end }}
{{- end }}
{{- end }}
{{- end }}

