"""The chart values → traefik static configuration translation of the sandbox data plane."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest
import yaml

from sandbox.dataplane.traefik_config import (
    HANDLED,
    IGNORED,
    ClusterAccess,
    ValuesError,
    entrypoint_names,
    translate,
)
from sandbox.dataplane.traefik_process import free_port, traefik_binary

# What DESIGN.md says the traefik role sets (the seed's settings in chart 41.x keys).
ROLE_LIKE_VALUES: dict[str, Any] = {
    "deployment": {"replicas": 2},
    "ingressClass": {"enabled": True, "isDefaultClass": False, "name": "traefik"},
    "ingressRoute": {"dashboard": {"enabled": False}},
    "api": {"dashboard": False},
    "log": {"level": "info"},
    "accessLog": {
        "enabled": True,
        "fields": {"headers": {"defaultMode": "drop", "names": {"User-Agent": "keep"}}},
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


def _translate(values: dict[str, Any], state_dir: Path = Path("/sandbox")) -> Any:
    ports = {name: 20000 + i for i, name in enumerate(entrypoint_names(values))}
    return translate(values, ports=ports, cluster=CLUSTER, state_dir=state_dir)


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


def test_role_values_configure_logs_metrics_api_and_ingress_class() -> None:
    setup = _translate(ROLE_LIKE_VALUES)
    static = setup.static
    assert static["log"]["level"] == "INFO"
    assert static["accessLog"]["filePath"] == "/sandbox/traefik-access.log"
    assert static["accessLog"]["fields"]["headers"] == {
        "defaultMode": "drop",
        "names": {"User-Agent": "keep"},
    }
    assert static["metrics"] == {"prometheus": {"entryPoint": "metrics", "addServicesLabels": True}}
    assert static["api"] == {"insecure": True, "dashboard": False}
    assert static["ping"] == {"entryPoint": "traefik"}
    assert static["global"] == {"checkNewVersion": False, "sendAnonymousUsage": False}
    assert setup.ingress_class is not None
    assert setup.ingress_class.manifest()["metadata"] == {"name": "traefik", "annotations": {}}
    assert setup.ingress_class.manifest()["spec"] == {"controller": "traefik.io/ingress-controller"}


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
    assert setup.ingress_class is not None
    assert setup.ingress_class.is_default


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
    assert _translate(values).static == _translate(ROLE_LIKE_VALUES).static


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
