"""make demo's helpers that need no cluster: routes, stand-in Services, verify.yml's table."""

from __future__ import annotations

from typing import Any

from sandbox.demo import Route, routes, standin_services, verify_report


def _path(path: str, service: str, port: dict[str, Any], path_type: str = "Prefix") -> dict[str, Any]:
    return {"path": path, "pathType": path_type, "backend": {"service": {"name": service, "port": port}}}


INGRESSES: list[dict[str, Any]] = [
    {
        "kind": "Ingress",
        "metadata": {
            "name": "harbor",
            "namespace": "member",
            "annotations": {"traefik.ingress.kubernetes.io/router.middlewares": "member-harbor@file"},
        },
        "spec": {
            "rules": [
                {
                    "host": "registry.test",
                    "http": {
                        "paths": [
                            _path("/v2/", "core", {"number": 80}),
                            _path("/", "portal", {"name": "http"}),
                        ]
                    },
                }
            ]
        },
    },
    {
        "kind": "Ingress",
        "metadata": {"name": "redirect", "namespace": "member"},
        "spec": {
            "rules": [{"host": "old.test", "http": {"paths": [_path("/", "redirector", {"number": 80})]}}]
        },
    },
    {"kind": "Service", "metadata": {"name": "ignored", "namespace": "member"}},
]


def test_routes_are_one_per_host_and_path_sorted() -> None:
    assert routes(INGRESSES) == [
        Route("old.test", "/", "Prefix", "redirect", "member", "redirector", "80", ""),
        Route("registry.test", "/", "Prefix", "harbor", "member", "portal", "http", "member-harbor@file"),
        Route("registry.test", "/v2/", "Prefix", "harbor", "member", "core", "80", "member-harbor@file"),
    ]


def test_standins_cover_the_missing_backends_only_with_the_ports_the_ingresses_name() -> None:
    services = standin_services(INGRESSES, existing={("member", "redirector")})
    by_name = {s["metadata"]["name"]: s for s in services}
    assert sorted(by_name) == ["core", "portal"]
    assert by_name["core"]["spec"]["ports"] == [{"name": "port-80", "port": 80, "protocol": "TCP"}]
    # A named port gets a free number and keeps its name, so the Ingress's reference resolves.
    assert by_name["portal"]["spec"]["ports"] == [
        {"name": "http", "port": 80, "targetPort": "http", "protocol": "TCP"}
    ]
    for service in services:
        assert service["metadata"]["namespace"] == "member"
        # A selector that matches no pod: the data plane serves the stand-in backend.
        assert service["spec"]["selector"] == {"app.kubernetes.io/name": service["metadata"]["name"]}


VERIFY_OUTPUT = """\
TASK [Probe every host and path of the member] *********************************
ok: [local]

TASK [Show the member's routes] ************************************************
ok: [local] =>
    msg: |-
        member local via 127.0.0.1
        host               path  status  result
        binder.local.test  /     200     ok

TASK [Check that every route passed] *******************************************
ok: [local]
"""


def test_verify_report_is_the_route_table() -> None:
    assert verify_report(VERIFY_OUTPUT) == (
        "member local via 127.0.0.1\nhost               path  status  result\nbinder.local.test  /     200     ok"
    )


def test_verify_report_without_the_table_is_the_whole_output() -> None:
    assert verify_report("PLAY RECAP\nlocal : ok=1\n") == "PLAY RECAP\nlocal : ok=1"


def test_verify_report_takes_another_tasks_table() -> None:
    doctor_output = VERIFY_OUTPUT.replace("Show the member's routes", "Show the member's findings")
    assert verify_report(doctor_output, "Show the member's findings") == verify_report(VERIFY_OUTPUT)
    # Not the routes' task: the whole output, as when the table is missing.
    assert verify_report(doctor_output) == doctor_output.strip()
