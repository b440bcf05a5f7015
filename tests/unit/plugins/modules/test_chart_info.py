"""Unit tests of the chart_info module: chart directories and archives, checked against the pins."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path
from typing import Any

import pytest
import yaml
from ansible.module_utils.testing import patch_module_args
from ansible_collections.binder.ingress.plugins.module_utils import _chart
from ansible_collections.binder.ingress.plugins.modules import chart_info

CHART_YAML = "apiVersion: v2\nname: traefik\nversion: 41.3.0\nappVersion: v3.7.11\n"
VARIABLES = {"path": "traefik_chart_path", "name": "traefik_chart_name", "version": "traefik_chart_version"}


def chart_dir(root: Path, chart_yaml: str | None = CHART_YAML) -> Path:
    path = root / "traefik"
    (path / "templates").mkdir(parents=True)
    (path / "templates" / "deployment.yaml").write_text("kind: Deployment\n")
    if chart_yaml is not None:
        (path / "Chart.yaml").write_text(chart_yaml)
    return path


def archive(root: Path, files: dict[str, str], name: str = "traefik-41.3.0.tgz") -> Path:
    """A gzipped tar holding files (archive path -> text), like `helm package` writes."""
    path = root / name
    with tarfile.open(path, "w:gz") as tar:
        for member, text in files.items():
            data = text.encode()
            info = tarfile.TarInfo(member)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


def params(path: Path | str, **overrides: Any) -> dict[str, Any]:
    """The module's parameters after argument validation: pins of the traefik role by default."""
    result: dict[str, Any] = {
        "path": str(path),
        "name": "traefik",
        "version": "41.3.0",
        "member": "local",
        "variables": dict(VARIABLES),
    }
    result.update(overrides)
    return result


# ---------------------------------------------------------------------------
# What is a chart, and which


def test_a_chart_directory_is_read(tmp_path: Path) -> None:
    chart = _chart.check(params(chart_dir(tmp_path)))
    assert chart == _chart.Chart(
        path=str(tmp_path / "traefik"),
        format="directory",
        name="traefik",
        version="41.3.0",
        app_version="v3.7.11",
        api_version="v2",
    )


def test_a_packaged_chart_is_read(tmp_path: Path) -> None:
    path = archive(
        tmp_path,
        {
            "traefik/Chart.yaml": CHART_YAML,
            "traefik/values.yaml": "deployment: {}\n",
            # A subchart's Chart.yaml is deeper down and must not be taken for the chart.
            "traefik/charts/crds/Chart.yaml": "apiVersion: v2\nname: crds\nversion: 1.0.0\n",
        },
    )
    chart = _chart.check(params(path))
    assert (chart.format, chart.name, chart.version, chart.path) == (
        "archive",
        "traefik",
        "41.3.0",
        str(path),
    )


def test_the_path_is_returned_absolute_with_links_resolved(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = chart_dir(tmp_path / "real")
    (tmp_path / "link").symlink_to(real)
    monkeypatch.chdir(tmp_path)
    chart = _chart.check(params("link"))
    assert chart.path == str(real)


def test_pins_are_optional(tmp_path: Path) -> None:
    chart = _chart.check(params(chart_dir(tmp_path), name=None, version=None))
    assert (chart.name, chart.version) == ("traefik", "41.3.0")


def test_an_unquoted_number_version_is_read_as_written(tmp_path: Path) -> None:
    chart = _chart.check(params(chart_dir(tmp_path, "name: traefik\nversion: 41.3\n"), version="41.3"))
    assert chart.version == "41.3"
    assert chart.app_version == ""


@pytest.mark.parametrize(
    ("make", "overrides", "message"),
    [
        pytest.param(
            lambda root: root / "nowhere",
            {},
            "member local: traefik_chart_path: {root}/nowhere does not exist",
            id="missing-path",
        ),
        pytest.param(
            lambda root: chart_dir(root, chart_yaml=None),
            {},
            "member local: traefik_chart_path: {root}/traefik is not a chart (no Chart.yaml)",
            id="dir-without-chart-yaml",
        ),
        pytest.param(
            lambda root: archive(root, {"traefik/values.yaml": "{}\n"}),
            {},
            "member local: traefik_chart_path: {root}/traefik-41.3.0.tgz is not a chart "
            "(no <chart>/Chart.yaml in the archive)",
            id="archive-without-chart-yaml",
        ),
        pytest.param(
            lambda root: archive(root, {"Chart.yaml": CHART_YAML}),
            {},
            "member local: traefik_chart_path: {root}/traefik-41.3.0.tgz is not a chart "
            "(no <chart>/Chart.yaml in the archive)",
            id="archive-chart-yaml-not-in-a-directory",
        ),
        pytest.param(
            lambda root: archive(root, {"a/Chart.yaml": CHART_YAML, "b/Chart.yaml": CHART_YAML}),
            {},
            "member local: traefik_chart_path: {root}/traefik-41.3.0.tgz is not a chart: "
            "the archive holds more than one (a/Chart.yaml, b/Chart.yaml)",
            id="archive-with-two-charts",
        ),
        pytest.param(
            lambda root: chart_dir(root) / "templates" / "deployment.yaml",
            {},
            "member local: traefik_chart_path: {root}/traefik/templates/deployment.yaml is neither a chart "
            "directory nor a chart archive (.tgz): ",
            id="plain-file",
        ),
        pytest.param(
            lambda root: chart_dir(root, "name: [traefik\n"),
            {},
            "member local: traefik_chart_path: {root}/traefik: Chart.yaml is not valid YAML",
            id="chart-yaml-not-yaml",
        ),
        pytest.param(
            lambda root: chart_dir(root, "- traefik\n"),
            {},
            "member local: traefik_chart_path: {root}/traefik: Chart.yaml is not a mapping",
            id="chart-yaml-not-a-mapping",
        ),
        pytest.param(
            lambda root: chart_dir(root, "apiVersion: v2\n"),
            {},
            "member local: traefik_chart_path: {root}/traefik: Chart.yaml has no name and no version",
            id="chart-yaml-without-name-and-version",
        ),
        pytest.param(
            lambda root: chart_dir(root, CHART_YAML.replace("name: traefik", "name: ingress-nginx")),
            {},
            "member local: traefik_chart_path: chart ingress-nginx 41.3.0 in {root}/traefik "
            "does not match traefik_chart_name traefik",
            id="name-mismatch",
        ),
        pytest.param(
            lambda root: chart_dir(root, CHART_YAML.replace("41.3.0", "41.2.0")),
            {},
            "member local: traefik_chart_path: chart traefik 41.2.0 in {root}/traefik "
            "does not match traefik_chart_version 41.3.0",
            id="version-mismatch",
        ),
        pytest.param(
            lambda root: archive(root, {"cert-manager/Chart.yaml": "name: cert-manager\nversion: v1.20.2\n"}),
            {},
            "member local: traefik_chart_path: chart cert-manager v1.20.2 in {root}/traefik-41.3.0.tgz "
            "does not match traefik_chart_name traefik and traefik_chart_version 41.3.0",
            id="archive-name-and-version-mismatch",
        ),
        pytest.param(
            lambda root: chart_dir(root, CHART_YAML.replace("41.3.0", "v41.3.0")),
            {},
            "member local: traefik_chart_path: chart traefik v41.3.0 in {root}/traefik "
            "does not match traefik_chart_version 41.3.0",
            id="version-compared-as-written",
        ),
        pytest.param(
            lambda root: "",
            {},
            "member local: traefik_chart_path: is empty: give a chart directory or a packaged chart (.tgz)",
            id="empty-path",
        ),
        pytest.param(
            lambda root: root / "nowhere",
            {"member": None, "variables": {"path": "path", "name": "name", "version": "version"}},
            "path: {root}/nowhere does not exist",
            id="standalone-names-the-option",
        ),
    ],
)
def test_what_is_not_the_pinned_chart_fails_naming_member_and_variable(
    tmp_path: Path, make: Any, overrides: dict[str, Any], message: str
) -> None:
    args = params(make(tmp_path), **overrides)
    with pytest.raises(_chart.ChartError) as raised:
        _chart.check(args)
    assert _chart.failure(args, str(raised.value)).startswith(message.format(root=tmp_path))


def test_a_corrupt_archive_is_not_a_chart(tmp_path: Path) -> None:
    path = archive(tmp_path, {"traefik/Chart.yaml": CHART_YAML})
    path.write_bytes(path.read_bytes()[:40])
    with pytest.raises(_chart.ChartError, match=r"is neither a chart directory nor a chart archive"):
        _chart.check(params(path))


# ---------------------------------------------------------------------------
# main(): argument handling, check mode, failure


class Exited(Exception):
    def __init__(self, result: dict[str, Any]) -> None:
        super().__init__(result)
        self.result = result


def call_main(monkeypatch: pytest.MonkeyPatch, args: dict[str, Any]) -> dict[str, Any]:
    def finish(_module: Any, **kwargs: Any) -> None:
        raise Exited(kwargs)

    monkeypatch.setattr(chart_info.AnsibleModule, "exit_json", finish)
    monkeypatch.setattr(chart_info.AnsibleModule, "fail_json", lambda m, **kw: finish(m, failed=True, **kw))
    with patch_module_args(args), pytest.raises(Exited) as exited:
        chart_info.main()
    return exited.value.result


@pytest.mark.parametrize("check_mode", [False, True])
def test_main_reads_the_chart_and_changes_nothing(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, check_mode: bool
) -> None:
    path = chart_dir(tmp_path)
    before = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*"))
    result = call_main(
        monkeypatch,
        {"path": str(path), "name": "traefik", "version": "41.3.0", "_ansible_check_mode": check_mode},
    )
    assert result == {
        "changed": False,
        "path": str(path),
        "format": "directory",
        "name": "traefik",
        "version": "41.3.0",
        "app_version": "v3.7.11",
        "api_version": "v2",
    }
    assert sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*")) == before


def test_main_fails_with_the_variables_given_and_defaults_the_others(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    path = chart_dir(tmp_path, CHART_YAML.replace("41.3.0", "41.2.0"))
    result = call_main(
        monkeypatch,
        {
            "path": str(path),
            "version": "41.3.0",
            "member": "local",
            "variables": {"path": "traefik_chart_path"},
        },
    )
    assert result["failed"] is True
    assert result["msg"] == (
        f"member local: traefik_chart_path: chart traefik 41.2.0 in {path} does not match version 41.3.0"
    )


def test_main_without_variables_names_its_own_options(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    result = call_main(monkeypatch, {"path": str(tmp_path / "nowhere")})
    assert result == {"failed": True, "msg": f"path: {tmp_path}/nowhere does not exist"}


def test_documented_options_match_the_argument_spec() -> None:
    doc = yaml.safe_load(chart_info.DOCUMENTATION)
    spec = _chart.argspec()
    assert set(doc["options"]) == set(spec)
    for name, option in doc["options"].items():
        assert option.get("type") == spec[name].get("type"), name
        assert option.get("required", False) == spec[name].get("required", False), name
        assert option.get("default") == spec[name].get("default"), name
    suboptions = doc["options"]["variables"]["suboptions"]
    assert {k: v["default"] for k, v in suboptions.items()} == {
        k: v["default"] for k, v in spec["variables"]["options"].items()
    }
    assert doc["version_added"] == "0.1.0"
    assert isinstance(yaml.safe_load(chart_info.EXAMPLES), list)
    assert set(yaml.safe_load(chart_info.RETURN)) == {
        "path",
        "format",
        "name",
        "version",
        "app_version",
        "api_version",
    }
