# Copyright (c) binder.ingress developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Names every part of the collection agrees on, spelled once.

Labels and set names select what the collection owns (apply and prune); middleware and
redirector names tie the Ingresses to traefik's file provider. Filters, modules and tests
import them from here; role tasks get them through the filters and modules.
"""

from __future__ import annotations

__all__ = [
    "ENTRYPOINT_WEB",
    "ENTRYPOINT_WEBSECURE",
    "LABEL_COMPONENT",
    "LABEL_MANAGED_BY",
    "LABEL_MEMBER",
    "LABEL_SET",
    "MANAGED_BY",
    "MIDDLEWARE_CLIENT_LIMIT",
    "MIDDLEWARE_DEFAULT",
    "MIDDLEWARE_HARBOR",
    "MIDDLEWARE_HSTS",
    "MIDDLEWARE_HUB",
    "MOZILLA_INTERMEDIATE_CIPHERS",
    "REDIRECTOR",
    "REDIRECTOR_SERVICE",
    "SET_CLUSTER_ISSUERS",
    "SET_ENTRYPOINT",
    "SET_INGRESSES",
    "SET_ISSUERS",
    "SET_TRAEFIK_RBAC",
]

# Every object the collection writes carries these labels.
MANAGED_BY = "binder.ingress"
LABEL_MANAGED_BY = "app.kubernetes.io/managed-by"
LABEL_MEMBER = "binder.ingress/member"
LABEL_SET = "binder.ingress/set"
LABEL_COMPONENT = "binder.ingress/component"

# The sets a member's objects belong to (value of LABEL_SET).
SET_ENTRYPOINT = "entrypoint"
SET_CLUSTER_ISSUERS = "cluster-issuers"
SET_INGRESSES = "ingresses"
# Only for members that share their cluster: traefik's namespaced RBAC, and the member's own ACME Issuers.
SET_TRAEFIK_RBAC = "traefik-rbac"
SET_ISSUERS = "issuers"

# traefik file-provider middlewares the traefik role defines; Ingresses name them `<name>@file`.
MIDDLEWARE_HUB = "hub"
MIDDLEWARE_HARBOR = "harbor"
MIDDLEWARE_DEFAULT = "default"
# The HSTS headers middleware the traefik role puts on its websecure entry point (every router there).
MIDDLEWARE_HSTS = "hsts"
# The inFlightReq middleware the traefik role puts on its websecure entry point: requests in flight
# per client address.
MIDDLEWARE_CLIENT_LIMIT = "client-limit"

# traefik's entry points (the chart's `ports`): plain HTTP and HTTPS. The member's Ingresses are
# pinned to websecure; only cert-manager's http01 solvers answer on web (allowACMEByPass).
ENTRYPOINT_WEB = "web"
ENTRYPOINT_WEBSECURE = "websecure"

# The redirector component and its selector-less Service.
REDIRECTOR = "redirector"
REDIRECTOR_SERVICE = "redirector"

# Mozilla's "intermediate" server profile (ssl-config.mozilla.org, v5.7), in Go's names: ECDHE key
# exchange with AEAD ciphers only. Its DHE suites have no Go implementation; TLS 1.3 suites are
# not configurable in Go and all of Go's are in the profile. traefik_tls_cipher_suites' default.
MOZILLA_INTERMEDIATE_CIPHERS: tuple[str, ...] = (
    "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
    "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
    "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
    "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
    "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305",
    "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305",
)
