"""The chart values → traefik static configuration translation of the data plane."""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest
import yaml

from sandbox.dataplane.releases import coalesce
from sandbox.dataplane.traefik_config import (
    API_ENTRYPOINT,
    HANDLED,
    IGNORED,
    ClusterAccess,
    Spool,
    ValuesError,
    entrypoint_names,
    translate,
)
from sandbox.dataplane.traefik_process import SpoolDir, free_port, spool_bytes, traefik_binary

FIXTURE_CHART = Path(__file__).resolve().parents[3] / "tests" / "charts" / "traefik"

# The traefik chart 41's defaults of the keys the translation reads (what a release's
# chart.values holds for them); the values below are coalesced over these, as Helm does.
CHART_DEFAULTS: dict[str, Any] = {
    "global": {"checkNewVersion": True, "sendAnonymousUsage": False},
    "ports": {
        "traefik": {"port": 8080, "protocol": "TCP", "expose": {"default": False}},
        "web": {"port": 8000, "protocol": "TCP", "exposedPort": 80},
        "websecure": {
            "port": 8443,
            "protocol": "TCP",
            "exposedPort": 443,
            "http": {"tls": {"enabled": True}},
        },
        "metrics": {"port": 9100, "protocol": "TCP"},
    },
    "providers": {
        "kubernetesCRD": {"enabled": True},
        "kubernetesIngress": {
            "enabled": True,
            "allowEmptyServices": True,
            "publishedService": {"enabled": True, "pathOverride": ""},
        },
        "file": {"enabled": False, "watch": True, "content": {}},
    },
    "log": {"level": "INFO"},
    "accessLog": {"enabled": False, "fields": {"defaultMode": "keep", "headers": {"defaultMode": "drop"}}},
    "metrics": {"prometheus": {"entryPoint": "metrics"}},
    "api": {"dashboard": True},
    "ingressClass": {"enabled": True, "isDefaultClass": True, "name": ""},
    "service": {"enabled": True},
}

# What DESIGN.md says the traefik role sets (the seed's settings in chart 41.x keys).
ROLE_LIKE_VALUES: dict[str, Any] = {
    "deployment": {"replicas": 2},
    "ingressClass": {"enabled": True, "isDefaultClass": False, "name": "traefik"},
    "ingressRoute": {"dashboard": {"enabled": False}},
    "api": {"dashboard": False},
    "log": {"level": "info"},
    "accessLog": {
        "enabled": True,
        "fields": {
            "headers": {"defaultMode": "drop", "names": {"User-Agent": "keep"}},
            "queryParameters": {"defaultMode": "drop"},
        },
    },
    "metrics": {"prometheus": {"entryPoint": "metrics", "addServicesLabels": True}},
    "ports": {
        "web": {
            "port": 80,
            "allowACMEByPass": True,
            "http": {
                "redirections": {"entryPoint": {"to": "websecure", "scheme": "https", "permanent": False}}
            },
        },
        "websecure": {
            "port": 443,
            "transport": {"respondingTimeouts": {"readTimeout": 600, "idleTimeout": 600}},
        },
    },
    "providers": {
        "kubernetesCRD": {"enabled": False},
        "kubernetesIngress": {
            "enabled": True,
            "allowEmptyServices": True,
            "publishedService": {"enabled": True, "pathOverride": "binder/cluster-entrypoint"},
        },
        "file": {
            "enabled": True,
            "content": {
                "http": {
                    "middlewares": {
                        "harbor": {"buffering": {"maxRequestBodyBytes": 0}},
                        "hub": {"buffering": {"maxRequestBodyBytes": 64000000}},
                        "default": {"buffering": {"maxRequestBodyBytes": 1000000}},
                    }
                }
            },
        },
    },
    "priorityClassName": "binderhub-core",
    "resources": {"requests": {"cpu": "100m", "memory": "512Mi"}, "limits": {"cpu": 2, "memory": "4Gi"}},
    "service": {"enabled": False},
}

CLUSTER = ClusterAccess(
    endpoint="https://127.0.0.1:6443", token="sandbox-token", ca_file=Path("/sandbox/ca.crt")
)


def _translate(
    values: dict[str, Any], state_dir: Path = Path("/sandbox"), defaults: dict[str, Any] = CHART_DEFAULTS
) -> Any:
    merged = coalesce(defaults, values)
    ports = {name: 20000 + i for i, name in enumerate(entrypoint_names(merged))}
    return translate(merged, ports=ports, cluster=CLUSTER, state_dir=state_dir)


def test_role_values_become_entrypoints_on_local_ports() -> None:
    setup = _translate(ROLE_LIKE_VALUES)
    entry = setup.static["entryPoints"]
    assert set(entry) == {"traefik", "web", "websecure", "metrics"}
    assert {e["address"] for e in entry.values()} == {f"127.0.0.1:{p}" for p in setup.entrypoints.values()}
    assert entry["web"]["allowACMEByPass"] is True
    # Redirect by entrypoint name, so the Location carries the local websecure port.
    assert entry["web"]["http"]["redirections"]["entryPoint"] == {
        "to": "websecure",
        "scheme": "https",
        "permanent": False,
    }
    assert entry["websecure"]["http"]["tls"] == {}
    assert entry["websecure"]["transport"] == {"respondingTimeouts": {"readTimeout": 600, "idleTimeout": 600}}
    assert "transport" not in entry["web"]


def test_role_values_configure_the_providers_against_the_sandbox() -> None:
    setup = _translate(ROLE_LIKE_VALUES)
    providers = setup.static["providers"]
    assert set(providers) == {"kubernetesIngress", "file"}  # kubernetesCRD turned off
    ingress = providers["kubernetesIngress"]
    assert ingress["endpoint"] == CLUSTER.endpoint
    assert ingress["token"] == CLUSTER.token
    assert ingress["certAuthFilePath"] == str(CLUSTER.ca_file)
    assert ingress["allowEmptyServices"] is True
    assert ingress["ingressEndpoint"] == {"publishedService": "binder/cluster-entrypoint"}
    assert providers["file"] == {"filename": "/sandbox/traefik-dynamic.yaml", "watch": True}
    assert setup.dynamic == ROLE_LIKE_VALUES["providers"]["file"]["content"]


def test_role_values_configure_logs_metrics_and_api() -> None:
    setup = _translate(ROLE_LIKE_VALUES)
    static = setup.static
    assert static["log"]["level"] == "INFO"
    assert static["accessLog"]["filePath"] == "/sandbox/traefik-access.log"
    assert static["accessLog"]["fields"]["headers"] == {
        "defaultMode": "drop",
        "names": {"User-Agent": "keep"},
    }
    assert static["accessLog"]["fields"]["queryParameters"] == {"defaultMode": "drop"}
    assert static["metrics"] == {"prometheus": {"entryPoint": "metrics", "addServicesLabels": True}}
    assert static["api"] == {"insecure": True, "dashboard": False}
    assert static["ping"] == {"entryPoint": "traefik"}
    assert static["global"] == {"checkNewVersion": False, "sendAnonymousUsage": False}


def test_chart_defaults_apply_when_the_values_say_nothing() -> None:
    setup = _translate({})
    assert set(setup.static["providers"]) == {"kubernetesIngress", "kubernetesCRD"}
    # The chart's Service is on by default, so the published service is the chart's own.
    assert setup.static["providers"]["kubernetesIngress"]["ingressEndpoint"] == {
        "publishedService": "default/traefik"
    }
    assert setup.static["api"]["dashboard"] is True
    assert "accessLog" not in setup.static
    assert setup.dynamic is None
    assert setup.ingress_class_filter is None


def test_published_service_is_left_out_without_service_or_override() -> None:
    values = {"service": {"enabled": False}}
    assert "ingressEndpoint" not in _translate(values).static["providers"]["kubernetesIngress"]


def test_null_removes_a_default_entrypoint() -> None:
    setup = _translate({"ports": {"metrics": None}, "metrics": {"prometheus": None}})
    assert set(setup.static["entryPoints"]) == {"traefik", "web", "websecure"}
    assert "metrics" not in setup.static


@pytest.mark.parametrize(
    ("values", "path"),
    [
        ({"hostNetwork": True}, "hostNetwork"),
        (
            {"ports": {"web": {"port": 80, "forwardedHeaders": {"insecure": True}}}},
            "ports.web.forwardedHeaders",
        ),
        (
            {"providers": {"kubernetesIngress": {"publishedservice": {"enabled": True}}}},
            "providers.kubernetesIngress.publishedservice",
        ),
        ({"logs": {"general": {"level": "INFO"}}}, "logs"),  # the pre-41 name
        ({"ports": {"web": {"redirections": {"entryPoint": {"to": "websecure"}}}}}, "ports.web.redirections"),
        ({"ports": {"web": {"port": {"number": 80}}}}, "ports.web.port"),
    ],
)
def test_an_unknown_key_fails_naming_it(values: dict[str, Any], path: str) -> None:
    with pytest.raises(ValuesError, match=r"do(es)? not translate") as caught:
        _translate(values)
    assert path in str(caught.value)


def test_all_unknown_keys_are_reported_together() -> None:
    with pytest.raises(ValuesError) as caught:
        _translate({"hostNetwork": True, "experimental": {"plugins": {}}})
    assert "experimental" in str(caught.value)
    assert "hostNetwork" in str(caught.value)


def test_ignored_keys_are_accepted_and_have_no_effect() -> None:
    values = copy.deepcopy(ROLE_LIKE_VALUES)
    values.update(
        {
            "podDisruptionBudget": {"enabled": True, "minAvailable": 1},
            "tolerations": [],
            "image": {"tag": "v3.7.0"},
        }
    )
    values["ports"]["websecure"]["exposedPort"] = 443
    values["ingressClass"] = {"enabled": False, "isDefaultClass": True, "name": "other"}
    assert _translate(values).static == _translate(ROLE_LIKE_VALUES).static


@pytest.mark.parametrize(
    ("values", "defaults"),
    [
        pytest.param({}, None, id="the fixture chart's defaults alone"),
        pytest.param(ROLE_LIKE_VALUES, None, id="the role's values over the fixture chart's defaults"),
    ],
)
def test_the_fixture_charts_values_translate(values: dict[str, Any], defaults: None) -> None:
    """The local cluster installs tests/charts/traefik: every key of its defaults must be known."""
    chart_defaults = yaml.safe_load((FIXTURE_CHART / "values.yaml").read_text())
    setup = _translate(values, defaults=chart_defaults)
    assert {"web", "websecure", API_ENTRYPOINT} <= set(setup.entrypoints)
    assert setup.container_ports["web"] == coalesce(chart_defaults, values)["ports"]["web"]["port"]


@pytest.mark.parametrize(
    ("values", "api_settings"),
    [
        pytest.param({"ports": {"traefik": None}}, {}, id="no traefik entrypoint: the data plane adds one"),
        pytest.param(
            {"ports": {"traefik": {"port": 9000, "transport": {"keepAliveMaxRequests": 5}}}},
            {"transport": {"keepAliveMaxRequests": 5}},
            id="the values' traefik entrypoint is used",
        ),
    ],
)
def test_ping_and_the_api_get_the_traefik_entrypoint(
    values: dict[str, Any], api_settings: dict[str, Any]
) -> None:
    setup = _translate(values)
    entry = setup.static["entryPoints"][API_ENTRYPOINT]
    assert entry == {"address": f"127.0.0.1:{setup.entrypoints[API_ENTRYPOINT]}", **api_settings}
    assert setup.static["ping"] == {"entryPoint": API_ENTRYPOINT}
    assert (API_ENTRYPOINT in setup.container_ports) is bool(values["ports"]["traefik"])


def test_container_ports_are_the_values_ports() -> None:
    setup = _translate(ROLE_LIKE_VALUES)
    assert setup.container_ports == {"traefik": 8080, "web": 80, "websecure": 443, "metrics": 9100}


@pytest.mark.parametrize("port", ["80", None, True, 80.5])
def test_an_entrypoint_port_must_be_a_number(port: Any) -> None:
    with pytest.raises(ValuesError, match=r"ports\.web\.port"):
        _translate({"ports": {"web": {"port": port}}})


def test_the_ingress_class_filter_comes_from_the_provider() -> None:
    values = copy.deepcopy(ROLE_LIKE_VALUES)
    values["providers"]["kubernetesIngress"]["ingressClass"] = "edge"
    setup = _translate(values)
    assert setup.ingress_class_filter == "edge"
    assert setup.static["providers"]["kubernetesIngress"]["ingressClass"] == "edge"


def test_every_ignored_key_says_why() -> None:
    assert all(reason.strip() for reason in IGNORED.values())
    assert not set(HANDLED) & set(IGNORED)


def test_file_provider_content_must_be_an_object() -> None:
    values = copy.deepcopy(ROLE_LIKE_VALUES)
    values["providers"]["file"]["content"] = "http:\n  middlewares: {}\n"
    with pytest.raises(ValuesError, match=r"providers\.file\.content"):
        _translate(values)


def test_redirect_to_an_unknown_entrypoint_fails() -> None:
    values = copy.deepcopy(ROLE_LIKE_VALUES)
    values["ports"]["web"]["http"]["redirections"]["entryPoint"]["to"] = "https"
    with pytest.raises(ValuesError, match=r"ports\.web\.http\.redirections\.entryPoint\.to"):
        _translate(values)


@pytest.mark.parametrize("timeout", [True, 1.5, ["600"]])
def test_a_timeout_must_be_seconds_or_a_duration(timeout: Any) -> None:
    values = copy.deepcopy(ROLE_LIKE_VALUES)
    values["ports"]["websecure"]["transport"]["respondingTimeouts"]["readTimeout"] = timeout
    with pytest.raises(ValuesError, match="readTimeout"):
        _translate(values)


def _get_json(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=2) as response:
        return json.loads(response.read())


def test_real_traefik_accepts_the_translated_configuration(tmp_path: Path) -> None:
    """traefik refuses unknown static keys: running it proves the key names and shapes."""
    values = copy.deepcopy(ROLE_LIKE_VALUES)
    values["ports"]["websecure"]["transport"]["respondingTimeouts"] = {"readTimeout": 7, "idleTimeout": "3s"}
    values["accessLog"]["filters"] = {"statusCodes": "400-599", "minDuration": "10ms"}
    values = coalesce(CHART_DEFAULTS, values)
    ports = {name: free_port() for name in entrypoint_names(values)}
    # Nothing listens on the endpoint: the Ingress provider retries, the rest works.
    cluster = ClusterAccess(
        endpoint=f"https://127.0.0.1:{free_port()}", token="t", ca_file=tmp_path / "ca.crt"
    )
    setup = translate(values, ports=ports, cluster=cluster, state_dir=tmp_path)
    (tmp_path / "static.yaml").write_text(yaml.safe_dump(setup.static))
    (tmp_path / "traefik-dynamic.yaml").write_text(yaml.safe_dump(setup.dynamic))
    process = subprocess.Popen(
        [traefik_binary(), f"--configFile={tmp_path / 'static.yaml'}"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    api = f"http://127.0.0.1:{ports['traefik']}"
    try:
        deadline = time.monotonic() + 20
        middlewares: list[dict[str, Any]] = []
        while time.monotonic() < deadline:
            assert process.poll() is None, process.communicate()[0].decode(errors="replace")
            try:
                middlewares = _get_json(f"{api}/api/http/middlewares")
                if any(m["name"] == "hub@file" for m in middlewares):
                    break
            except OSError:
                pass
            time.sleep(0.1)
        # traefik omits a zero limit from its API (Go omitempty).
        buffering = {
            m["name"]: m["buffering"].get("maxRequestBodyBytes", 0) for m in middlewares if "buffering" in m
        }
        assert buffering == {"harbor@file": 0, "hub@file": 64000000, "default@file": 1000000}
        websecure = _get_json(f"{api}/api/entrypoints/websecure")
        timeouts = websecure["transport"]["respondingTimeouts"]
        assert (timeouts["readTimeout"], timeouts["idleTimeout"]) == ("7s", "3s")
        web = _get_json(f"{api}/api/entrypoints/web")
        assert web["address"] == f"127.0.0.1:{ports['web']}"
        assert web["allowACMEByPass"] is True
    finally:
        process.terminate()
        process.wait(timeout=10)
        if process.stdout:
            process.stdout.close()


def test_the_traefik_binary_is_the_venvs() -> None:
    assert Path(traefik_binary()).parent == Path(sys.executable).parent


def test_access_log_status_filter_becomes_a_list() -> None:
    values = copy.deepcopy(ROLE_LIKE_VALUES)
    values["accessLog"]["filters"] = {"statusCodes": "400-499, 500-599", "minDuration": "10ms"}
    access = _translate(values).static["accessLog"]
    assert access["filters"] == {"statusCodes": ["400-499", "500-599"], "minDuration": "10ms"}


def _ingress_provider(values: dict[str, Any]) -> dict[str, Any]:
    merged = coalesce(CHART_DEFAULTS, values)
    ports = {name: 20000 + i for i, name in enumerate(entrypoint_names(merged))}
    setup = translate(
        merged, ports=ports, cluster=CLUSTER, state_dir=Path("/sandbox"), release_namespace="binder"
    )
    return dict(setup.static["providers"]["kubernetesIngress"])


def test_the_ingress_provider_reads_the_namespaces_the_values_name() -> None:
    values = {
        **ROLE_LIKE_VALUES,
        "providers": {
            **ROLE_LIKE_VALUES["providers"],
            "kubernetesIngress": {"enabled": True, "namespaces": ["alpha"]},
        },
    }
    ingress = _ingress_provider(values)
    assert ingress["namespaces"] == ["alpha"]
    assert "disableClusterScopeResources" not in ingress
    assert "namespaces" not in _ingress_provider(ROLE_LIKE_VALUES)


def test_namespaced_rbac_is_translated_as_the_chart_does() -> None:
    values = {
        **ROLE_LIKE_VALUES,
        "providers": {
            **ROLE_LIKE_VALUES["providers"],
            "kubernetesIngress": {"enabled": True, "namespaces": ["other"]},
        },
        "rbac": {"enabled": True, "namespaced": True},
    }
    ingress = _ingress_provider(values)
    # The release's namespace first, then the listed ones; and no cluster-scoped lookups.
    assert ingress["namespaces"] == ["binder", "other"]
    assert ingress["disableClusterScopeResources"] is True


@pytest.mark.parametrize(
    ("empty_dir", "spool"),
    [
        ({}, Spool()),
        ({"sizeLimit": "1Gi"}, Spool(size_limit=2**30)),
        ({"medium": "Memory", "sizeLimit": "256Mi"}, Spool(size_limit=256 * 2**20, memory=True)),
        ({"medium": "Memory", "sizeLimit": "500M"}, Spool(size_limit=500_000_000, memory=True)),
    ],
)
def test_the_pods_tmp_volume_becomes_traefiks_spool(empty_dir: dict[str, Any], spool: Spool) -> None:
    values = copy.deepcopy(ROLE_LIKE_VALUES)
    values["deployment"]["tmpVolume"] = {"emptyDir": empty_dir}
    assert _translate(values).spool == spool


@pytest.mark.parametrize(
    ("empty_dir", "words"),
    [
        ({"medium": "Disk"}, "medium: 'Disk'"),
        ({"sizeLimit": "lots"}, "emptyDir.sizeLimit: expected a Kubernetes"),
    ],
)
def test_a_tmp_volume_the_kubelet_would_refuse_fails(empty_dir: dict[str, Any], words: str) -> None:
    values = copy.deepcopy(ROLE_LIKE_VALUES)
    values["deployment"]["tmpVolume"] = {"emptyDir": empty_dir}
    with pytest.raises(ValuesError, match=words):
        _translate(values)


def test_the_containers_go_memory_limit_is_the_charts() -> None:
    values = copy.deepcopy(ROLE_LIKE_VALUES)
    values["deployment"]["goMemLimitPercentage"] = 0.5
    assert _translate(values).env == {"GOMEMLIMIT": str(2 * 2**30)}
    del values["resources"]["limits"]["memory"]
    assert _translate(values).env == {}


def test_the_spool_counts_unlinked_files_the_process_holds_open(tmp_path: Path) -> None:
    spool = SpoolDir(tmp_path / "spool")
    spool.prepare(Spool())
    assert spool.path.is_dir() and not spool.mounted
    with tempfile.TemporaryFile(dir=spool.path) as held:  # unlinked at once, as traefik's are
        held.write(b"x" * 300_000)
        held.flush()
        assert list(spool.path.iterdir()) == []
        assert spool_bytes(os.getpid(), spool.path) == 300_000
        assert spool_bytes(os.getpid(), tmp_path / "elsewhere") == 0
    assert spool_bytes(os.getpid(), spool.path) == 0
