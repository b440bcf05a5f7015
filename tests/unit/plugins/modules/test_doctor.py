"""Unit tests of the doctor module's main(): the member name and the reports it writes.

The cluster is not read here: examine() is replaced by a fixed set of findings, so what is tested is
what main() does with the member and report_dir (tests/converge/test_doctor_on_cluster.py runs it
against the local cluster).
"""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from ansible.module_utils.testing import patch_module_args
from ansible_collections.binder.ingress.plugins.module_utils import _doctor
from ansible_collections.binder.ingress.plugins.modules import doctor
from helm_records import release_secret, secret_sized_bomb, wrap

FINDINGS = [_doctor.Finding("dns", "hub.example.org", "ok", "resolves to 203.0.113.10")]
OTHER = "someone else's file\n"


class Exited(Exception):
    def __init__(self, result: dict[str, Any]) -> None:
        super().__init__(result)
        self.result = result


def call_main(monkeypatch: pytest.MonkeyPatch, **over: Any) -> dict[str, Any]:
    """main() with these arguments, the cluster replaced by FINDINGS; the result it exits or fails with."""
    examined: list[str] = []

    def examine(module: Any, reader: Any) -> tuple[list[_doctor.Finding], list[_doctor.BudgetRow]]:
        examined.append(module.params["member"])
        return list(FINDINGS), []

    def finish(_module: Any, **kwargs: Any) -> None:
        raise Exited(dict(kwargs, examined=examined))

    monkeypatch.setattr(doctor, "get_api_client", lambda module: None)
    monkeypatch.setattr(doctor, "examine", examine)
    monkeypatch.setattr(doctor.AnsibleModule, "exit_json", finish)
    monkeypatch.setattr(doctor.AnsibleModule, "fail_json", lambda m, **kw: finish(m, failed=True, **kw))
    args: dict[str, Any] = {"member": "gke-prod", "namespace": "binder-prod", "ingresses": []}
    args.update(over)
    with patch_module_args(args), pytest.raises(Exited) as exited:
        doctor.main()
    return exited.value.result


def mode_of(path: Path) -> int:
    return stat.S_IMODE(path.lstat().st_mode)


def tree(root: Path) -> dict[str, str]:
    """Every entry under root, as relative path -> kind (and target of a link), content or mode."""
    found: dict[str, str] = {}
    for path in sorted(root.rglob("*")):
        name = str(path.relative_to(root))
        if path.is_symlink():
            found[name] = f"link -> {os.readlink(path)}"
        elif path.is_dir():
            found[name] = f"dir {mode_of(path):04o}"
        else:
            found[name] = f"{mode_of(path):04o} {path.read_text(encoding='utf-8')}"
    return found


def test_the_reports_are_written_for_their_owner_only(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    reports = tmp_path / "doctor"
    result = call_main(monkeypatch, report_dir=str(reports))
    assert "failed" not in result, result
    assert result["reports"] == [str(reports / "gke-prod.json"), str(reports / "gke-prod.md")]
    assert mode_of(reports) == 0o700
    assert mode_of(reports / "gke-prod.json") == 0o600
    assert mode_of(reports / "gke-prod.md") == 0o600
    assert json.loads((reports / "gke-prod.json").read_text())["findings"] == [FINDINGS[0].as_dict()]
    assert sorted(p.name for p in reports.iterdir()) == ["gke-prod.json", "gke-prod.md"]  # no temp file left


def test_an_earlier_report_readable_by_others_is_made_the_owners_only(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    call_main(monkeypatch, report_dir=str(tmp_path))
    (tmp_path / "gke-prod.md").chmod(0o644)
    call_main(monkeypatch, report_dir=str(tmp_path))
    assert mode_of(tmp_path / "gke-prod.md") == 0o600


@pytest.mark.parametrize("link", ["symlink", "hard link"])
def test_a_link_at_a_report_path_is_replaced_and_its_target_left_unchanged(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, link: str
) -> None:
    # A shared report directory where someone made gke-prod.json a link to another file of the user.
    other = tmp_path / "home" / "notes.txt"
    other.parent.mkdir()
    other.write_text(OTHER, encoding="utf-8")
    other.chmod(0o640)
    reports = tmp_path / "shared"
    reports.mkdir()
    if link == "symlink":
        (reports / "gke-prod.json").symlink_to(other)
    else:
        os.link(other, reports / "gke-prod.json")
    result = call_main(monkeypatch, report_dir=str(reports))
    assert "failed" not in result, result
    assert other.read_text(encoding="utf-8") == OTHER and mode_of(other) == 0o640
    written = reports / "gke-prod.json"
    assert not written.is_symlink() and written.stat().st_ino != other.stat().st_ino
    assert json.loads(written.read_text())["member"] == "gke-prod" and mode_of(written) == 0o600


@pytest.mark.parametrize(
    ("member", "reason"),
    [
        ("../x", "only lowercase letters, digits and '-' are allowed"),
        ("a/b", "only lowercase letters, digits and '-' are allowed"),
        ("", "it is empty"),
        (".hidden", "only lowercase letters, digits and '-' are allowed"),
        ("Gke_Prod", "only lowercase letters, digits and '-' are allowed"),
    ],
)
def test_a_member_name_that_is_no_dns_label_is_refused_before_anything_is_read_or_written(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, member: str, reason: str
) -> None:
    reports = tmp_path / "shared" / "doctor"
    result = call_main(monkeypatch, member=member, report_dir=str(reports))
    assert result["failed"] is True
    assert result["msg"].startswith(
        f"doctor: member {member!r}: member (the inventory host name): {member!r} is not a valid member name"
        " (a DNS-1123 label; it names the report files): "
    ), result["msg"]
    assert reason in result["msg"]
    assert result["examined"] == []  # the cluster was not read
    assert tree(tmp_path) == {}


def test_a_report_dir_that_is_a_file_fails_naming_report_dir(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    (tmp_path / "doctor").write_text(OTHER, encoding="utf-8")
    result = call_main(monkeypatch, report_dir=str(tmp_path / "doctor"))
    assert result["failed"] is True
    assert (
        result["msg"]
        == f"doctor: member gke-prod: report_dir: {tmp_path / 'doctor'} exists and is not a directory"
    )
    assert result["findings"] == [FINDINGS[0].as_dict()]  # the findings are still returned
    assert (tmp_path / "doctor").read_text(encoding="utf-8") == OTHER


def test_a_directory_where_a_report_goes_fails_naming_report_dir(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    (tmp_path / "gke-prod.md").mkdir()
    result = call_main(monkeypatch, report_dir=str(tmp_path))
    assert result["failed"] is True
    assert result["msg"] == (
        f"doctor: member gke-prod: report_dir: {tmp_path / 'gke-prod.md'} is a directory and cannot be replaced by a file"
    )
    # Checked before the first write: the JSON report is not written either.
    assert tree(tmp_path) == {"gke-prod.md": f"dir {mode_of(tmp_path / 'gke-prod.md'):04o}"}


# ---------------------------------------------------------------------------
# examine(): the Helm release records it reads


class Reader:
    """The cluster as the doctor's Reader sees it: objects by kind, selectors ignored (as a server that does not
    filter would), every list asked for recorded."""

    def __init__(self, objects: list[dict[str, Any]]) -> None:
        self.objects = objects
        self.asked: list[tuple[str, str | None, dict[str, str]]] = []

    def list(self, kind: str, api_version: str, namespace: str | None = None, **selectors: str) -> list[Any]:
        self.asked.append((kind, namespace, selectors))
        return [
            o
            for o in self.objects
            if o["kind"] == kind and namespace in (None, o["metadata"].get("namespace"))
        ]

    def get(self, kind: str, api_version: str, name: str, namespace: str) -> dict[str, Any] | None:
        return None


REDIRECT = {"http": {"redirections": {"entryPoint": {"to": "websecure", "scheme": "https"}}}}


def helm_secret(version: int, status: str, web: dict[str, Any], **over: Any) -> dict[str, Any]:
    secret = release_secret(version, status, {"ports": {"web": web}}, **over)
    return {"kind": "Secret", **secret}


def examined(
    secrets: list[dict[str, Any]], **params: Any
) -> tuple[dict[tuple[str, str], _doctor.Finding], Reader]:
    module = SimpleNamespace(
        params=dict(
            member="gke-prod",
            namespace="ns",
            entrypoint_name="cluster-entrypoint",
            ingress_class="traefik",
            k3s=False,
            traefik_release="traefik",
            cert_manager_helm_enabled=False,
            cluster_issuers=[],
            ingresses=[],
            resolver="system",
            dns_timeout=1.0,
        )
        | params
    )
    reader = Reader(secrets)
    findings, _rows = doctor.examine(module, reader)
    return {(f.check, f.subject): f for f in findings}, reader


def test_a_secret_of_another_type_with_a_higher_version_is_not_the_release() -> None:
    found, reader = examined(
        [
            helm_secret(1, "superseded", REDIRECT),
            helm_secret(2, "deployed", {**REDIRECT, "allowACMEByPass": True}),
            # Anyone who may create Secrets in the namespace can label one like Helm's records.
            helm_secret(9, "deployed", REDIRECT, kind="Opaque"),
        ]
    )
    assert found[("release", "ns/traefik")].detail == "revision 2 deployed"
    assert found[("redirect", "ns/traefik")].severity == "ok"
    assert (
        "Secret",
        "ns",
        {"label_selector": "owner=helm,name=traefik", "field_selector": "type=helm.sh/release.v1"},
    ) in reader.asked


def test_a_gzip_bomb_in_the_latest_record_is_an_error_of_the_release_not_a_crash() -> None:
    bomb = helm_secret(3, "deployed", {})
    bomb["data"]["release"] = wrap(secret_sized_bomb()[0])
    found, _reader = examined([helm_secret(2, "superseded", {}), bomb])
    release = found[("release", "ns/traefik")]
    assert release.severity == "error"
    assert release.detail == (
        "Secret ns/sh.helm.release.v1.traefik.v3: the record of revision 3 cannot be read: "
        "it decompresses to more than 32 MiB"
    )
    assert ("redirect", "ns/traefik") not in found  # no values to judge it by


def test_a_member_that_shares_its_cluster_is_judged_by_its_own_issuers() -> None:
    ingress_class = {
        "kind": "IngressClass",
        "metadata": {"name": "traefik-ns"},
        "spec": {"controller": _doctor.TRAEFIK_CONTROLLER},
    }
    issuer = {
        "kind": "Issuer",
        "metadata": {"name": "letsencrypt-prod", "namespace": "ns"},
        "spec": {"acme": {"solvers": [{"http01": {"ingress": {"ingressClassName": "traefik-ns"}}}]}},
        "status": {"conditions": [{"type": "Ready", "status": "True", "reason": "ACMEAccountRegistered"}]},
    }
    # Another member's Issuer of the same name, in its own namespace, is not this member's.
    other = {**issuer, "metadata": {"name": "letsencrypt-staging", "namespace": "other"}}
    found, reader = examined(
        [ingress_class, issuer, other],
        ingress_class="traefik-ns",
        cluster_issuers=["letsencrypt-prod", "letsencrypt-staging"],
        issuer_namespace="ns",
    )
    assert found[("issuer", "letsencrypt-prod")].severity == "ok"
    assert found[("issuer", "letsencrypt-staging")].detail == "the Issuer does not exist"
    assert ("Issuer", "ns", {}) in reader.asked
    assert not any(kind == "ClusterIssuer" for kind, _ns, _sel in reader.asked)
