# Copyright (c) binder.ingress developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Private: the Kubernetes and DNS name rules the model checks.

Each check returns ``None`` when the value is valid, else the reason as a
clause ("it has uppercase letters") that the caller puts after the value and
what it should have been; the caller knows the inventory key.
The rules follow kube-apiserver's validation (k8s.io/apimachinery
validation), so a name accepted here is accepted by the API server.
"""

from __future__ import annotations

import hashlib
import ipaddress
import re

_LABEL_RE = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?\Z")
_DNS1035_RE = re.compile(r"[a-z]([-a-z0-9]*[a-z0-9])?\Z")
_IPV4_RE = re.compile(r"[0-9]+(\.[0-9]+){3}\Z")
_LABEL_VALUE_RE = re.compile(r"([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]\Z")
_QUALIFIED_NAME_RE = re.compile(r"([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]\Z")
_PORT_NAME_RE = re.compile(r"[a-z0-9]([a-z0-9-]*[a-z0-9])?\Z")
_HAS_LETTER_RE = re.compile(r"[a-z]")
_MIDDLEWARE_REF_RE = re.compile(r"[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?@[a-z0-9]([-a-z0-9]*[a-z0-9])?\Z")
_WHITESPACE_RE = re.compile(r"\s")
# The local part as RFC 5322 allows it unquoted; the domain as DNS names with at least one dot.
_EMAIL_RE = re.compile(
    r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
    r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+\Z"
)
# Go's time.ParseDuration, as traefik reads its timeouts (without the sign).
_HEADER_RE = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+\Z")
_DURATION_RE = re.compile(r"([0-9]+(\.[0-9]+)?(ns|us|ms|s|m|h))+\Z")
# A Kubernetes resource quantity as people write them for cpu and memory.
_QUANTITY_RE = re.compile(r"[0-9]+(\.[0-9]+)?(m|k|Ki|Mi|Gi|Ti|Pi|M|G|T|P)?\Z")
_LABEL_RULE = "each dot-separated label may only hold lowercase letters, digits and '-', and must start and end with a letter or digit"

DNS1123_LABEL_MAX = 63
DNS1123_SUBDOMAIN_MAX = 253
LABEL_VALUE_MAX = 63
PORT_NAME_MAX = 15

# kube-apiserver refuses these in Exact and Prefix paths (networking/v1 validation).
_INVALID_PATH_SEQUENCES = ("//", "/./", "/../", "%2f", "%2F")
_INVALID_PATH_SUFFIXES = ("/..", "/.")
PATH_TYPES = ("Exact", "Prefix", "ImplementationSpecific")


def dns1123_label(value: str) -> str | None:
    """A DNS-1123 label: what namespaces and component names must be."""
    if not value:
        return "it is empty"
    if len(value) > DNS1123_LABEL_MAX:
        return f"it is longer than {DNS1123_LABEL_MAX} characters ({len(value)})"
    if not _LABEL_RE.match(value):
        return (
            "only lowercase letters, digits and '-' are allowed, starting and ending with a letter or digit"
        )
    return None


def dns1035_label(value: str) -> str | None:
    """A DNS-1035 label: what Service names must be."""
    if not value:
        return "it is empty"
    if len(value) > DNS1123_LABEL_MAX:
        return f"it is longer than {DNS1123_LABEL_MAX} characters ({len(value)})"
    if not _DNS1035_RE.match(value):
        return "only lowercase letters, digits and '-' are allowed, starting with a letter and ending with a letter or digit"
    return None


def dns1123_subdomain(value: str) -> str | None:
    """A DNS-1123 subdomain: what object names (Ingress, Secret) must be."""
    if not value:
        return "it is empty"
    if len(value) > DNS1123_SUBDOMAIN_MAX:
        return f"it is longer than {DNS1123_SUBDOMAIN_MAX} characters ({len(value)})"
    for label in value.split("."):
        if not _LABEL_RE.match(label):
            return _LABEL_RULE
    return None


def host_name(value: str, *, allow_wildcard: bool = True) -> str | None:
    """An Ingress rule host: a DNS-1123 subdomain, optionally `*.` + one.

    The reasons name the usual mistakes (a URL, a port, a trailing dot, an IP
    address, capitals) because they are what people actually write.
    """
    if not value:
        return "it is empty"
    if "://" in value:
        return "it is a URL: give the host name only, without a scheme"
    if "/" in value:
        return "it has a path: give the host name only"
    if ":" in value:
        return "it has a port (or is an IPv6 address)"
    if value.endswith("."):
        return "it ends with a dot"
    if _IPV4_RE.match(value):
        return "it is an IP address (Ingress hosts must be DNS names)"
    if value != value.lower():
        return "it has uppercase letters"
    name = value
    if value.startswith("*."):
        if not allow_wildcard:
            return "wildcards are not allowed here"
        name = value[2:]
    elif "*" in value:
        return "the wildcard '*' is only allowed as the whole leftmost label ('*.example.org')"
    if len(value) > DNS1123_SUBDOMAIN_MAX:
        return f"it is longer than {DNS1123_SUBDOMAIN_MAX} characters ({len(value)})"
    for label in name.split("."):
        if not label:
            return "it has an empty label"
        if len(label) > DNS1123_LABEL_MAX:
            return f"the label {label[:20]!r}... is longer than {DNS1123_LABEL_MAX} characters"
        if not _LABEL_RE.match(label):
            return _LABEL_RULE
    return None


def label_value(value: str) -> str | None:
    """A Kubernetes label value (may be empty, at most 63 characters)."""
    if len(value) > LABEL_VALUE_MAX:
        return f"it is longer than {LABEL_VALUE_MAX} characters ({len(value)})"
    if value and not _LABEL_VALUE_RE.match(value):
        return (
            "only letters, digits, '-', '_' and '.' are allowed, starting and ending with a letter or digit"
        )
    return None


def qualified_name(value: str) -> str | None:
    """A label or annotation key: optional DNS-1123 subdomain prefix and '/', then a name of at most 63 characters."""
    prefix, slash, name = value.rpartition("/")
    if slash:
        if not prefix:
            return "the prefix before '/' is empty"
        reason = dns1123_subdomain(prefix)
        if reason:
            return f"its prefix {prefix!r} is not a DNS-1123 subdomain: {reason}"
    if not name:
        return "the name after the prefix is empty"
    if len(name) > DNS1123_LABEL_MAX:
        return f"the name after the prefix is longer than {DNS1123_LABEL_MAX} characters"
    if not _QUALIFIED_NAME_RE.match(name):
        return "only letters, digits, '-', '_' and '.' are allowed in the name, starting and ending with a letter or digit"
    return None


def port_name(value: str) -> str | None:
    """An IANA_SVC_NAME, what a named Service port must be."""
    if value.isdigit():
        return "it is a number written as a string: write the port number without quotes"
    if len(value) > PORT_NAME_MAX:
        return f"it is longer than {PORT_NAME_MAX} characters ({len(value)})"
    if not _PORT_NAME_RE.match(value) or "--" in value or not _HAS_LETTER_RE.search(value):
        return "only lowercase letters, digits and '-' are allowed, with at least one letter and no leading, trailing or double '-'"
    return None


def port_number(value: int) -> str | None:
    if not 1 <= value <= 65535:
        return "it is not between 1 and 65535"
    return None


def http_path(value: str, path_type: str) -> str | None:
    """An Ingress path: absolute, no whitespace, and what the API server refuses for Exact/Prefix."""
    if not value.startswith("/"):
        return "it is not absolute (must start with '/')"
    if _WHITESPACE_RE.search(value):
        return "it contains whitespace"
    if "?" in value or "#" in value:
        return "it contains '?' or '#' (a query or fragment is never part of the matched path)"
    if path_type in ("Exact", "Prefix"):
        for sequence in _INVALID_PATH_SEQUENCES:
            if sequence in value:
                return f"it contains {sequence!r}, which the API server refuses in {path_type} paths"
        for suffix in _INVALID_PATH_SUFFIXES:
            if value.endswith(suffix):
                return f"it ends with {suffix!r}, which the API server refuses in {path_type} paths"
    return None


def middleware_ref(value: str) -> str | None:
    """A traefik middleware reference as the Ingress annotation takes it: `name@provider`."""
    if not _MIDDLEWARE_REF_RE.match(value):
        return "it is not of the form 'name@provider' (e.g. 'default@file')"
    return None


def email(value: str) -> str | None:
    """An e-mail address as an ACME account takes it."""
    if not _EMAIL_RE.match(value):
        return "it is not of the form 'name@domain.tld'"
    return None


def header_name(value: str) -> str | None:
    """An HTTP header field name (RFC 9110 token)."""
    if not _HEADER_RE.match(value):
        return "it must be one or more letters, digits or !#$%&'*+-.^_`|~"
    return None


def duration(value: str) -> str | None:
    """A Go duration (600s, 10m, 1h30m)."""
    if not _DURATION_RE.match(value):
        return "it is not a duration such as 600s, 10m or 1h30m"
    return None


_DURATION_UNITS = {"ns": 1e-9, "us": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}
_DURATION_PART_RE = re.compile(r"([0-9]+(?:\.[0-9]+)?)(ns|us|ms|s|m|h)")


def duration_seconds(value: str) -> float:
    """A Go duration (600s, 10m, 1h30m) in seconds; ValueError naming the problem if it is none."""
    problem = duration(value)
    if problem:
        raise ValueError(problem)
    return sum(float(number) * _DURATION_UNITS[unit] for number, unit in _DURATION_PART_RE.findall(value))


def quantity(value: str) -> str | None:
    """A Kubernetes quantity for cpu or memory (100m, 0.5, 512Mi, 4Gi)."""
    if not _QUANTITY_RE.match(value):
        return "it is not a Kubernetes quantity such as 100m, 0.5, 512Mi or 4Gi"
    return None


def cidr(value: str) -> str | None:
    """An IPv4 or IPv6 network in CIDR notation (address/prefix length)."""
    if "/" not in value:
        return "it has no prefix length ('/n')"
    try:
        ipaddress.ip_network(value, strict=False)
    except ValueError:
        return "it is not an IPv4 or IPv6 address with a prefix length"
    return None


def dashed(host: str) -> str:
    """A host name as a name fragment: dots become dashes (beta.mybinder.org -> beta-mybinder-org)."""
    return host.replace(".", "-")


# Length of the hash that ends a shortened name: 8 hex digits, 32 bits, against the few
# hundred names of one member.
_HASH_LENGTH = 8


def bounded(prefix: str, fragment: str, limit: int) -> str:
    """`prefix + fragment`, or, when that is longer than `limit`, its shortened form.

    The shortened form keeps the prefix and the start of the fragment and ends with a hash of
    the whole name, so two long names stay apart and the same input always gives the same name.
    With a valid DNS-1123 fragment (a dashed host name), the result is valid DNS-1123 too.
    """
    name = prefix + fragment
    if len(name) <= limit:
        return name
    digest = hashlib.sha256(name.encode()).hexdigest()[:_HASH_LENGTH]
    keep = limit - len(prefix) - 1 - _HASH_LENGTH
    return f"{prefix}{fragment[:keep].rstrip('-.')}-{digest}"
