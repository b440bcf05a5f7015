"""Unit tests of module_utils.chart_values: chart values, ClusterIssuers and the entrypoint Service."""

from __future__ import annotations

import base64
from typing import Any

import kubernetes_validate
import pytest
import trustme
from ansible_collections.binder.ingress.plugins.module_utils import _names
from ansible_collections.binder.ingress.plugins.module_utils.chart_values import (
    ACME_SERVERS,
    BUFFERING_MIDDLEWARES,
    cert_manager_values,
    cluster_issuers,
    deep_merge,
    entrypoint_service,
    traefik_values,
)
from ansible_collections.binder.ingress.plugins.module_utils.constants import (
    LABEL_MANAGED_BY,
    LABEL_SET,
    MANAGED_BY,
    MIDDLEWARE_DEFAULT,
    MIDDLEWARE_HARBOR,
    MIDDLEWARE_HUB,
    SET_CLUSTER_ISSUERS,
)
from ansible_collections.binder.ingress.plugins.module_utils.model import (
    ANNOTATION_MIDDLEWARES,
    TRAEFIK_MIDDLEWARES,
    MemberError,
    build_member,
    redirect_middleware_name,
)

# The traefik chart 41.x keys this collection sets, by path, written from the chart's
# documented values (not generated): a renamed or misplaced key fails the install,
# so a typo here must fail a test, not a deploy.
TRAEFIK_KEYS: dict[str, set[str]] = {
    "": {
        "deployment",
        "ingressClass",
        "providers",
        "service",
        "api",
        "ingressRoute",
        "ports",
        "log",
        "accessLog",
        "metrics",
        "resources",
    },
    "deployment": {"replicas", "tmpVolume", "goMemLimitPercentage"},
    "deployment.tmpVolume": {"emptyDir"},
    "deployment.tmpVolume.emptyDir": {"medium", "sizeLimit"},
    "ingressClass": {"enabled", "isDefaultClass", "name"},
    "providers": {"kubernetesIngress", "kubernetesCRD", "kubernetesGateway", "file"},
    "providers.kubernetesIngress": {"enabled", "allowEmptyServices", "publishedService"},
    "providers.kubernetesIngress.publishedService": {"enabled", "pathOverride"},
    "providers.kubernetesCRD": {"enabled"},
    "providers.kubernetesGateway": {"enabled"},
    "providers.file": {"enabled", "watch", "content"},
    "service": {"enabled"},
    "api": {"dashboard"},
    "ingressRoute": {"dashboard"},
    "ingressRoute.dashboard": {"enabled"},
    "ports": {"web", "websecure"},
    "ports.web": {"port", "allowACMEByPass", "http"},
    "ports.web.http": {"redirections"},
    "ports.web.http.redirections": {"entryPoint"},
    "ports.web.http.redirections.entryPoint": {"to", "scheme", "permanent"},
    "ports.websecure": {"port", "transport", "http"},
    "ports.websecure.http": {"middlewares"},
    "ports.websecure.transport": {"respondingTimeouts"},
    "ports.websecure.transport.respondingTimeouts": {"readTimeout", "idleTimeout"},
    "log": {"level"},
    "accessLog": {"enabled", "fields"},
    "accessLog.fields": {"headers", "queryParameters"},
    "accessLog.fields.queryParameters": {"defaultMode"},
    "accessLog.fields.headers": {"defaultMode", "names"},
    "metrics": {"prometheus"},
    "metrics.prometheus": {"entryPoint", "addEntryPointsLabels", "addServicesLabels"},
}

REDIRECT = {
    "redirect-beta-example-org": {
        "redirectRegex": {
            "regex": "^https?://beta\\.example\\.org/(.*)",
            "replacement": "https://example.org/${1}",
        }
    }
}


def _check_keys(values: dict[str, Any], allowed: dict[str, set[str]], path: str = "") -> list[str]:
    problems = [f"{path or '<top>'}.{key}" for key in values if key not in allowed.get(path, set())]
    for key, value in values.items():
        child = f"{path}.{key}" if path else key
        if isinstance(value, dict) and child in allowed:
            problems += _check_keys(value, allowed, child)
    return problems


def _traefik(**kwargs: Any) -> dict[str, Any]:
    settings: dict[str, Any] = {"member": "m1", "namespace": "binder"}
    settings.update(kwargs)
    return traefik_values(**settings)


def test_traefik_values_only_use_known_chart_keys() -> None:
    values = _traefik(redirect_middlewares=REDIRECT, resources={"limits": {"memory": "4Gi"}})
    assert _check_keys(values, TRAEFIK_KEYS) == []


def test_traefik_values_carry_the_seed_settings() -> None:
    values = _traefik(redirect_middlewares=REDIRECT)
    assert values["deployment"]["replicas"] == 2
    assert values["ingressClass"] == {"enabled": True, "isDefaultClass": True, "name": "traefik"}
    ingress = values["providers"]["kubernetesIngress"]
    assert ingress["enabled"] is True
    assert ingress["allowEmptyServices"] is True
    assert ingress["publishedService"] == {"enabled": True, "pathOverride": "binder/cluster-entrypoint"}
    assert values["providers"]["kubernetesCRD"] == {"enabled": False}
    assert values["service"] == {"enabled": False}
    assert values["ingressRoute"]["dashboard"]["enabled"] is False
    web = values["ports"]["web"]
    assert web["port"] == 80
    assert web["allowACMEByPass"] is True
    assert web["http"]["redirections"]["entryPoint"] == {
        "to": "websecure",
        "scheme": "https",
        "permanent": True,
    }
    websecure = values["ports"]["websecure"]
    assert websecure["port"] == 443
    assert websecure["transport"]["respondingTimeouts"] == {"readTimeout": "180s", "idleTimeout": "180s"}
    assert values["accessLog"]["enabled"] is True
    assert values["accessLog"]["fields"]["headers"] == {
        "defaultMode": "drop",
        "names": {
            "User-Agent": "keep",
            "Authorization": "drop",
            "Proxy-Authorization": "drop",
            "Cookie": "drop",
            "Set-Cookie": "drop",
            "Referer": "drop",
        },
    }
    # Jupyter server tokens travel as ?token=.
    assert values["accessLog"]["fields"]["queryParameters"] == {"defaultMode": "drop"}
    assert "prometheus" in values["metrics"]


def test_traefik_file_provider_has_buffering_and_redirect_middlewares() -> None:
    values = _traefik(redirect_middlewares=REDIRECT)
    file_provider = values["providers"]["file"]
    assert file_provider["enabled"] is True
    # Chart 41 takes the file content as an object, not a string.
    middlewares = file_provider["content"]["http"]["middlewares"]
    # Harbor's bodies are streamed: no buffering middleware spools them to traefik's disk.
    assert middlewares[MIDDLEWARE_HARBOR] == {"chain": {"middlewares": []}}
    assert middlewares[MIDDLEWARE_HUB] == {"buffering": {"maxRequestBodyBytes": 64000000}}
    assert middlewares[MIDDLEWARE_DEFAULT] == {"buffering": {"maxRequestBodyBytes": 1000000}}
    assert middlewares["redirect-beta-example-org"] == REDIRECT["redirect-beta-example-org"]


# About 55 characters and more: valid for the catalogue, too long for `redirect-<host, dashed>`
# as a DNS-1123 label (63). The model used to pass it and traefik_values refused its middleware.
LONG_HOSTS = [
    "binder-staging-redirect-for-the-old-name.long.example.org",
    "binder-staging-redirect-for-the-old-name.long.example.net",
    "a-" + "b" * 60 + "." + "c" * 62 + "." + "d" * 62 + "." + "e" * 60,
]


def test_long_redirect_hosts_get_middlewares_traefik_takes() -> None:
    catalogue = {
        "redirector": {
            "redirects": [{"type": "host", "from": host, "to": "example.org"} for host in LONG_HOSTS]
        }
    }
    state = build_member("m1", catalogue, namespace="binder")
    names = list(state.redirect_middlewares)
    assert len(set(names)) == len(LONG_HOSTS)
    for name in names:
        assert _names.dns1123_label(name) is None, name
    # The two hosts that share their first 45 characters still get different names.
    assert names[0][:54] == names[1][:54]
    # Each redirect Ingress names its own middleware, as traefik will define it.
    by_host = {m["spec"]["rules"][0]["host"]: m for m in state.ingresses}
    for host in LONG_HOSTS:
        annotation = by_host[host]["metadata"]["annotations"][ANNOTATION_MIDDLEWARES]
        assert annotation == f"{redirect_middleware_name(host)}@file"
        kubernetes_validate.validate(by_host[host], "1.33", strict=True)
    values = _traefik(redirect_middlewares=state.redirect_middlewares)
    defined = values["providers"]["file"]["content"]["http"]["middlewares"]
    assert {name: defined[name] for name in names} == state.redirect_middlewares


def test_the_buffering_middlewares_are_the_ones_the_model_lets_ingresses_name() -> None:
    assert list(BUFFERING_MIDDLEWARES) == list(TRAEFIK_MIDDLEWARES)


@pytest.mark.parametrize(
    ("build", "kwargs", "keys", "key"),
    [
        (traefik_values, {"namespace": "Bad_NS"}, {"namespace": "binder_namespace"}, "binder_namespace"),
        (entrypoint_service, {"namespace": "Bad_NS"}, {"namespace": "binder_namespace"}, "binder_namespace"),
        (
            entrypoint_service,
            {"namespace": "binder", "release": "Edge"},
            {"release": "binder_traefik_release"},
            "binder_traefik_release",
        ),
        (cert_manager_values, {"default_issuer": "LE"}, {"default_issuer": "issuer"}, "issuer"),
        (cluster_issuers, {"email": "ops"}, {"email": "binder_acme_email"}, "binder_acme_email"),
        (traefik_values, {"member": "", "namespace": "binder"}, {}, "inventory_hostname"),
    ],
)
def test_errors_name_the_key_the_user_wrote(
    build: Any, kwargs: dict[str, Any], keys: dict[str, str], key: str
) -> None:
    arguments = {"member": "m1", **kwargs}
    with pytest.raises(MemberError) as caught:
        build(**arguments, keys=keys)
    (issue,) = caught.value.issues
    assert issue.member == arguments["member"]
    assert issue.key == key


def test_traefik_values_do_not_alias_the_input() -> None:
    redirects = {"r": {"redirectRegex": {"regex": "a", "replacement": "b"}}}
    values = _traefik(redirect_middlewares=redirects)
    values["providers"]["file"]["content"]["http"]["middlewares"]["r"]["redirectRegex"]["regex"] = "changed"
    assert redirects["r"]["redirectRegex"]["regex"] == "a"


def test_traefik_overrides_are_merged_last() -> None:
    values = _traefik(
        overrides={"deployment": {"replicas": 5, "kind": "DaemonSet"}, "log": {"format": "json"}}
    )
    assert values["deployment"] == {
        "replicas": 5,
        "kind": "DaemonSet",
        "tmpVolume": {"emptyDir": {"medium": "Memory", "sizeLimit": "1Gi"}},
    }
    assert values["log"] == {"level": "INFO", "format": "json"}


@pytest.mark.parametrize(
    ("kwargs", "key"),
    [
        ({"namespace": "Not_A_Namespace"}, "traefik_namespace"),
        ({"namespace": ""}, "traefik_namespace"),
        ({"replicas": 0}, "traefik_replicas"),
        ({"replicas": True}, "traefik_replicas"),
        ({"log_level": "LOUD"}, "traefik_log_level"),
        ({"responding_timeout": "ten minutes"}, "traefik_responding_timeout"),
        ({"resources": {"requests": {"cpu": "lots"}}}, "traefik_resources.requests.cpu"),
        ({"resources": {"wants": {}}}, "traefik_resources.wants"),
        (
            {"redirect_middlewares": {MIDDLEWARE_HUB: {"redirectRegex": {}}}},
            "traefik_redirect_middlewares.hub",
        ),
        ({"redirect_middlewares": {"r": {"buffering": {}}}}, "traefik_redirect_middlewares.r"),
        (
            {"redirect_middlewares": {"Redirect_A": {"redirectRegex": {}}}},
            "traefik_redirect_middlewares.Redirect_A",
        ),
        ({"redirect_middlewares": ["redirect-a"]}, "traefik_redirect_middlewares"),
        ({"overrides": ["not", "a", "mapping"]}, "traefik_values_overrides"),
        ({"ingress_class": "Traefik!"}, "traefik_ingress_class"),
        ({"http_redirect": "no"}, "traefik_http_redirect"),
        ({"harbor_max_body_bytes": -1}, "traefik_harbor_max_body_bytes"),
        ({"harbor_max_body_bytes": "10G"}, "traefik_harbor_max_body_bytes"),
        ({"tmp_size_limit": "lots"}, "traefik_tmp_size_limit"),
        ({"ephemeral_storage_limit": 2}, "traefik_ephemeral_storage_limit"),
        (
            {"resources": {"limits": {"ephemeral-storage": "5Gi"}}},
            "traefik_resources.limits.ephemeral-storage",
        ),
        ({"access_log_headers": ["User-Agent", "authorization"]}, "traefik_access_log_headers[1]"),
        ({"access_log_headers": ["Cookie"]}, "traefik_access_log_headers[0]"),
        ({"access_log_headers": ["referer"]}, "traefik_access_log_headers[0]"),
        ({"access_log_headers": ["X Forwarded"]}, "traefik_access_log_headers[0]"),
        ({"access_log_headers": "User-Agent"}, "traefik_access_log_headers"),
        ({"access_log_query": "redact"}, "traefik_access_log_query"),
        ({"hsts_max_age": 86400}, "traefik_hsts_max_age"),
        ({"hsts_max_age": -1}, "traefik_hsts_max_age"),
        ({"hsts_max_age": "31536000"}, "traefik_hsts_max_age"),
        ({"hsts_include_subdomains": "yes"}, "traefik_hsts_include_subdomains"),
        (
            {"redirect_middlewares": {"hsts": {"redirectRegex": {}}}},
            "traefik_redirect_middlewares.hsts",
        ),
        ({"tls_min_version": "1.1"}, "traefik_tls_min_version"),
        ({"tls_min_version": "VersionTLS10"}, "traefik_tls_min_version"),
        ({"tls_cipher_suites": []}, "traefik_tls_cipher_suites"),
        ({"tls_cipher_suites": "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"}, "traefik_tls_cipher_suites"),
        ({"tls_cipher_suites": ["ECDHE-RSA-AES128-GCM-SHA256"]}, "traefik_tls_cipher_suites[0]"),
    ],
)
def test_traefik_values_reject_bad_input_naming_member_and_key(kwargs: dict[str, Any], key: str) -> None:
    with pytest.raises(MemberError) as caught:
        _traefik(**kwargs)
    assert any(str(issue).startswith(f"member m1: {key}:") for issue in caught.value.issues), (
        caught.value.issues
    )


def test_every_router_gets_tls_1_2_and_mozilla_intermediate_ciphers_by_default() -> None:
    content = _traefik()["providers"]["file"]["content"]
    # `default` is the TLS option of every router that names none (the member's never do).
    assert content["tls"]["options"] == {
        "default": {
            "minVersion": "VersionTLS12",
            "cipherSuites": [
                "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
                "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
                "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
                "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
                "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305",
                "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305",
            ],
        }
    }


def test_every_https_answer_gets_hsts_for_a_year_without_subdomains_by_default() -> None:
    values = _traefik()
    middlewares = values["providers"]["file"]["content"]["http"]["middlewares"]
    assert middlewares["hsts"] == {"headers": {"stsSeconds": 31536000, "stsIncludeSubdomains": False}}
    # On the websecure entry point: every router there, whatever middlewares its Ingress names.
    assert values["ports"]["websecure"]["http"] == {"middlewares": ["client-limit@file", "hsts@file"]}


def test_hsts_is_configurable_and_can_be_turned_off() -> None:
    values = _traefik(hsts_max_age=63072000, hsts_include_subdomains=True)
    headers = values["providers"]["file"]["content"]["http"]["middlewares"]["hsts"]["headers"]
    assert headers == {"stsSeconds": 63072000, "stsIncludeSubdomains": True}
    off = _traefik(hsts_max_age=0)
    assert "hsts" not in off["providers"]["file"]["content"]["http"]["middlewares"]
    assert off["ports"]["websecure"]["http"] == {"middlewares": ["client-limit@file"]}


def test_the_logged_headers_and_query_are_configurable() -> None:
    fields = _traefik(access_log_headers=["User-Agent", "X-Forwarded-For"], access_log_query="keep")[
        "accessLog"
    ]["fields"]
    assert {k for k, v in fields["headers"]["names"].items() if v == "keep"} == {
        "User-Agent",
        "X-Forwarded-For",
    }
    assert fields["queryParameters"] == {"defaultMode": "keep"}
    none = _traefik(access_log_headers=[])["accessLog"]["fields"]["headers"]["names"]
    assert set(none.values()) == {"drop"}


def test_harbor_bodies_can_be_capped_instead_of_streamed() -> None:
    middlewares = _traefik(harbor_max_body_bytes=500_000_000)["providers"]["file"]["content"]["http"][
        "middlewares"
    ]
    assert middlewares[MIDDLEWARE_HARBOR] == {"buffering": {"maxRequestBodyBytes": 500_000_000}}


def test_traefiks_spool_is_a_tmpfs_capped_at_its_size_limit() -> None:
    # Memory, not disk: the kernel refuses a write past the cap (that request fails), where a disk
    # emptyDir would fill the node (traefik unlinks its spool files, so the kubelet never sees them).
    values = _traefik(resources={"limits": {"memory": "4Gi"}})
    assert values["deployment"]["tmpVolume"] == {"emptyDir": {"medium": "Memory", "sizeLimit": "1Gi"}}
    assert values["resources"] == {"limits": {"memory": "4Gi", "ephemeral-storage": "2Gi"}}
    sized = _traefik(
        tmp_size_limit="4Gi", ephemeral_storage_limit="8Gi", resources={"limits": {"memory": "6Gi"}}
    )
    assert sized["deployment"]["tmpVolume"]["emptyDir"] == {"medium": "Memory", "sizeLimit": "4Gi"}
    assert sized["resources"]["limits"]["ephemeral-storage"] == "8Gi"


@pytest.mark.parametrize(
    ("memory", "tmp", "share"),
    [
        # 90% of what the spool leaves, as a share of the whole limit (the chart multiplies it back).
        ("4Gi", "1Gi", 0.67),
        ("6Gi", "4Gi", 0.3),
        ("2048Mi", "1536Mi", 0.22),
        ("4G", "1Gi", 0.65),
    ],
)
def test_gos_memory_limit_leaves_room_for_the_spool(memory: str, tmp: str, share: float) -> None:
    values = _traefik(resources={"limits": {"memory": memory}}, tmp_size_limit=tmp)
    assert values["deployment"]["goMemLimitPercentage"] == share


def test_without_a_memory_limit_gos_limit_is_the_charts() -> None:
    assert "goMemLimitPercentage" not in _traefik(resources={"requests": {"memory": "512Mi"}})["deployment"]


@pytest.mark.parametrize(
    ("kwargs", "key", "words"),
    [
        # One hub body (64 MB) must fit, or no notebook of that size could ever be saved.
        ({"tmp_size_limit": "60Mi"}, "traefik_tmp_size_limit", "64000000-byte body would not fit"),
        (
            {"harbor_max_body_bytes": 2_000_000_000},
            "traefik_harbor_max_body_bytes",
            "2000000000-byte body would not fit",
        ),
        # The spool is memory: the container's limit must hold it and traefik.
        ({"resources": {"limits": {"memory": "1Gi"}}}, "traefik_resources.limits.memory", "plus 256Mi"),
        (
            {"resources": {"limits": {"memory": "3Gi"}}, "tmp_size_limit": "2900Mi"},
            "traefik_resources.limits.memory",
            "must be at least traefik_tmp_size_limit (2900Mi)",
        ),
        ({"client_max_requests": 0}, "traefik_client_max_requests", "at least 1"),
        ({"client_max_requests": "many"}, "traefik_client_max_requests", "at least 1"),
        ({"client_max_requests": True}, "traefik_client_max_requests", "at least 1"),
    ],
)
def test_limits_that_do_not_fit_the_spool_are_refused(kwargs: dict[str, Any], key: str, words: str) -> None:
    with pytest.raises(MemberError) as caught:
        _traefik(**kwargs)
    assert f"member m1: {key}: " in str(caught.value)
    assert words in str(caught.value)


def test_the_mapped_variable_is_named_for_the_spool_relation() -> None:
    with pytest.raises(
        MemberError, match=r"member m1: binder_tmp: a 64000000-byte body would not fit .* \(binder_tmp\)"
    ):
        _traefik(tmp_size_limit="10Mi", keys={"tmp_size_limit": "binder_tmp"})


def test_every_client_address_gets_a_share_of_the_requests_in_flight() -> None:
    values = _traefik(client_max_requests=40)
    middlewares = values["providers"]["file"]["content"]["http"]["middlewares"]
    # By the connection's source address (IPv6 by /64), never by a header a client could set.
    assert middlewares["client-limit"] == {
        "inFlightReq": {"amount": 40, "sourceCriterion": {"ipStrategy": {"ipv6Subnet": 64}}}
    }
    # First on the websecure entry point: a client over its share is refused before anything else.
    assert values["ports"]["websecure"]["http"]["middlewares"][0] == "client-limit@file"
    assert "middlewares" not in values["ports"]["web"].get("http", {})
    assert (
        _traefik()["providers"]["file"]["content"]["http"]["middlewares"]["client-limit"]["inFlightReq"][
            "amount"
        ]
        == 500
    )


def test_no_redirect_middleware_may_take_the_client_limits_name() -> None:
    with pytest.raises(MemberError, match=r"traefik_redirect_middlewares\.client-limit: .* defines itself"):
        _traefik(redirect_middlewares={"client-limit": REDIRECT["redirect-beta-example-org"]})


def test_the_http_redirect_can_be_turned_off() -> None:
    assert _traefik(http_redirect=False)["ports"]["web"] == {"port": 80}


def test_the_tls_settings_are_configurable() -> None:
    suites = ["TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384"]
    options = _traefik(tls_min_version="1.3", tls_cipher_suites=suites)["providers"]["file"]["content"]["tls"]
    assert options["options"]["default"] == {"minVersion": "VersionTLS13", "cipherSuites": suites}


def test_a_misspelt_cipher_suite_gets_a_suggestion() -> None:
    with pytest.raises(MemberError) as caught:
        _traefik(tls_cipher_suites=["TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA265"])
    assert [str(i) for i in caught.value.issues] == [
        "member m1: traefik_tls_cipher_suites[0]: 'TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA265' is not a TLS 1.2"
        " cipher suite traefik knows; did you mean 'TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256'?"
    ]


def test_traefik_values_report_every_problem_at_once() -> None:
    with pytest.raises(MemberError) as caught:
        _traefik(namespace="BAD", replicas=0, log_level="x")
    assert len(caught.value.issues) == 3


@pytest.mark.parametrize("member", ["", "has space", "x" * 64, None])
def test_bad_member_name_is_refused(member: Any) -> None:
    with pytest.raises(MemberError, match="inventory_hostname"):
        traefik_values(member=member, namespace="binder")


def test_cert_manager_values() -> None:
    resources = {"requests": {"cpu": "15m", "memory": "48Mi"}, "limits": {"cpu": "45m", "memory": "144Mi"}}
    values = cert_manager_values(
        member="m1",
        controller_resources=resources,
        webhook_resources=resources,
        cainjector_resources=resources,
    )
    assert values == {
        "crds": {"enabled": True, "keep": True},
        "ingressShim": {"defaultIssuerName": "letsencrypt-prod", "defaultIssuerKind": "ClusterIssuer"},
        "resources": resources,
        "webhook": {"resources": resources},
        "cainjector": {"resources": resources},
    }


def test_cert_manager_values_turn_numbers_into_quantities() -> None:
    values = cert_manager_values(member="m1", controller_resources={"limits": {"cpu": 1}})
    assert values["resources"] == {"limits": {"cpu": "1"}}


@pytest.mark.parametrize(
    ("kwargs", "key"),
    [
        ({"default_issuer": "Lets Encrypt"}, "cert_manager_default_issuer"),
        ({"webhook_resources": {"limits": {"gpu": "1"}}}, "cert_manager_webhook_resources.limits.gpu"),
        ({"cainjector_resources": "small"}, "cert_manager_cainjector_resources"),
        ({"overrides": "x"}, "cert_manager_values_overrides"),
    ],
)
def test_cert_manager_values_reject_bad_input(kwargs: dict[str, Any], key: str) -> None:
    with pytest.raises(MemberError) as caught:
        cert_manager_values(member="m1", **kwargs)
    assert any(str(issue).startswith(f"member m1: {key}:") for issue in caught.value.issues), (
        caught.value.issues
    )


def test_cluster_issuers_default_to_both_lets_encrypt_directories() -> None:
    issuers = cluster_issuers(member="m1", email="ops@example.org")
    assert [issuer["metadata"]["name"] for issuer in issuers] == ["letsencrypt-staging", "letsencrypt-prod"]
    for issuer in issuers:
        name = issuer["metadata"]["name"]
        assert issuer["apiVersion"] == "cert-manager.io/v1"
        assert issuer["kind"] == "ClusterIssuer"
        acme = issuer["spec"]["acme"]
        assert acme["server"] == ACME_SERVERS[name]
        assert acme["email"] == "ops@example.org"
        assert acme["privateKeySecretRef"] == {"name": name}
        # Solver Ingresses answer on plain HTTP only (the web entry point), past the redirect.
        assert acme["solvers"] == [
            {
                "http01": {
                    "ingress": {
                        "ingressClassName": "traefik",
                        "ingressTemplate": {
                            "metadata": {
                                "annotations": {"traefik.ingress.kubernetes.io/router.entrypoints": "web"}
                            }
                        },
                    }
                }
            }
        ]
        # Shared by the members of a cluster: owned by the set, not by one member.
        assert issuer["metadata"]["labels"] == {LABEL_MANAGED_BY: MANAGED_BY, LABEL_SET: SET_CLUSTER_ISSUERS}
    assert "staging" in issuers[0]["spec"]["acme"]["server"]
    assert "staging" not in issuers[1]["spec"]["acme"]["server"]


@pytest.mark.parametrize("email", ["", None, "no-at-sign", "a@b", "two@@example.org", "x@example..org", 42])
def test_cluster_issuers_require_a_valid_email(email: Any) -> None:
    with pytest.raises(MemberError) as caught:
        cluster_issuers(member="m1", email=email)
    assert str(caught.value.issues[0]).startswith("member m1: cert_manager_acme_email:")


@pytest.mark.parametrize(
    ("issuers", "key"),
    [
        ({}, "cert_manager_cluster_issuers"),
        ({"le": "http://insecure.example.org/directory"}, "cert_manager_cluster_issuers.le"),
        ({"Bad Name": "https://acme.example.org/directory"}, "cert_manager_cluster_issuers.Bad Name"),
    ],
)
def test_cluster_issuers_reject_bad_issuers(issuers: dict[str, str], key: str) -> None:
    with pytest.raises(MemberError) as caught:
        cluster_issuers(member="m1", email="ops@example.org", issuers=issuers)
    assert any(str(issue).startswith(f"member m1: {key}:") for issue in caught.value.issues), (
        caught.value.issues
    )


def _pem_certificate() -> str:
    ca = trustme.CA()
    return ca.cert_pem.bytes().decode()


def test_cluster_issuers_trust_a_private_acme_servers_ca_bundle() -> None:
    pem = _pem_certificate() + _pem_certificate()
    issuers = cluster_issuers(
        member="m1", email="ops@example.org", issuers={"local": "https://127.0.0.1:14000/dir"}, ca_bundle=pem
    )
    (issuer,) = issuers
    assert base64.b64decode(issuer["spec"]["acme"]["caBundle"]).decode() == pem
    # Without a bundle the issuers trust the system roots: no caBundle key at all.
    assert "caBundle" not in cluster_issuers(member="m1", email="ops@example.org")[0]["spec"]["acme"]


@pytest.mark.parametrize(
    ("bundle", "message"),
    [
        ("not a certificate", "must be PEM text of one or more CA certificates"),
        (
            "-----BEGIN CERTIFICATE-----\n!!notbase64!!\n-----END CERTIFICATE-----\n",
            "not a valid certificate",
        ),
        ("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n", "not a valid certificate"),
        ("-----BEGIN PRIVATE KEY-----\nMAAA\n-----END PRIVATE KEY-----\n", "not a CERTIFICATE"),
        (["a list"], "must be PEM text of CA certificates, got a list"),
    ],
)
def test_cluster_issuers_reject_a_bad_ca_bundle(bundle: Any, message: str) -> None:
    with pytest.raises(MemberError) as caught:
        cluster_issuers(member="m1", email="ops@example.org", ca_bundle=bundle, keys={"ca_bundle": "acme_ca"})
    (issue,) = caught.value.issues
    assert issue.member == "m1"
    assert issue.key == "acme_ca"
    assert message in issue.message


def test_cluster_issuers_with_a_ca_bundle_still_refuse_plain_http() -> None:
    with pytest.raises(MemberError) as caught:
        cluster_issuers(
            member="m1",
            email="ops@example.org",
            issuers={"local": "http://127.0.0.1:14000/dir"},
            ca_bundle=_pem_certificate(),
        )
    assert [issue.key for issue in caught.value.issues] == ["cert_manager_cluster_issuers.local"]


@pytest.mark.parametrize(
    ("target", "selector", "ports"),
    [
        (
            "traefik",
            {"app.kubernetes.io/name": "traefik", "app.kubernetes.io/instance": "edge-binder"},
            ("web", "websecure"),
        ),
        (
            "ingress-nginx",
            {
                "app.kubernetes.io/name": "ingress-nginx",
                "app.kubernetes.io/instance": "edge",
                "app.kubernetes.io/component": "controller",
            },
            ("http", "https"),
        ),
    ],
)
def test_entrypoint_selects_the_target_controller(
    target: str, selector: dict[str, str], ports: tuple[str, str]
) -> None:
    service = entrypoint_service(member="m1", namespace="binder", target=target, release="edge")
    spec = service["spec"]
    assert spec["type"] == "LoadBalancer"
    assert spec["externalTrafficPolicy"] == "Local"
    assert spec["selector"] == selector
    assert [(p["name"], p["port"], p["targetPort"]) for p in spec["ports"]] == [
        ("http", 80, ports[0]),
        ("https", 443, ports[1]),
    ]
    assert service["metadata"]["name"] == "cluster-entrypoint"
    assert service["metadata"]["namespace"] == "binder"
    assert "annotations" not in service["metadata"]


def test_entrypoint_custom_target_uses_the_given_selector_and_ports() -> None:
    service = entrypoint_service(
        member="m1",
        namespace="binder",
        target="custom",
        selector={"app": "edge"},
        target_ports={"http": 8080, "https": "tls"},
        annotations={"cloud.google.com/l4-rbs": "enabled"},
        load_balancer_source_ranges=["10.0.0.0/8"],
        load_balancer_ip="203.0.113.7",
    )
    assert service["spec"]["selector"] == {"app": "edge"}
    assert [p["targetPort"] for p in service["spec"]["ports"]] == [8080, "tls"]
    assert service["metadata"]["annotations"] == {"cloud.google.com/l4-rbs": "enabled"}
    assert service["spec"]["loadBalancerSourceRanges"] == ["10.0.0.0/8"]
    assert service["spec"]["loadBalancerIP"] == "203.0.113.7"


@pytest.mark.parametrize("target", ["traefik", "ingress-nginx"])
def test_entrypoint_service_passes_the_official_schema(target: str) -> None:
    service = entrypoint_service(
        member="m1",
        namespace="binder",
        target=target,
        annotations={"networking.gke.io/load-balancer-ip-addresses": "x"},
    )
    kubernetes_validate.validate(service, "1.33", strict=True)


@pytest.mark.parametrize(
    ("kwargs", "key"),
    [
        ({"target": "haproxy"}, "cluster_entrypoint_target"),
        ({"target": "custom"}, "cluster_entrypoint_selector"),
        ({"target": "custom", "selector": {"app": "bad value!"}}, "cluster_entrypoint_selector.app"),
        ({"target_ports": {"http": 70000}}, "cluster_entrypoint_target_ports.http"),
        ({"target_ports": {"https": "Not_A_Port"}}, "cluster_entrypoint_target_ports.https"),
        ({"target_ports": {"ssh": 22}}, "cluster_entrypoint_target_ports.ssh"),
        ({"annotations": {"gke": True}}, "cluster_entrypoint_annotations.gke"),
        ({"load_balancer_source_ranges": ["everyone"]}, "cluster_entrypoint_load_balancer_source_ranges[0]"),
        ({"load_balancer_source_ranges": "10.0.0.0/8"}, "cluster_entrypoint_load_balancer_source_ranges"),
        ({"namespace": "-bad"}, "cluster_entrypoint_namespace"),
        ({"name": "1-entrypoint"}, "cluster_entrypoint_name"),
    ],
)
def test_entrypoint_rejects_bad_input_naming_member_and_key(kwargs: dict[str, Any], key: str) -> None:
    settings: dict[str, Any] = {"member": "m1", "namespace": "binder"}
    settings.update(kwargs)
    with pytest.raises(MemberError) as caught:
        entrypoint_service(**settings)
    assert any(str(issue).startswith(f"member m1: {key}:") for issue in caught.value.issues), (
        caught.value.issues
    )


@pytest.mark.parametrize(
    ("base", "override", "expected"),
    [
        ({"a": {"b": 1, "c": 2}}, {"a": {"b": 3}}, {"a": {"b": 3, "c": 2}}),
        ({"a": [1, 2]}, {"a": [3]}, {"a": [3]}),
        ({"a": {"b": 1}}, {"a": None}, {"a": None}),
        ({}, {"x": {"y": 1}}, {"x": {"y": 1}}),
    ],
)
def test_deep_merge(base: dict[str, Any], override: dict[str, Any], expected: dict[str, Any]) -> None:
    assert deep_merge(base, override) == expected
