"""Fixtures for running the k3s_member role against a throwaway Debian root.

The root is made once per Debian suite with ``debootstrap --variant=minbase``
and cached under ``.tmp/k3s-root-cache/<suite>``; each test works on a copy,
reached through Ansible's ``community.general.chroot`` connection. A loopback
HTTPS server, with a certificate from a test CA that the root trusts, stands in
for the k3s release download site and records every path requested.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import http.server
import json
import os
import platform
import re
import shutil
import ssl
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
import trustme
from harness import BIN, REPO, ansible_env

CACHE = REPO / ".tmp" / "k3s-root-cache"

# The release architecture and binary suffix k3s uses for this machine.
ARCH, SUFFIX = {"x86_64": ("amd64", ""), "aarch64": ("arm64", "-arm64")}[platform.machine()]


def _suite() -> str:
    """The Debian suite of the test root: the host's own when it is Debian, else bookworm."""
    if os.environ.get("BINDER_K3S_TEST_SUITE"):
        return os.environ["BINDER_K3S_TEST_SUITE"]
    try:
        text = Path("/etc/os-release").read_text()
    except OSError:
        return "bookworm"
    fields = dict(line.split("=", 1) for line in text.splitlines() if "=" in line)
    if fields.get("ID") == "debian" and fields.get("VERSION_CODENAME"):
        return fields["VERSION_CODENAME"].strip('"')
    return "bookworm"


def _mirror(suite: str) -> str:
    """The Debian mirror apt is configured with for ``suite`` (both sources formats)."""
    apt = Path("/etc/apt")
    files = [apt / "sources.list", *sorted((apt / "sources.list.d").glob("*"))]
    for path in files:
        try:
            text = path.read_text()
        except OSError:
            continue
        for stanza in re.split(r"\n\s*\n", text):  # deb822 .sources
            uris = re.search(r"^URIs:\s*(\S+)", stanza, re.M)
            suites = re.search(r"^Suites:\s*(.+)$", stanza, re.M)
            if uris and suites and suite in suites.group(1).split() and "security" not in uris.group(1):
                return uris.group(1)
        for line in text.splitlines():  # one-line format
            words = line.split("#", 1)[0].split()
            if len(words) >= 3 and words[0] == "deb":
                rest = [w for w in words[1:] if not w.startswith("[")]
                if len(rest) >= 2 and rest[1] == suite:
                    return rest[0]
    return "http://deb.debian.org/debian"


@dataclass
class DebianRoot:
    suite: str
    path: Path
    seconds: float  # debootstrap's time, 0 when the cache was used


@pytest.fixture(scope="session")
def debian_root_cache() -> DebianRoot:
    """A minimal Debian root with python3, made once and cached by suite."""
    if os.geteuid() != 0:
        pytest.fail("the k3s_member role tests need root (debootstrap and chroot)")
    if shutil.which("debootstrap") is None:
        pytest.fail("debootstrap is not installed: run `make deb` (apt-get install debootstrap)")
    suite = _suite()
    target = CACHE / suite
    CACHE.mkdir(parents=True, exist_ok=True)
    with open(CACHE / f"{suite}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # another pytest run may be building it
        if (target / "usr" / "bin" / "python3").exists():
            return DebianRoot(suite, target, 0.0)
        building = CACHE / f"{suite}.building"
        shutil.rmtree(building, ignore_errors=True)
        started = time.monotonic()
        result = subprocess.run(
            ["debootstrap", "--variant=minbase", "--include=python3", suite, str(building), _mirror(suite)],
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode != 0:
            pytest.fail(f"debootstrap {suite} failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
        # The downloaded packages are not needed once installed.
        for deb in (building / "var/cache/apt/archives").glob("*.deb"):
            deb.unlink()
        # Rename only a complete root, so an interrupted build is never taken for the cache.
        building.rename(target)
        return DebianRoot(suite, target, time.monotonic() - started)


@pytest.fixture(scope="session")
def release_ca() -> trustme.CA:
    """The CA of the release server's certificate, as a public CA is for the real download site."""
    return trustme.CA()


@contextlib.contextmanager
def mounted_root(cache: DebianRoot, tmp_path: Path, ca: trustme.CA) -> Iterator[Path]:
    """A fresh copy of the cached root under ``tmp_path``, with /proc mounted (facts read memory and
    the OS there), that trusts ``ca``.

    The copy is an overlay over the cache (instant, and the cache stays untouched);
    where overlayfs cannot be mounted, a plain copy (a few seconds).
    """
    root = tmp_path / "root"
    upper, work = tmp_path / "upper", tmp_path / "work"
    for folder in (root, upper, work):
        folder.mkdir(parents=True)
    options = f"lowerdir={cache.path},upperdir={upper},workdir={work}"
    overlay = subprocess.run(
        ["mount", "-t", "overlay", "overlay", "-o", options, str(root)], capture_output=True, check=False
    )
    if overlay.returncode != 0:
        root.rmdir()
        subprocess.run(["cp", "-a", str(cache.path), str(root)], check=True)
    subprocess.run(["mount", "-t", "proc", "proc", str(root / "proc")], check=True)
    # The minimal root has no CA bundle; Ansible's URL modules also read certificates from
    # /etc/ansible, which leaves the root's own trust store alone.
    (root / "etc/ansible").mkdir(parents=True, exist_ok=True)
    ca.cert_pem.write_to_path(str(root / "etc/ansible/binder-test-release-ca.pem"))
    try:
        yield root
    finally:
        subprocess.run(["umount", str(root / "proc")], check=False)
        if overlay.returncode == 0:
            subprocess.run(["umount", str(root)], check=False)
        shutil.rmtree(tmp_path, ignore_errors=True)


@pytest.fixture
def node_root(debian_root_cache: DebianRoot, tmp_path: Path, release_ca: trustme.CA) -> Iterator[Path]:
    """A fresh copy of the cached root (see mounted_root)."""
    with mounted_root(debian_root_cache, tmp_path, release_ca) as root:
        yield root


FAKE_K3S = """#!/bin/sh
# Stand-in for the k3s binary: only `k3s --version` is used without a service.
echo "k3s version {version} (fake)"
echo "go version go1.24.0"
"""

FAKE_INSTALLER = """#!/bin/sh
# Stand-in for the k3s installer: checks how the role runs it, records that,
# and writes the service unit as the real one would.
set -eu
[ "${INSTALL_K3S_SKIP_DOWNLOAD:-}" = true ] || { echo "fake installer: must not download" >&2; exit 1; }
[ -x /usr/local/bin/k3s ] || { echo "fake installer: no executable /usr/local/bin/k3s" >&2; exit 1; }
mkdir -p /etc/systemd/system
printf '[Service]\\nExecStart=/usr/local/bin/k3s %s\\n' "${INSTALL_K3S_EXEC:-server}" > /etc/systemd/system/k3s.service
echo "version=${INSTALL_K3S_VERSION:-} skip_start=${INSTALL_K3S_SKIP_START:-} exec=${INSTALL_K3S_EXEC:-} binary=$(/usr/local/bin/k3s --version | head -n 1)" >> /var/log/fake-k3s-install.log
"""


UPGRADE_IMAGE_DIGEST = "sha256:" + hashlib.sha256(b"fake rancher/k3s-upgrade image").hexdigest()


def images_pin(version: str) -> dict[str, dict[str, str]]:
    """k3s_member_airgap_images_sha256 for the fake release of ``version``."""
    archive = release_files(version)[f"k3s-airgap-images-{ARCH}.tar.zst"]
    return {version: {ARCH: hashlib.sha256(archive).hexdigest()}}


def release_files(version: str) -> dict[str, bytes]:
    """The assets of a fake k3s release, by file name, with a matching sha256sum file."""
    binary = FAKE_K3S.format(version=version).encode()
    images = f"fake images archive of {version}\n".encode()
    names = {f"k3s{SUFFIX}": binary, f"k3s-airgap-images-{ARCH}.tar.zst": images}
    sums = "".join(f"{hashlib.sha256(data).hexdigest()}  {name}\n" for name, data in names.items())
    # A decoy line: the role must pick the exact asset name, not a prefix match.
    sums += f"{'0' * 64}  k3s{SUFFIX}-images.txt\n"
    return {**names, f"sha256sum-{ARCH}.txt": sums.encode(), "install.sh": FAKE_INSTALLER.encode()}


@dataclass
class ReleaseServer:
    """A loopback HTTP server that serves fake k3s releases and records the requested paths."""

    base: str
    files: dict[str, bytes]
    requests: list[str] = field(default_factory=list)  # GET paths: what was downloaded
    heads: list[str] = field(default_factory=list)  # HEAD paths: what check mode probed

    def add_release(self, version: str) -> None:
        for name, data in release_files(version).items():
            folder = "install" if name == "install.sh" else "k3s"
            self.files[f"/{folder}/{quote(version, safe='')}/{name}"] = data

    def add_upgrade_controller(self, version: str) -> dict[str, Any]:
        """Serve a fake system-upgrade-controller release; return the role variables that pin it."""
        files = {
            "crd.yaml": b"# fake CRDs of system-upgrade-controller\n",
            "system-upgrade-controller.yaml": b"# fake system-upgrade-controller\n",
        }
        for name, data in files.items():
            self.files[f"/suc/{version}/{name}"] = data
        return {
            "k3s_member_upgrade_plan": True,
            "k3s_member_upgrade_controller_version": version,
            "k3s_member_upgrade_controller_url": f"{self.base}/suc",
            "k3s_member_upgrade_controller_crd_sha256": hashlib.sha256(files["crd.yaml"]).hexdigest(),
            "k3s_member_upgrade_controller_manifest_sha256": hashlib.sha256(
                files["system-upgrade-controller.yaml"]
            ).hexdigest(),
            # No registry here: the digest is only written into the Plan.
            "k3s_member_upgrade_image_digest": UPGRADE_IMAGE_DIGEST,
        }

    def role_vars(self, version: str) -> dict[str, Any]:
        """The role variables that install ``version`` from this server, with its pinned checksums."""
        files = release_files(version)
        return {
            "k3s_member_version": version,
            "k3s_member_release_url": f"{self.base}/k3s",
            "k3s_member_installer_url": f"{self.base}/install/{quote(version, safe='')}/install.sh",
            "k3s_member_installer_sha256": hashlib.sha256(files["install.sh"]).hexdigest(),
            "k3s_member_binary_sha256": {version: {ARCH: hashlib.sha256(files[f"k3s{SUFFIX}"]).hexdigest()}},
        }


@contextlib.contextmanager
def serving(release_ca: trustme.CA) -> Iterator[ReleaseServer]:
    """A running ReleaseServer with a certificate from ``release_ca``."""
    server_state = ReleaseServer(base="", files={})

    class Handler(http.server.BaseHTTPRequestHandler):
        def _answer(self, with_body: bool) -> None:
            body = server_state.files.get(self.path)
            if body is None:
                self.send_error(404)
                return
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if with_body:
                self.wfile.write(body)

        def do_GET(self) -> None:
            server_state.requests.append(self.path)
            self._answer(with_body=True)

        def do_HEAD(self) -> None:
            server_state.heads.append(self.path)
            self._answer(with_body=False)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    release_ca.issue_cert("127.0.0.1").configure_cert(context)
    httpd.socket = context.wrap_socket(httpd.socket, server_side=True)
    server_state.base = f"https://127.0.0.1:{httpd.server_address[1]}"
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield server_state
    finally:
        httpd.shutdown()
        httpd.server_close()


@pytest.fixture
def release_server(release_ca: trustme.CA) -> Iterator[ReleaseServer]:
    with serving(release_ca) as server:
        yield server


@dataclass
class PlaybookRun:
    rc: int
    stdout: str
    stderr: str
    seconds: float

    @property
    def report(self) -> dict[str, Any]:
        report: dict[str, Any] = json.loads(self.stdout)
        return report

    def stats(self, host: str) -> dict[str, int]:
        stats: dict[str, int] = self.report["stats"][host]
        return stats

    def failures(self) -> str:
        """The failed tasks and their messages (or the raw output when it is not JSON)."""
        try:
            plays = self.report["plays"]
        except (ValueError, KeyError):
            return self.stdout[-4000:] + self.stderr[-4000:]
        lines = []
        for play in plays:
            for task in play["tasks"]:
                for host, result in task["hosts"].items():
                    if result.get("failed") or result.get("unreachable"):
                        lines.append(f"{host}: {task['task']['name']}: {result.get('msg')}")
        return "\n".join(lines) + self.stderr[-3000:]

    def failed_tasks(self, host: str) -> list[str]:
        """``<task name>: <message>`` of each task that failed on ``host`` (or could not reach it)."""
        return [
            f"{task['task']['name']}: {' '.join(str(result.get('msg')).split())}"
            for play in self.report["plays"]
            for task in play["tasks"]
            for result in [task["hosts"].get(host, {})]
            if result.get("failed") or result.get("unreachable")
        ]

    def changed_tasks(self, host: str) -> list[str]:
        names = []
        for play in self.report["plays"]:
            for task in play["tasks"]:
                result = task["hosts"].get(host, {})
                if result.get("changed"):
                    names.append(task["task"]["name"])
        return names


def run_playbook(
    inventory: Path, extra_vars: dict[str, Any], *args: str, json_output: bool = True
) -> PlaybookRun:
    """Run playbooks/bootstrap_k3s.yml, by default with the JSON callback, which reports every result and diff.

    ``json_output=False`` keeps the default callback, for runs whose human output (e.g. -vvv) is checked.
    """
    vars_file = inventory.with_suffix(".vars.json")
    vars_file.write_text(json.dumps(extra_vars))
    # One process per task instead of several: the chroot connection supports it.
    env = ansible_env(ANSIBLE_PIPELINING="1")
    if json_output:
        env["ANSIBLE_STDOUT_CALLBACK"] = "ansible.posix.json"
    started = time.monotonic()
    result = subprocess.run(
        [
            str(BIN / "ansible-playbook"),
            "playbooks/bootstrap_k3s.yml",
            "-i",
            str(inventory),
            "-e",
            f"@{vars_file}",
            *args,
        ],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    return PlaybookRun(result.returncode, result.stdout, result.stderr, time.monotonic() - started)
