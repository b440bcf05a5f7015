# Copyright: binder.ingress developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Read a local Helm chart's Chart.yaml and check it against the pins (docs: plugins/modules/chart_info.py).

Run by the module's ``main()`` or, inside Ansible's worker, by the action plugin of the same name
(plugin_utils/_inprocess.py)."""

from __future__ import annotations

import os
import posixpath
import tarfile
import traceback
from dataclasses import asdict, dataclass
from typing import Any

from ansible.module_utils.basic import missing_required_lib

try:
    import yaml
except ImportError:
    YAML_IMPORT_ERROR: str | None = traceback.format_exc()
else:
    YAML_IMPORT_ERROR = None

# Chart.yaml is a few hundred bytes; a bigger "Chart.yaml" is not one and is not read whole.
MAX_CHART_YAML = 1024 * 1024


class ChartError(Exception):
    """The path is not the chart asked for; the message says why, naming the path."""


@dataclass(frozen=True)
class Chart:
    path: str
    format: str
    name: str
    version: str
    app_version: str
    api_version: str


def argspec() -> dict[str, Any]:
    return dict(
        path=dict(type="path", required=True),
        name=dict(type="str"),
        version=dict(type="str"),
        member=dict(type="str"),
        variables=dict(
            type="dict",
            default={},
            options=dict(
                path=dict(type="str", default="path"),
                name=dict(type="str", default="name"),
                version=dict(type="str", default="version"),
            ),
        ),
    )


def _chart_yaml_of_archive(path: str, real: str) -> bytes:
    """The top-level Chart.yaml of a chart archive (`<name>/Chart.yaml`, as `helm package` writes it)."""
    try:
        with tarfile.open(real, "r:*") as archive:
            found = [
                member
                for member in archive.getmembers()
                if member.isfile() and _is_top_chart_yaml(member.name)
            ]
            if not found:
                raise ChartError(f"{path} is not a chart (no <chart>/Chart.yaml in the archive)")
            if len(found) > 1:
                names = ", ".join(sorted(member.name for member in found))
                raise ChartError(f"{path} is not a chart: the archive holds more than one ({names})")
            if found[0].size > MAX_CHART_YAML:
                raise ChartError(
                    f"{path} is not a chart: {found[0].name} is larger than {MAX_CHART_YAML} bytes"
                )
            handle = archive.extractfile(found[0])
            if handle is None:  # only for members that are not regular files, which were left out above
                raise ChartError(f"{path} is not a chart: cannot read {found[0].name}")
            return handle.read()
    except (tarfile.TarError, EOFError, OSError) as e:
        # gzip raises an OSError (BadGzipFile) for a file that is not gzip at all.
        raise ChartError(f"{path} is neither a chart directory nor a chart archive (.tgz): {e}") from e


def _is_top_chart_yaml(name: str) -> bool:
    parts = posixpath.normpath(name).split("/")
    return len(parts) == 2 and parts[0] not in ("", "..") and parts[1] == "Chart.yaml"


def _chart_yaml_of_directory(path: str, real: str) -> bytes:
    chart_yaml = os.path.join(real, "Chart.yaml")
    if not os.path.isfile(chart_yaml):
        raise ChartError(f"{path} is not a chart (no Chart.yaml)")
    if os.path.getsize(chart_yaml) > MAX_CHART_YAML:
        raise ChartError(f"{path} is not a chart: Chart.yaml is larger than {MAX_CHART_YAML} bytes")
    try:
        with open(chart_yaml, "rb") as handle:
            return handle.read()
    except OSError as e:
        raise ChartError(f"{path}: cannot read Chart.yaml: {e.strerror}") from e


def _scalar(metadata: dict[str, Any], field: str) -> str:
    """A Chart.yaml field as text; YAML reads an unquoted `1.0` as a number."""
    value = metadata.get(field)
    if value is None or isinstance(value, (dict, list, bool)):
        return ""
    return str(value)


def read_chart(path: str) -> Chart:
    """The chart at path, a directory or an archive; ChartError, naming the path, when it is not one."""
    if not path:
        raise ChartError("is empty: give a chart directory or a packaged chart (.tgz)")
    real = os.path.realpath(path)
    if not os.path.exists(real):
        raise ChartError(f"{path} does not exist")
    if os.path.isdir(real):
        fmt, text = "directory", _chart_yaml_of_directory(path, real)
    elif os.path.isfile(real):
        fmt, text = "archive", _chart_yaml_of_archive(path, real)
    else:
        raise ChartError(f"{path} is neither a chart directory nor a chart archive (.tgz)")
    try:
        metadata = yaml.safe_load(text)
    except yaml.YAMLError as e:
        raise ChartError(f"{path}: Chart.yaml is not valid YAML: {e}") from e
    if not isinstance(metadata, dict):
        raise ChartError(f"{path}: Chart.yaml is not a mapping")
    chart = Chart(
        path=real,
        format=fmt,
        name=_scalar(metadata, "name"),
        version=_scalar(metadata, "version"),
        app_version=_scalar(metadata, "appVersion"),
        api_version=_scalar(metadata, "apiVersion"),
    )
    missing = [field for field in ("name", "version") if not getattr(chart, field)]
    if missing:
        raise ChartError(f"{path}: Chart.yaml has no {' and no '.join(missing)}")
    return chart


def check(params: dict[str, Any]) -> Chart:
    """The chart of params['path'], checked against the pins; ChartError says what is wrong."""
    chart = read_chart(params["path"])
    variables = params["variables"]
    differ = [
        f"{variables[field]} {params[field]}"
        for field in ("name", "version")
        if params[field] is not None and getattr(chart, field) != params[field]
    ]
    if differ:
        raise ChartError(
            f"chart {chart.name} {chart.version} in {params['path']} does not match {' and '.join(differ)}"
        )
    return chart


def failure(params: dict[str, Any], message: str) -> str:
    """The message as the user wrote the value: `member <member>: <variable of path>: <message>`."""
    prefix = f"member {params['member']}: " if params.get("member") else ""
    return f"{prefix}{params['variables']['path']}: {message}"


def run_chart_info(module: Any) -> None:
    if YAML_IMPORT_ERROR is not None:
        module.fail_json(msg=missing_required_lib("PyYAML"), exception=YAML_IMPORT_ERROR)
    try:
        chart = check(module.params)
    except ChartError as e:
        module.fail_json(msg=failure(module.params, str(e)))
    module.exit_json(changed=False, **asdict(chart))
