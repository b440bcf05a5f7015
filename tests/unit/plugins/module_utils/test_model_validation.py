"""The model's validation: every rule fails with the member and the inventory key, all at once."""

from __future__ import annotations

from typing import Any

import pytest
from ansible_collections.binder.ingress.plugins.module_utils import _names
from ansible_collections.binder.ingress.plugins.module_utils.model import (
    Issue,
    MemberError,
    build_member,
)

MEMBER = "hetzner-gesis"
NS = "gesis"
K = "binder_ingresses_components"
OK_SERVICE = {"name": "app", "port": 80}


def issues(components: Any, **kwargs: Any) -> list[Issue]:
    kwargs.setdefault("namespace", NS)
    with pytest.raises(MemberError) as caught:
        build_member(kwargs.pop("member", MEMBER), components, **kwargs)
    found = caught.value.issues
    assert found, "a MemberError must carry its issues"
    assert str(caught.value) == "\n".join(str(i) for i in found)
    return found


def redirects(*entries: dict[str, Any]) -> dict[str, Any]:
    return {"redirector": {"redirects": list(entries)}}


def host(kind: str, source: str, target: str, **extra: Any) -> dict[str, Any]:
    return {"type": kind, "from": source, "to": target, **extra}


# (catalogue, inventory key of the issue, words the message must hold)
INVALID = [
    # shape and types
    pytest.param(["binderhub"], K, "must be a mapping", id="catalogue-not-mapping"),
    pytest.param({"binderhub": ["example.org"]}, f"{K}.binderhub", "must be a mapping", id="component-list"),
    pytest.param({"binderhub": None}, f"{K}.binderhub", "got null", id="component-null"),
    pytest.param(
        {"binderhub": {"hosts": ["example.org"], "host": "x"}},
        f"{K}.binderhub.host",
        "unknown key (did you mean 'hosts'?",
        id="unknown-key",
    ),
    pytest.param(
        {"binderhub": {"hosts": ["e.org"], "buckets": []}},
        f"{K}.binderhub.buckets",
        "unknown key",
        id="buckets-elsewhere",
    ),
    pytest.param(
        {"gcs-proxy": {"hosts": ["e.org"]}}, f"{K}.gcs-proxy.hosts", "unknown key", id="hosts-on-gcs-proxy"
    ),
    pytest.param(
        {"binderhub": {"hosts": ["e.org"], "release": "x"}},
        f"{K}.binderhub.release",
        "unknown key",
        id="release-not-here",
    ),
    pytest.param(
        {"binderhub": {"enabled": "yes", "hosts": ["e.org"]}},
        f"{K}.binderhub.enabled",
        "must be a boolean",
        id="enabled-str",
    ),
    pytest.param({"binderhub": {}}, f"{K}.binderhub", "missing key 'hosts'", id="missing-hosts"),
    pytest.param({"binderhub": {"hosts": []}}, f"{K}.binderhub.hosts", "at least one host", id="empty-hosts"),
    pytest.param(
        {"binderhub": {"hosts": "example.org"}}, f"{K}.binderhub.hosts", "must be a list", id="hosts-str"
    ),
    pytest.param(
        {"binderhub": {"hosts": [True]}}, f"{K}.binderhub.hosts[0]", "got a boolean", id="host-bool"
    ),
    pytest.param({"binderhub": {"hosts": [1.5]}}, f"{K}.binderhub.hosts[0]", "got a number", id="host-float"),
    pytest.param(
        {"binderhub": {"hosts": [{"a": 1}]}}, f"{K}.binderhub.hosts[0]", "got a mapping", id="host-mapping"
    ),
    pytest.param({"gcs-proxy": {}}, f"{K}.gcs-proxy", "missing key 'buckets'", id="missing-buckets"),
    pytest.param(
        {"gcs-proxy": {"buckets": []}}, f"{K}.gcs-proxy.buckets", "at least one bucket", id="empty-buckets"
    ),
    pytest.param(
        {"gcs-proxy": {"buckets": [{"name": "b"}]}},
        f"{K}.gcs-proxy.buckets[0]",
        "missing key 'host'",
        id="bucket-no-host",
    ),
    pytest.param(
        {"gcs-proxy": {"buckets": [{"host": "b.org"}]}},
        f"{K}.gcs-proxy.buckets[0]",
        "missing key 'name'",
        id="bucket-no-name",
    ),
    pytest.param(
        {"gcs-proxy": {"buckets": [{"name": "b", "host": "b.org", "region": "eu"}]}},
        f"{K}.gcs-proxy.buckets[0].region",
        "unknown key",
        id="bucket-unknown-key",
    ),
    pytest.param(
        {"gcs-proxy": {"buckets": [{"name": "b", "host": "x.org"}, {"name": "b", "host": "B.org"}]}},
        f"{K}.gcs-proxy.buckets[1].host",
        "uppercase",
        id="bucket-host",
    ),
    pytest.param({"redirector": {}}, f"{K}.redirector", "missing key 'redirects'", id="missing-redirects"),
    pytest.param(redirects(), f"{K}.redirector.redirects", "at least one redirect", id="empty-redirects"),
    pytest.param(
        {"redirector": {"redirects": [], "hosts": ["a.org"]}},
        f"{K}.redirector.hosts",
        "unknown key",
        id="redirector-hosts",
    ),
    pytest.param(
        {"my-app": {"hosts": ["a.org"]}}, f"{K}.my-app", "missing key 'service'", id="generic-no-service"
    ),
    pytest.param(
        {"my-app": {"hosts": ["a.org"], "paths": [{"path": "/a", "service": OK_SERVICE}, {"path": "/b"}]}},
        f"{K}.my-app",
        "every path that names none",
        id="generic-path-without-service",
    ),
    pytest.param(
        {"my-app": {"hosts": ["a.org"], "service": "app"}},
        f"{K}.my-app.service",
        "must be a mapping",
        id="service-str",
    ),
    pytest.param(
        {"my-app": {"hosts": ["a.org"], "service": {"name": "app"}}},
        f"{K}.my-app.service",
        "missing key 'port'",
        id="service-no-port",
    ),
    pytest.param(
        {"my-app": {"hosts": ["a.org"], "service": {"port": 80}}},
        f"{K}.my-app.service",
        "missing key 'name'",
        id="service-no-name",
    ),
    pytest.param(
        {"my-app": {"hosts": ["a.org"], "service": {**OK_SERVICE, "namespace": "x"}}},
        f"{K}.my-app.service.namespace",
        "unknown key",
        id="service-unknown-key",
    ),
    pytest.param(
        {"My_App": {"hosts": ["a.org"], "service": OK_SERVICE}},
        f"{K}.My_App",
        "component name",
        id="component-name",
    ),
    pytest.param(
        {"binderhub": {"hosts": ["a.org"], "name": 5}},
        f"{K}.binderhub.name",
        "must be a string",
        id="name-int",
    ),
    pytest.param(
        {"binderhub": {"hosts": ["a.org"], "annotations": ["a"]}},
        f"{K}.binderhub.annotations",
        "must be a mapping",
        id="annotations-list",
    ),
    pytest.param(
        {"binderhub": {"hosts": ["a.org"], "annotations": {"x": True}}},
        f"{K}.binderhub.annotations.x",
        "must be a string, got a boolean",
        id="annotation-bool",
    ),
    pytest.param(
        {"binderhub": {"hosts": ["a.org"], "annotations": {"bad key!": "x"}}},
        f"{K}.binderhub.annotations.bad key!",
        "annotation name",
        id="annotation-key",
    ),
    pytest.param(
        {"binderhub": {"hosts": ["a.org"], "annotations": {"kubernetes.io/ingress.class": "traefik"}}},
        f"{K}.binderhub.annotations.kubernetes.io/ingress.class",
        "ingressClassName",
        id="legacy-class-annotation",
    ),
    pytest.param(
        {
            "binderhub": {
                "hosts": ["a.org"],
                "annotations": {"traefik.ingress.kubernetes.io/router.middlewares": "x@file"},
            }
        },
        f"{K}.binderhub.annotations.traefik.ingress.kubernetes.io/router.middlewares",
        "middlewares",
        id="middleware-annotation",
    ),
    pytest.param(
        {"binderhub": {"hosts": ["a.org"], "annotations": {"kubernetes.io/tls-acme": "false"}}},
        f"{K}.binderhub.annotations.kubernetes.io/tls-acme",
        "binder_ingresses_tls_acme",
        id="tls-acme-annotation",
    ),
    pytest.param(
        {"binderhub": {"hosts": ["a.org"], "middlewares": "hub@file"}},
        f"{K}.binderhub.middlewares",
        "must be a list",
        id="middlewares-str",
    ),
    pytest.param(
        {"binderhub": {"hosts": ["a.org"], "middlewares": ["hub"]}},
        f"{K}.binderhub.middlewares[0]",
        "name@provider",
        id="middleware-ref",
    ),
    # traefik drops the router of an Ingress naming a middleware it does not have: the host 404s.
    pytest.param(
        {"jupyterhub": {"hosts": ["a.org"], "middlewares": ["hub@file", "defualt@file"]}},
        f"{K}.jupyterhub.middlewares[1]",
        "'defualt@file' is not a middleware the traefik role defines (hub, harbor, default);"
        " did you mean 'default@file'?",
        id="middleware-typo",
    ),
    pytest.param(
        {"binderhub": {"hosts": ["a.org"], "middlewares": ["auth@kubernetescrd"]}},
        f"{K}.binderhub.middlewares[0]",
        "'auth@kubernetescrd' names the provider 'kubernetescrd', which the traefik role does not enable:"
        " only file-provider middlewares exist ('file': hub, harbor, default)",
        id="middleware-provider-off",
    ),
    pytest.param(
        {
            "binderhub": {"hosts": ["a.org"], "middlewares": ["redirect-c-org@file"]},
            "redirector": {"redirects": [{"type": "host", "from": "b.org", "to": "a.org"}]},
        },
        f"{K}.binderhub.middlewares[0]",
        "'redirect-c-org@file' is not a middleware the traefik role defines"
        " (hub, harbor, default, redirect-b-org); did you mean 'redirect-b-org@file'?",
        id="middleware-other-redirect",
    ),
    # A misspelt built-in name would be a generic component: say which built-in was meant.
    pytest.param(
        {"binderhb": {"hosts": ["a.org"]}},
        f"{K}.binderhb",
        "'binderhb' is not a built-in component: did you mean 'binderhub'?"
        " (as a generic component it would have to give 'service')",
        id="component-misspelt",
    ),
    # host names
    pytest.param(
        {"static": {"hosts": ["Static.example"]}},
        f"{K}.static.hosts[0]",
        "'Static.example' is not a valid DNS-1123 host name",
        id="host-upper",
    ),
    pytest.param(
        {"binderhub": {"hosts": ["https://a.org"]}}, f"{K}.binderhub.hosts[0]", "scheme", id="host-url"
    ),
    pytest.param({"binderhub": {"hosts": ["a.org/x"]}}, f"{K}.binderhub.hosts[0]", "path", id="host-path"),
    pytest.param({"binderhub": {"hosts": ["a.org:443"]}}, f"{K}.binderhub.hosts[0]", "port", id="host-port"),
    pytest.param(
        {"binderhub": {"hosts": ["a.org."]}},
        f"{K}.binderhub.hosts[0]",
        "ends with a dot",
        id="host-trailing-dot",
    ),
    pytest.param(
        {"binderhub": {"hosts": ["10.0.0.1"]}}, f"{K}.binderhub.hosts[0]", "IP address", id="host-ipv4"
    ),
    pytest.param({"binderhub": {"hosts": ["::1"]}}, f"{K}.binderhub.hosts[0]", "IPv6", id="host-ipv6"),
    pytest.param(
        {"binderhub": {"hosts": ["a.*.org"]}}, f"{K}.binderhub.hosts[0]", "wildcard", id="host-inner-wildcard"
    ),
    pytest.param(
        {"binderhub": {"hosts": ["*a.org"]}},
        f"{K}.binderhub.hosts[0]",
        "wildcard",
        id="host-partial-wildcard",
    ),
    pytest.param(
        {"binderhub": {"hosts": ["*"]}}, f"{K}.binderhub.hosts[0]", "wildcard", id="host-bare-wildcard"
    ),
    pytest.param(
        {"binderhub": {"hosts": ["a..org"]}}, f"{K}.binderhub.hosts[0]", "empty label", id="host-empty-label"
    ),
    pytest.param(
        {"binderhub": {"hosts": ["-a.org"]}},
        f"{K}.binderhub.hosts[0]",
        "start and end",
        id="host-leading-dash",
    ),
    pytest.param(
        {"binderhub": {"hosts": ["a_b.org"]}},
        f"{K}.binderhub.hosts[0]",
        "lowercase letters",
        id="host-underscore",
    ),
    pytest.param(
        {"binderhub": {"hosts": ["a" * 64 + ".org"]}},
        f"{K}.binderhub.hosts[0]",
        "longer than 63",
        id="host-long-label",
    ),
    pytest.param(
        {"binderhub": {"hosts": [".".join(["a" * 60] * 5)]}},
        f"{K}.binderhub.hosts[0]",
        "longer than 253",
        id="host-too-long",
    ),
    pytest.param({"binderhub": {"hosts": [""]}}, f"{K}.binderhub.hosts[0]", "empty", id="host-empty"),
    # names, secrets, ports
    pytest.param(
        {"binderhub": {"hosts": ["a.org"], "tls_secret": "Bad_Secret"}},
        f"{K}.binderhub.tls_secret",
        "Secret name",
        id="secret-name",
    ),
    pytest.param(
        {"binderhub": {"hosts": ["a.org"], "tls_secret": "s" * 254}},
        f"{K}.binderhub.tls_secret",
        "longer than 253",
        id="secret-long",
    ),
    pytest.param(
        {"binderhub": {"hosts": ["a.org"], "tls_secret": 7}},
        f"{K}.binderhub.tls_secret",
        "must be a string",
        id="secret-int",
    ),
    pytest.param(
        {"binderhub": {"hosts": ["a.org"], "name": "Binder"}},
        f"{K}.binderhub.name",
        "Ingress name",
        id="ingress-name",
    ),
    pytest.param(
        {"my-app": {"hosts": ["a.org"], "service": {"name": "1app", "port": 80}}},
        f"{K}.my-app.service.name",
        "DNS-1035",
        id="service-name-digit",
    ),
    pytest.param(
        {"my-app": {"hosts": ["a.org"], "service": {"name": "app.x", "port": 80}}},
        f"{K}.my-app.service.name",
        "DNS-1035",
        id="service-name-dot",
    ),
    pytest.param(
        {"my-app": {"hosts": ["a.org"], "service": {"name": "a" * 64, "port": 80}}},
        f"{K}.my-app.service.name",
        "longer than 63",
        id="service-name-long",
    ),
    pytest.param(
        {"my-app": {"hosts": ["a.org"], "service": {"name": "app", "port": 0}}},
        f"{K}.my-app.service.port",
        "between 1 and 65535",
        id="port-0",
    ),
    pytest.param(
        {"my-app": {"hosts": ["a.org"], "service": {"name": "app", "port": 65536}}},
        f"{K}.my-app.service.port",
        "between 1 and 65535",
        id="port-big",
    ),
    pytest.param(
        {"my-app": {"hosts": ["a.org"], "service": {"name": "app", "port": True}}},
        f"{K}.my-app.service.port",
        "got a boolean",
        id="port-bool",
    ),
    pytest.param(
        {"my-app": {"hosts": ["a.org"], "service": {"name": "app", "port": 80.0}}},
        f"{K}.my-app.service.port",
        "got a number",
        id="port-float",
    ),
    pytest.param(
        {"my-app": {"hosts": ["a.org"], "service": {"name": "app", "port": "80"}}},
        f"{K}.my-app.service.port",
        "without quotes",
        id="port-quoted",
    ),
    pytest.param(
        {"my-app": {"hosts": ["a.org"], "service": {"name": "app", "port": "http-web-servers"}}},
        f"{K}.my-app.service.port",
        "longer than 15",
        id="port-name-long",
    ),
    pytest.param(
        {"my-app": {"hosts": ["a.org"], "service": {"name": "app", "port": "web--x"}}},
        f"{K}.my-app.service.port",
        "double '-'",
        id="port-name-double-dash",
    ),
    pytest.param(
        {"my-app": {"hosts": ["a.org"], "service": {"name": "app", "port": "Web"}}},
        f"{K}.my-app.service.port",
        "port name",
        id="port-name-upper",
    ),
    pytest.param(
        {"my-app": {"hosts": ["a.org"], "service": {"name": "app", "port": "-web"}}},
        f"{K}.my-app.service.port",
        "port name",
        id="port-name-leading-dash",
    ),
    pytest.param(
        {"harbor": {"hosts": ["a.org"], "release": "Registry"}},
        f"{K}.harbor.release",
        "DNS-1035",
        id="release-name",
    ),
    # paths
    pytest.param(
        {"binderhub": {"hosts": ["a.org"], "paths": "/"}},
        f"{K}.binderhub.paths",
        "must be a list",
        id="paths-str",
    ),
    pytest.param(
        {"binderhub": {"hosts": ["a.org"], "paths": []}},
        f"{K}.binderhub.paths",
        "at least one path",
        id="paths-empty",
    ),
    pytest.param(
        {"binderhub": {"hosts": ["a.org"], "paths": [{"path_type": "Prefix"}]}},
        f"{K}.binderhub.paths[0]",
        "missing key 'path'",
        id="path-missing",
    ),
    pytest.param(
        {"binderhub": {"hosts": ["a.org"], "paths": [{"path": "api"}]}},
        f"{K}.binderhub.paths[0].path",
        "absolute",
        id="path-relative",
    ),
    pytest.param(
        {"binderhub": {"hosts": ["a.org"], "paths": [{"path": "/a b"}]}},
        f"{K}.binderhub.paths[0].path",
        "whitespace",
        id="path-space",
    ),
    pytest.param(
        {"binderhub": {"hosts": ["a.org"], "paths": [{"path": "/a?b"}]}},
        f"{K}.binderhub.paths[0].path",
        "query",
        id="path-query",
    ),
    pytest.param(
        {"binderhub": {"hosts": ["a.org"], "paths": [{"path": "/a//b"}]}},
        f"{K}.binderhub.paths[0].path",
        "'//'",
        id="path-double-slash",
    ),
    pytest.param(
        {"binderhub": {"hosts": ["a.org"], "paths": [{"path": "/a/.."}]}},
        f"{K}.binderhub.paths[0].path",
        "ends with",
        id="path-dotdot",
    ),
    pytest.param(
        {"binderhub": {"hosts": ["a.org"], "paths": [{"path": "/", "path_type": "prefix"}]}},
        f"{K}.binderhub.paths[0].path_type",
        "not one of",
        id="path-type",
    ),
    pytest.param(
        {"binderhub": {"hosts": ["a.org"], "paths": [{"path": "/", "pathType": "Prefix"}]}},
        f"{K}.binderhub.paths[0].pathType",
        "unknown key",
        id="path-camel-key",
    ),
    pytest.param(
        {"binderhub": {"hosts": ["a.org"], "paths": [{"path": 1}]}},
        f"{K}.binderhub.paths[0].path",
        "must be a string",
        id="path-int",
    ),
    pytest.param(
        {"binderhub": {"hosts": ["a.org"], "paths": [{"path": "/x", "service": {"name": "x", "port": -1}}]}},
        f"{K}.binderhub.paths[0].service.port",
        "between 1 and 65535",
        id="path-service-port",
    ),
    pytest.param(
        {"static": {"hosts": ["s.org"], "paths": [{"path": "/"}]}},
        f"{K}.static.paths[0].path",
        "must not be '/'",
        id="static-root",
    ),
    pytest.param(
        {"static": {"hosts": ["s.org"], "paths": [{"path": "/badge.svg", "path_type": "Prefix"}]}},
        f"{K}.static.paths[0].path_type",
        "must be Exact",
        id="static-prefix",
    ),
    # collisions across the member
    pytest.param(
        {"binderhub": {"hosts": ["a.org"]}, "my-app": {"hosts": ["a.org"], "service": OK_SERVICE}},
        f"{K}.my-app.hosts[0]",
        "served twice: by component binderhub (binder_ingresses_components.binderhub.hosts[0]) and by component my-app",
        id="host-path-twice",
    ),
    pytest.param(
        {"binderhub": {"hosts": ["a.org", "a.org"]}},
        f"{K}.binderhub.hosts[1]",
        "served twice",
        id="host-listed-twice",
    ),
    pytest.param(
        {"binderhub": {"hosts": ["a.org"], "paths": [{"path": "/x"}, {"path": "/x"}]}},
        f"{K}.binderhub.paths[1].path",
        "served twice",
        id="path-listed-twice",
    ),
    pytest.param(
        {"static": {"hosts": ["s.org"]}, "binderhub": {"hosts": ["s.org"]}},
        f"{K}.static.hosts[0]",
        "also routed by component binderhub",
        id="static-shared",
    ),
    pytest.param(
        {
            "binderhub": {"hosts": ["a.org"]},
            "my-app": {"hosts": ["b.org"], "service": OK_SERVICE, "name": "binderhub"},
        },
        f"{K}.my-app.name",
        "Ingress name 'binderhub' is already used by component binderhub",
        id="ingress-name-twice",
    ),
    pytest.param(
        {
            "binderhub": {"hosts": ["a.org"]},
            "jupyterhub": {"hosts": ["b.org"], "tls_secret": "tls-binderhub"},
        },
        f"{K}.jupyterhub.tls_secret",
        "one Certificate per Secret",
        id="secret-twice",
    ),
    pytest.param(
        {"binderhub": {"hosts": ["a.org"]}, **redirects(host("host", "a.org", "b.org"))},
        f"{K}.redirector.redirects[0].from",
        "also served by component binderhub",
        id="redirect-from-served",
    ),
    # redirects
    pytest.param(
        redirects({"from": "a.org", "to": "b.org"}),
        f"{K}.redirector.redirects[0]",
        "missing key 'type'",
        id="redirect-no-type",
    ),
    pytest.param(
        redirects(host("path", "a.org", "b.org")),
        f"{K}.redirector.redirects[0].type",
        "not one of host, url",
        id="redirect-type",
    ),
    pytest.param(
        redirects({"type": "host", "to": "b.org"}),
        f"{K}.redirector.redirects[0]",
        "missing key 'from'",
        id="redirect-no-from",
    ),
    pytest.param(
        redirects({"type": "host", "from": "a.org"}),
        f"{K}.redirector.redirects[0]",
        "missing key 'to'",
        id="redirect-no-to",
    ),
    pytest.param(
        redirects(host("host", "a.org", "b.org", status=301)),
        f"{K}.redirector.redirects[0].status",
        "unknown key",
        id="redirect-unknown-key",
    ),
    pytest.param(
        redirects(host("host", "https://a.org", "b.org")),
        f"{K}.redirector.redirects[0].from",
        "scheme",
        id="redirect-from-url",
    ),
    pytest.param(
        redirects(host("host", "*.a.org", "b.org")),
        f"{K}.redirector.redirects[0].from",
        "wildcard",
        id="redirect-from-wildcard",
    ),
    pytest.param(
        redirects(host("host", "a.org", "https://b.org")),
        f"{K}.redirector.redirects[0].to",
        "scheme",
        id="redirect-to-scheme",
    ),
    pytest.param(
        redirects(host("host", "a.org", "b.org/x")),
        f"{K}.redirector.redirects[0].to",
        "use type url",
        id="redirect-host-with-path",
    ),
    pytest.param(
        redirects(host("url", "a.org", "https://b.org/x")),
        f"{K}.redirector.redirects[0].to",
        "scheme",
        id="redirect-url-scheme",
    ),
    pytest.param(
        redirects(host("url", "a.org", "B.org/x")),
        f"{K}.redirector.redirects[0].to",
        "uppercase",
        id="redirect-url-host",
    ),
    pytest.param(
        redirects(host("url", "a.org", "b.org/a b")),
        f"{K}.redirector.redirects[0].to",
        "whitespace",
        id="redirect-url-space",
    ),
    pytest.param(
        redirects(host("url", "a.org", "b.org/100%")),
        f"{K}.redirector.redirects[0].to",
        "percent-escape",
        id="redirect-url-percent",
    ),
    pytest.param(
        redirects(host("host", "a.org", "b.org", code=307)),
        f"{K}.redirector.redirects[0].code",
        "cannot be produced",
        id="redirect-307",
    ),
    pytest.param(
        redirects(host("host", "a.org", "b.org", code=308)),
        f"{K}.redirector.redirects[0].code",
        "use 301 or 302",
        id="redirect-308",
    ),
    pytest.param(
        redirects(host("host", "a.org", "b.org", code="301")),
        f"{K}.redirector.redirects[0].code",
        "must be an integer",
        id="redirect-code-str",
    ),
    pytest.param(
        redirects(host("host", "a.org", "b.org", code=True)),
        f"{K}.redirector.redirects[0].code",
        "must be an integer",
        id="redirect-code-bool",
    ),
    pytest.param(
        redirects(host("host", "a.org", "a.org")),
        f"{K}.redirector.redirects[0].to",
        "to itself",
        id="redirect-self",
    ),
    pytest.param(
        redirects(host("url", "a.org", "a.org/x")),
        f"{K}.redirector.redirects[0].to",
        "to itself",
        id="redirect-self-url",
    ),
    pytest.param(
        redirects(host("host", "a.org", "b.org"), host("host", "b.org", "a.org")),
        f"{K}.redirector.redirects[0].to",
        "redirect loop: a.org -> b.org -> a.org",
        id="redirect-loop-2",
    ),
    pytest.param(
        redirects(
            host("host", "x.org", "y.org"),
            host("host", "b.org", "c.org"),
            host("url", "c.org", "a.org/p"),
            host("host", "a.org", "b.org"),
        ),
        f"{K}.redirector.redirects[1].to",
        "redirect loop: b.org -> c.org -> a.org -> b.org",
        id="redirect-loop-3",
    ),
    pytest.param(
        redirects(host("host", "a.org", "b.org"), host("host", "a.org", "c.org")),
        f"{K}.redirector.redirects[1].from",
        "already redirected by binder_ingresses_components.redirector.redirects[0]",
        id="redirect-from-twice",
    ),
    pytest.param(
        redirects(host("host", "a.org", "b.org", tls_secret="Bad")),
        f"{K}.redirector.redirects[0].tls_secret",
        "Secret name",
        id="redirect-secret",
    ),
    pytest.param(
        redirects(
            host("host", "a.org", "b.org", tls_secret="s"), host("host", "c.org", "b.org", tls_secret="s")
        ),
        f"{K}.redirector.redirects[1].tls_secret",
        "one Certificate per Secret",
        id="redirect-secret-twice",
    ),
]


@pytest.mark.parametrize(("components", "key", "words"), INVALID)
def test_invalid(components: Any, key: str, words: str) -> None:
    found = issues(components)
    matching = [i for i in found if i.key == key and words in i.message]
    assert matching, f"no issue at {key} with {words!r} in {[str(i) for i in found]}"
    assert all(i.member == MEMBER for i in found)
    assert str(matching[0]).startswith(f"member {MEMBER}: {key}: ")


def test_at_least_25_invalid_inputs() -> None:
    assert len(INVALID) >= 25


@pytest.mark.parametrize(
    ("kwargs", "key", "words"),
    [
        pytest.param({"namespace": "Prod"}, "binder_ingresses_namespace", "namespace", id="namespace"),
        pytest.param(
            {"namespace": "n" * 64}, "binder_ingresses_namespace", "longer than 63", id="namespace-long"
        ),
        pytest.param(
            {"ingress_class": "Traefik"}, "binder_ingresses_ingress_class", "IngressClass", id="class"
        ),
        pytest.param(
            {"namespace": "1ns"}, "binder_ingresses_namespace", "DNS-1035", id="release-from-namespace"
        ),
        pytest.param({"member": "m" * 64}, "inventory_hostname", "longer than 63", id="member-long"),
        pytest.param({"member": "bad member"}, "inventory_hostname", "label value", id="member-space"),
        pytest.param({"member": ""}, "inventory_hostname", "must not be empty", id="member-empty"),
    ],
)
def test_invalid_member_settings(kwargs: dict[str, Any], key: str, words: str) -> None:
    found = issues({"grafana": {"hosts": ["a.org"]}}, **kwargs)
    assert any(i.key == key and words in i.message for i in found), [str(i) for i in found]


def test_all_issues_reported_together_in_order() -> None:
    found = issues(
        {
            "static": {"hosts": ["Static.example", "s.org"], "bogus": 1},
            "binderhub": {"hosts": ["s.org"], "tls_secret": "Bad"},
            "my-app": {"hosts": ["a.org"]},
            "redirector": {
                "redirects": [host("host", "r.org", "r.org"), host("host", "q.org", "p.org", code=307)]
            },
        }
    )
    assert [(i.key, i.message.split(":")[0]) for i in found] == [
        (f"{K}.binderhub.tls_secret", "'Bad' is not a valid Secret name (DNS-1123 subdomain)"),
        (f"{K}.my-app", "missing key 'service' ({name, port})"),
        (f"{K}.redirector.redirects[0].to", "'r.org' redirects 'r.org' to itself"),
        (f"{K}.redirector.redirects[1].code", "307 cannot be produced"),
        (f"{K}.static.bogus", "unknown key (allowed here"),
        (f"{K}.static.hosts[0]", "'Static.example' is not a valid DNS-1123 host name"),
        (
            f"{K}.static.hosts[1]",
            "the badge-only static host 's.org' is also routed by component binderhub (binder_ingresses_components.binderhub.hosts[0])",
        ),
    ]
    # The same input gives the same issues in the same order.
    again = issues(
        {
            "redirector": {
                "redirects": [host("host", "r.org", "r.org"), host("host", "q.org", "p.org", code=307)]
            },
            "my-app": {"hosts": ["a.org"]},
            "binderhub": {"hosts": ["s.org"], "tls_secret": "Bad"},
            "static": {"hosts": ["Static.example", "s.org"], "bogus": 1},
        }
    )
    assert again == found


def test_disabled_component_checks_only_its_keys() -> None:
    # A disabled component needs none of its required keys, but a typo in it is still caught.
    build_member(MEMBER, {"grafana": {"enabled": False}}, namespace=NS)
    found = issues({"grafana": {"enabled": False, "hots": ["a.org"]}})
    assert [i.key for i in found] == [f"{K}.grafana.hots"]


def test_non_string_component_name() -> None:
    found = issues({1: {"hosts": ["a.org"]}})
    assert found[0].key == K
    assert "component names must be strings" in found[0].message


def test_redirects_are_validated_together() -> None:
    with pytest.raises(MemberError) as caught:
        build_member(
            MEMBER,
            {
                "redirector": {
                    "redirects": [host("host", "a.org", "b.org"), host("host", "b.org", "a.org", code=303)]
                }
            },
            namespace="ns",
        )
    assert [str(i) for i in caught.value.issues] == [
        f"member {MEMBER}: {K}.redirector.redirects[1].code: 303 cannot be produced: traefik's redirectRegex answers"
        " GET with 301 (permanent) or 302, and other methods with 308 or 307 by itself; use 301 or 302",
        f"member {MEMBER}: {K}.redirector.redirects[0].to: redirect loop: a.org -> b.org -> a.org"
        f" (entries {K}.redirector.redirects[0], {K}.redirector.redirects[1])",
    ]


@pytest.mark.parametrize(
    ("check", "value", "valid"),
    [
        (_names.host_name, "mybinder.org", True),
        (_names.host_name, "*.mybinder.org", True),
        (_names.host_name, "localhost", True),
        (_names.host_name, "a" * 63 + ".org", True),
        (_names.host_name, "1.2.3.4", False),
        (_names.host_name, "a.b.c.d.e.f.1", True),
        (_names.dns1123_label, "a" * 63, True),
        (_names.dns1123_label, "a" * 64, False),
        (_names.dns1123_label, "a.b", False),
        (_names.dns1035_label, "proxy-public", True),
        (_names.dns1035_label, "0proxy", False),
        (_names.dns1123_subdomain, "kubelego-tls-binder", True),
        (_names.dns1123_subdomain, "a." * 126 + "a", True),
        (_names.dns1123_subdomain, "a." * 126 + "ab", False),
        (_names.port_name, "http", True),
        (_names.port_name, "h2c-web", True),
        (_names.port_name, "a" * 15, True),
        (_names.port_name, "a" * 16, False),
        (_names.port_name, "1234-5", False),
        (_names.port_name, "web-", False),
        (_names.label_value, "", True),
        (_names.label_value, "hetzner-gesis", True),
        (_names.label_value, "a_b.C", True),
        (_names.label_value, "a b", False),
        (_names.qualified_name, "example.org/team", True),
        (_names.qualified_name, "/team", False),
        (_names.qualified_name, "Example.org/team", False),
        (_names.middleware_ref, "default@file", True),
        (_names.middleware_ref, "prod-auth@kubernetescrd", True),
        (_names.middleware_ref, "default", False),
        (_names.middleware_ref, "a,b@file", False),
        (_names.email, "ops@example.org", True),
        (_names.email, "a@b", False),
        (_names.email, "two@@example.org", False),
        (_names.duration, "600s", True),
        (_names.duration, "1h30m", True),
        (_names.duration, "ten minutes", False),
        (_names.quantity, "100m", True),
        (_names.quantity, "4Gi", True),
        (_names.quantity, "lots", False),
        (_names.cidr, "10.0.0.0/8", True),
        (_names.cidr, "2001:db8::/32", True),
        (_names.cidr, "10.0.0.0", False),
        (_names.cidr, "everyone/8", False),
    ],
)
def test_name_rules(check: Any, value: str, valid: bool) -> None:
    assert (check(value) is None) is valid


def test_redirector_secret_base_reported_once() -> None:
    found = issues(
        {
            "redirector": {
                "tls_secret": "Bad",
                "redirects": [host("host", "a.org", "b.org"), host("host", "c.org", "b.org")],
            }
        }
    )
    assert [i.key for i in found] == [f"{K}.redirector.tls_secret"]


def test_a_misspelt_builtin_gets_one_did_you_mean_instead_of_missing_service() -> None:
    found = issues({"binderhb": {"hosts": ["a.org"]}})
    assert [str(i) for i in found] == [
        f"member {MEMBER}: {K}.binderhb: 'binderhb' is not a built-in component: did you mean 'binderhub'?"
        " (as a generic component it would have to give 'service')"
    ]


def test_a_generic_component_close_to_a_builtin_name_is_fine_with_a_service() -> None:
    state = build_member(MEMBER, {"binderhb": {"hosts": ["a.org"], "service": OK_SERVICE}}, namespace=NS)
    assert [r.component for r in state.routes] == ["binderhb"]


def test_a_component_may_name_the_members_own_redirect_middleware() -> None:
    state = build_member(
        MEMBER,
        {
            "binderhub": {"hosts": ["a.org"], "middlewares": ["redirect-b-org@file", "default@file"]},
            "redirector": {"redirects": [host("host", "b.org", "a.org")]},
        },
        namespace=NS,
    )
    assert state.routes[0].middlewares == ("redirect-b-org@file", "default@file")
