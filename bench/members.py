"""Generated members for the benchmarks: a catalogue of any size, shaped like a real member.

A real member has a few hosts per built-in component (hub, binder, harbor, grafana...), many
small services of its own (generic components, each its own Ingress), and a long tail of old
names redirected elsewhere. `catalogue(total)` keeps those shares at every size, so the number
of Ingresses grows with the number of hosts instead of piling hosts into a handful of Ingresses.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

BUILT_IN = ("jupyterhub", "binderhub", "federation-redirect", "harbor", "static", "prometheus", "grafana")
# Shares of the hosts; the rest goes to generic components of GENERIC_HOSTS hosts each.
BUILT_IN_SHARE = 0.01  # each built-in component
BUCKET_SHARE = 0.05
REDIRECT_SHARE = 0.15
GENERIC_HOSTS = 4


def catalogue(total: int, domain: str = "member.example.org") -> dict[str, Any]:
    """binder_ingresses_components with exactly `total` distinct hosts under `domain`."""
    if total < 20:
        raise ValueError(f"a generated member needs at least 20 hosts, not {total}")
    numbers: Iterator[int] = iter(range(total))

    def hosts(n: int, kind: str) -> list[str]:
        return [f"{kind}-{next(numbers)}.{domain}" for _ in range(n)]

    components: dict[str, Any] = {
        name: {"hosts": hosts(max(1, int(total * BUILT_IN_SHARE)), name)} for name in BUILT_IN
    }
    components["gcs-proxy"] = {
        "buckets": [
            {"name": f"bucket-{i}", "host": host}
            for i, host in enumerate(hosts(max(1, int(total * BUCKET_SHARE)), "archive"))
        ]
    }
    redirects: list[dict[str, Any]] = []
    for i, host in enumerate(hosts(max(1, int(total * REDIRECT_SHARE)), "old")):
        if i % 2:
            redirects.append({"type": "host", "from": host, "to": f"new-{i}.{domain}"})
        else:
            redirects.append({"type": "url", "from": host, "to": f"new-{i}.{domain}/moved", "code": 301})
    components["redirector"] = {"redirects": redirects}

    rest = total - sum(len(c["hosts"]) for c in components.values() if "hosts" in c)
    rest -= len(components["gcs-proxy"]["buckets"]) + len(redirects)
    for g in range((rest + GENERIC_HOSTS - 1) // GENERIC_HOSTS):
        n = min(GENERIC_HOSTS, rest - g * GENERIC_HOSTS)
        component: dict[str, Any] = {
            "hosts": hosts(n, f"app{g}"),
            "service": {"name": f"app-{g}", "port": 8080},
        }
        if g % 2:
            # Half of them also route an API path to a second Service, by port name.
            component["paths"] = [
                {"path": "/", "path_type": "Prefix"},
                {"path": "/api/", "path_type": "Prefix", "service": {"name": f"app-{g}-api", "port": "http"}},
            ]
        components[f"app-{g}"] = component
    return components
