{{/*
The spec schemas of the fixture's CRDs: written for these tests, not taken from cert-manager. They
type what the collection and the local cluster's issuer stand-in read and write, closed where the
cert_manager role writes (an ACME issuer with http01 over an Ingress), so a misspelt field fails as it
would against the real CRDs; every other part of a spec stays open.
*/}}

{{- define "fixture-cert-manager.open" -}}
type: object
x-kubernetes-preserve-unknown-fields: true
{{- end }}

{{- define "fixture-cert-manager.issuerRef" -}}
type: object
required: [name]
properties:
  name: {type: string}
  kind: {type: string}
  group: {type: string}
{{- end }}

{{- define "fixture-cert-manager.issuerSpec" -}}
type: object
properties:
  acme:
    type: object
    required: [server, privateKeySecretRef]
    properties:
      server: {type: string}
      email: {type: string}
      profile: {type: string}
      preferredChain: {type: string}
      skipTLSVerify: {type: boolean}
      caBundle: {type: string, format: byte}
      disableAccountKeyGeneration: {type: boolean}
      enableDurationFeature: {type: boolean}
      externalAccountBinding: {{- include "fixture-cert-manager.open" . | nindent 8 }}
      privateKeySecretRef:
        type: object
        required: [name]
        properties:
          name: {type: string}
          key: {type: string}
      solvers:
        type: array
        items:
          type: object
          properties:
            selector: {{- include "fixture-cert-manager.open" . | nindent 14 }}
            dns01: {{- include "fixture-cert-manager.open" . | nindent 14 }}
            http01:
              type: object
              properties:
                gatewayHTTPRoute: {{- include "fixture-cert-manager.open" . | nindent 18 }}
                ingress:
                  type: object
                  properties:
                    class: {type: string}
                    ingressClassName: {type: string}
                    name: {type: string}
                    serviceType: {type: string}
                    podTemplate: {{- include "fixture-cert-manager.open" . | nindent 22 }}
                    ingressTemplate: {{- include "fixture-cert-manager.open" . | nindent 22 }}
  ca: {{- include "fixture-cert-manager.open" . | nindent 4 }}
  selfSigned: {{- include "fixture-cert-manager.open" . | nindent 4 }}
  vault: {{- include "fixture-cert-manager.open" . | nindent 4 }}
  venafi: {{- include "fixture-cert-manager.open" . | nindent 4 }}
{{- end }}

{{- define "fixture-cert-manager.certificateSpec" -}}
type: object
required: [secretName, issuerRef]
x-kubernetes-preserve-unknown-fields: true
properties:
  secretName: {type: string}
  commonName: {type: string}
  dnsNames: {type: array, items: {type: string}}
  duration: {type: string}
  renewBefore: {type: string}
  usages: {type: array, items: {type: string}}
  issuerRef: {{- include "fixture-cert-manager.issuerRef" . | nindent 4 }}
{{- end }}

{{- define "fixture-cert-manager.certificateRequestSpec" -}}
type: object
required: [request, issuerRef]
x-kubernetes-preserve-unknown-fields: true
properties:
  request: {type: string, format: byte}
  duration: {type: string}
  isCA: {type: boolean}
  usages: {type: array, items: {type: string}}
  issuerRef: {{- include "fixture-cert-manager.issuerRef" . | nindent 4 }}
{{- end }}

{{- define "fixture-cert-manager.orderSpec" -}}
type: object
required: [request, issuerRef]
x-kubernetes-preserve-unknown-fields: true
properties:
  request: {type: string, format: byte}
  commonName: {type: string}
  dnsNames: {type: array, items: {type: string}}
  duration: {type: string}
  issuerRef: {{- include "fixture-cert-manager.issuerRef" . | nindent 4 }}
{{- end }}

{{- define "fixture-cert-manager.challengeSpec" -}}
type: object
required: [url, authorizationURL, dnsName, type, token, key, solver, issuerRef]
x-kubernetes-preserve-unknown-fields: true
properties:
  url: {type: string}
  authorizationURL: {type: string}
  dnsName: {type: string}
  wildcard: {type: boolean}
  type: {type: string, enum: [HTTP-01, DNS-01]}
  token: {type: string}
  key: {type: string}
  solver: {{- include "fixture-cert-manager.open" . | nindent 4 }}
  issuerRef: {{- include "fixture-cert-manager.issuerRef" . | nindent 4 }}
{{- end }}
