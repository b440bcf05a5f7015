"""Search a run's output for secret values, as written and as base64 at any offset.

A secret rarely shows as written: ansible.builtin.slurp returns a whole file in base64, a Secret's
data is base64, a kubeconfig's client key is base64 of a PEM block. Searching for the value alone
would miss all of those.
"""

from __future__ import annotations

import base64


def base64_forms(secret: str) -> list[str]:
    """``secret`` as it shows inside any base64 text that contains it: one form per offset (0-2)
    of its first byte in the encoded stream, without the characters that depend on its neighbours."""
    forms = []
    for offset in range(3):
        encoded = base64.b64encode(b"\0" * offset + secret.encode()).decode()
        start = (offset * 4 + 2) // 3  # the first character made of the secret's bits alone
        forms.append(encoded[start : len(encoded) - 4])
    return forms


def leaks(output: str, secrets: dict[str, str]) -> list[str]:
    """Which of ``secrets`` (name: value) ``output`` shows, and in which form; and any PEM private key."""
    found = []
    for name, value in secrets.items():
        for form in [value, *base64_forms(value)]:
            if form and form in output:
                found.append(f"{name} as {form[:12]}...")
                break
    if "PRIVATE KEY-----" in output:
        found.append("a PEM private key")
    return found
