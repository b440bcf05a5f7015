"""Validation: the official schemas (kubernetes-validate), CRD schemas, and the API-server rules.

Unknown fields are found by validating against the *strict* schemas (every object closed
with additionalProperties: false); they are then reported or dropped according to
`fieldValidation`, as kube-apiserver does. Other schema errors become 422 Invalid.
"""

from __future__ import annotations

import base64
import binascii
import copy
import ipaddress
import re
from collections.abc import Iterable
from typing import Any

import jsonschema

from sandbox.errors import Causes, bad_request
from sandbox.kinds import Kind
from sandbox.schemas import Schema, SchemaSet

Obj = dict[str, Any]

DNS_LABEL_RE = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
DNS1035_RE = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")
DNS_SUBDOMAIN_RE = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
WILDCARD_RE = re.compile(r"^\*\.[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
QUALIFIED_NAME_RE = re.compile(r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$")
LABEL_VALUE_RE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")
CONFIG_KEY_RE = re.compile(r"^[-._a-zA-Z0-9]+$")
IANA_SVC_NAME_RE = re.compile(r"^[a-z0-9]([a-z0-9-]*[a-z0-9])?$")

MSG_DNS_LABEL = (
    "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start "
    "and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is "
    "'[a-z0-9]([-a-z0-9]*[a-z0-9])?')"
)
MSG_DNS1035 = (
    "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic "
    "character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for "
    "validation is '[a-z]([-a-z0-9]*[a-z0-9])?')"
)
MSG_SUBDOMAIN = (
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must "
    "start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is "
    "'[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
)
MSG_WILDCARD = (
    "a wildcard DNS-1123 subdomain must start with '*.', followed by a valid DNS subdomain, which must "
    "consist of lower case alphanumeric characters, '-' or '.' and end with an alphanumeric character "
    "(e.g. '*.example.com', regex used for validation is "
    "'\\*\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
)
MSG_QUALIFIED = (
    "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an "
    "alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is "
    "'([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')"
)
MSG_LABEL_VALUE = (
    "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must "
    "start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used "
    "for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')"
)


def field_path(parts: Iterable[Any]) -> str:
    out = ""
    for p in parts:
        out += f"[{p}]" if isinstance(p, int) else (("." if out else "") + str(p))
    return out


# --- names and metadata ---------------------------------------------------------------------

# Kinds whose names are DNS labels (kube-apiserver's per-kind name validation).
_DNS1035_NAMES = {"services"}
_DNS_LABEL_NAMES = {"namespaces"}


def check_name(kind: Kind, name: str, causes: Causes, field: str = "metadata.name") -> None:
    if kind.plural in _DNS1035_NAMES and not kind.group:
        if len(name) > 63 or not DNS1035_RE.match(name):
            causes.invalid(
                field, name, MSG_DNS1035 if len(name) <= 63 else "must be no more than 63 characters"
            )
    elif kind.plural in _DNS_LABEL_NAMES and not kind.group:
        if len(name) > 63 or not DNS_LABEL_RE.match(name):
            causes.invalid(
                field, name, MSG_DNS_LABEL if len(name) <= 63 else "must be no more than 63 characters"
            )
    elif len(name) > 253 or not DNS_SUBDOMAIN_RE.match(name):
        causes.invalid(
            field, name, MSG_SUBDOMAIN if len(name) <= 253 else "must be no more than 253 characters"
        )


def _qualified_key(key: str, field: str, causes: Causes) -> None:
    prefix, _, name = key.rpartition("/")
    if "/" in prefix:
        causes.invalid(
            field, key, "a qualified name must consist of alphanumeric characters, '-', '_' or '.'"
        )
        return
    if prefix and (len(prefix) > 253 or not DNS_SUBDOMAIN_RE.match(prefix)):
        causes.invalid(field, key, "prefix part " + MSG_SUBDOMAIN)
    if not name:
        causes.invalid(field, key, "name part must be non-empty")
    elif len(name) > 63:
        causes.invalid(field, key, "name part must be no more than 63 characters")
    elif not QUALIFIED_NAME_RE.match(name):
        causes.invalid(field, key, MSG_QUALIFIED)


def check_metadata(kind: Kind, obj: Obj, causes: Causes) -> None:
    meta = obj.get("metadata") or {}
    labels = meta.get("labels") or {}
    for key, value in labels.items():
        _qualified_key(key, "metadata.labels", causes)
        if not isinstance(value, str) or len(value) > 63 or not LABEL_VALUE_RE.match(value):
            causes.invalid("metadata.labels", value, MSG_LABEL_VALUE)
    for key in meta.get("annotations") or {}:
        _qualified_key(key.lower(), "metadata.annotations", causes)
    if sum(len(k) + len(str(v)) for k, v in (meta.get("annotations") or {}).items()) > 256 * 1024:
        causes.add("FieldValueTooLong", "metadata.annotations", "Too long: must have at most 262144 bytes")
    for i, fin in enumerate(meta.get("finalizers") or []):
        _qualified_key(fin, f"metadata.finalizers[{i}]", causes)


# --- schema validation ----------------------------------------------------------------------


def _go_type(schema: Any) -> str:
    types = schema.get("type") if isinstance(schema, dict) else None
    if isinstance(types, list):
        types = next((t for t in types if t != "null"), "object")
    return {
        "integer": "int32",
        "string": "string",
        "boolean": "bool",
        "number": "float64",
        "array": "[]",
    }.get(str(types), "object")


def _json_type(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return "null"


def _remove_unknown(obj: Obj, err: jsonschema.ValidationError, unknown: list[str]) -> None:
    container: Any = obj
    for p in err.absolute_path:
        container = container[p]
    if not isinstance(container, dict):
        return
    allowed = set((err.schema or {}).get("properties", {}) if isinstance(err.schema, dict) else ())
    for key in sorted(set(container) - allowed):
        unknown.append(field_path([*err.absolute_path, key]))
        del container[key]


def schema_check(
    validator: jsonschema.protocols.Validator,
    kind: Kind,
    obj: Obj,
    causes: Causes,
    builtin: bool,
) -> list[str]:
    """Validate; record causes; drop unknown fields from `obj`, returning their paths."""
    unknown: list[str] = []
    # Unknown fields first, so that a dropped field never hides behind another error. Removing
    # one level of them may reveal none deeper, but nesting is bounded: a few rounds suffice.
    for _round in range(5):
        errors = list(validator.iter_errors(obj))
        extra = [e for e in errors if e.validator == "additionalProperties"]
        if not extra:
            break
        for e in sorted(extra, key=lambda e: len(e.absolute_path), reverse=True):
            _remove_unknown(obj, e, unknown)
    else:
        errors = list(validator.iter_errors(obj))
    for e in errors:
        if e.validator == "additionalProperties":
            continue
        path = list(e.absolute_path)
        if e.validator == "required":
            missing = [
                r for r in (e.validator_value or []) if isinstance(e.instance, dict) and r not in e.instance
            ]
            for r in missing:
                causes.required(field_path([*path, r]))
        elif e.validator == "enum":
            causes.unsupported(
                field_path(path), e.instance, [str(v) for v in e.validator_value if v is not None]
            )
        elif e.validator in ("type", "oneOf", "anyOf") and builtin:
            struct = field_path([str(p) for p in path if not isinstance(p, int)])
            raise bad_request(
                f'{kind.kind} in version "{kind.version}" cannot be handled as a {kind.kind}: json: cannot '
                f"unmarshal {_json_type(e.instance)} into Go struct field {kind.kind}.{struct} of type "
                f"{_go_type(e.schema)}"
            )
        elif e.validator == "type":
            where = field_path(path)
            causes.invalid(
                where,
                _json_type(e.instance),
                f"{where} in body must be of type {_go_type(e.schema).replace('int32', 'integer')}: "
                f'"{_json_type(e.instance)}"',
            )
        else:
            causes.invalid(field_path(path), e.instance, e.message)
    return unknown


def crd_validator(schema: Schema | None) -> jsonschema.protocols.Validator:
    """A jsonschema validator for a CRD's openAPIV3Schema, closed where the CRD prunes."""
    converted = _structural(copy.deepcopy(schema or {"type": "object"}), top=True)
    return jsonschema.Draft202012Validator(converted)


def _structural(s: Any, top: bool = False) -> Any:
    if not isinstance(s, dict):
        return s
    out: dict[str, Any] = {}
    for key, value in s.items():
        if key == "properties":
            out[key] = {k: _structural(v) for k, v in value.items()}
        elif key in ("items", "additionalProperties", "not"):
            out[key] = _structural(value) if isinstance(value, dict) else value
        elif key in ("allOf", "anyOf", "oneOf"):
            out[key] = [_structural(v) for v in value]
        elif key.startswith("x-kubernetes-") or key in ("nullable", "description", "example", "externalDocs"):
            continue
        else:
            out[key] = value
    if s.get("x-kubernetes-int-or-string"):
        out.pop("type", None)
        out["anyOf"] = [*out.get("anyOf", []), {"type": "integer"}, {"type": "string"}]
    if s.get("nullable") and "type" in out:
        out["type"] = [out["type"], "null"]
    if top or s.get("x-kubernetes-embedded-resource"):
        props = out.setdefault("properties", {})
        props["apiVersion"] = {"type": "string"}
        props["kind"] = {"type": "string"}
        # ObjectMeta is checked by the server's own rules; the CRD may only constrain the name.
        props["metadata"] = {"type": "object"}
    if (
        out.get("type") == "object"
        and "additionalProperties" not in out
        and not s.get("x-kubernetes-preserve-unknown-fields")
    ):
        out["additionalProperties"] = False
        out.setdefault("properties", {})
    return out


# --- the API-server rules the schemas do not express -----------------------------------------


def check_ingress(obj: Obj, causes: Causes, creating: bool) -> None:
    spec = obj.get("spec") or {}
    annotations = (obj.get("metadata") or {}).get("annotations") or {}
    class_name = spec.get("ingressClassName")
    if not spec.get("defaultBackend") and not spec.get("rules"):
        causes.invalid("spec", spec.get("rules"), "either `defaultBackend` or `rules` must be specified")
    if spec.get("defaultBackend"):
        _ingress_backend(spec["defaultBackend"], "spec.defaultBackend", causes)
    for i, rule in enumerate(spec.get("rules") or []):
        base = f"spec.rules[{i}]"
        if rule.get("host"):
            _ingress_host(rule["host"], f"{base}.host", causes)
        http = rule.get("http")
        if http is None:
            continue
        paths = http.get("paths") or []
        if not paths:
            causes.required(f"{base}.http.paths")
        for j, p in enumerate(paths):
            _ingress_path(p, f"{base}.http.paths[{j}]", causes)
    for i, tls in enumerate(spec.get("tls") or []):
        for j, host in enumerate(tls.get("hosts") or []):
            _ingress_host(host, f"spec.tls[{i}].hosts[{j}]", causes, ip_check=False)
        secret = tls.get("secretName")
        if secret and (len(secret) > 253 or not DNS_SUBDOMAIN_RE.match(secret)):
            causes.invalid(f"spec.tls[{i}].secretName", secret, MSG_SUBDOMAIN)
    if class_name is not None and (len(class_name) > 253 or not DNS_SUBDOMAIN_RE.match(class_name)):
        causes.invalid("spec.ingressClassName", class_name, MSG_SUBDOMAIN)
    # Only on create: objects stored before the rule existed may still be updated.
    if creating and class_name is not None and "kubernetes.io/ingress.class" in annotations:
        causes.invalid(
            "annotations.kubernetes.io/ingress.class",
            annotations["kubernetes.io/ingress.class"],
            "can not be set when the class field is also set",
        )


def _ingress_host(host: str, field: str, causes: Causes, ip_check: bool = True) -> None:
    if ip_check:
        try:
            ipaddress.ip_address(host)
            causes.invalid(field, host, "must be a DNS name, not an IP address")
        except ValueError:
            pass
    if "*" in host:
        if not WILDCARD_RE.match(host):
            causes.invalid(field, host, MSG_WILDCARD)
    elif len(host) > 253 or not DNS_SUBDOMAIN_RE.match(host):
        causes.invalid(field, host, MSG_SUBDOMAIN)


_PATH_TYPES = ["Exact", "ImplementationSpecific", "Prefix"]


def _ingress_path(p: Obj, field: str, causes: Causes) -> None:
    path = p.get("path") or ""
    path_type = p.get("pathType")
    if path_type is None:
        # kube-apiserver stops here for this path: nothing else about it is reported.
        causes.required(f"{field}.pathType", "pathType must be specified")
        return
    if path_type in ("Exact", "Prefix"):
        if not path.startswith("/"):
            causes.invalid(f"{field}.path", path, "must be an absolute path")
        for bad in ("//", "/./", "/../", "%2f", "%2F"):
            if bad in path:
                causes.invalid(f"{field}.path", path, f"must not contain '{bad}'")
        for bad in ("/..", "/."):
            if path.endswith(bad):
                causes.invalid(f"{field}.path", path, f"cannot end with '{bad}'")
    elif path_type == "ImplementationSpecific":
        if path and not path.startswith("/"):
            causes.invalid(f"{field}.path", path, "must be an absolute path")
    else:
        causes.unsupported(f"{field}.pathType", path_type, _PATH_TYPES)
    _ingress_backend(p.get("backend") or {}, f"{field}.backend", causes)


def _port_name_errors(name: str) -> str | None:
    if len(name) > 15:
        return "must be no more than 15 characters"
    if not re.match(r"^[-a-z0-9]+$", name):
        return "must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)"
    if not re.search(r"[a-z]", name):
        return "must contain at least one letter (a-z)"
    if "--" in name:
        return "must not contain consecutive hyphens"
    if name.startswith("-") or name.endswith("-"):
        return "must not begin or end with a hyphen"
    return None


def _ingress_backend(backend: Obj, field: str, causes: Causes) -> None:
    service, resource = backend.get("service"), backend.get("resource")
    if service is not None and resource is not None:
        causes.invalid(field, "", "cannot set both resource and service backends")
        return
    if resource is not None:
        group = resource.get("apiGroup")
        if group is not None and not DNS_SUBDOMAIN_RE.match(group):
            causes.invalid(f"{field}.resource.apiGroup", group, MSG_SUBDOMAIN)
        for key in ("kind", "name"):
            value = resource.get(key) or ""
            if not value:
                causes.required(f"{field}.resource.{key}", f"{key} is required")
            elif "/" in value or "%" in value or value in (".", ".."):
                causes.invalid(f"{field}.resource.{key}", value, "may not contain '/' or '%'")
        return
    if service is None:
        causes.invalid(field, "", "resource or service backend is required")
        return
    name = service.get("name") or ""
    if not name:
        causes.required(f"{field}.service.name")
    elif len(name) > 63 or not DNS1035_RE.match(name):
        causes.invalid(f"{field}.service.name", name, MSG_DNS1035)
    port = service.get("port") or {}
    port_name, number = port.get("name") or "", port.get("number") or 0
    if port_name and number:
        causes.invalid(field, "", "cannot set both port name & port number")
    elif port_name:
        problem = _port_name_errors(port_name)
        if problem:
            causes.invalid(f"{field}.service.port.name", port_name, problem)
    elif number:
        if not 1 <= int(number) <= 65535:
            causes.invalid(f"{field}.service.port.number", number, "must be between 1 and 65535, inclusive")
    else:
        causes.required(field, "port name or number is required")


_SERVICE_TYPES = ["ClusterIP", "ExternalName", "LoadBalancer", "NodePort"]
_PROTOCOLS = ["SCTP", "TCP", "UDP"]


def check_service(obj: Obj, causes: Causes) -> None:
    spec = obj.get("spec") or {}
    stype = spec.get("type", "ClusterIP")
    if stype not in _SERVICE_TYPES:
        causes.unsupported("spec.type", stype, _SERVICE_TYPES)
    ports = spec.get("ports") or []
    headless = spec.get("clusterIP") == "None"
    if stype == "ExternalName":
        name = spec.get("externalName")
        if not name:
            causes.required("spec.externalName")
        elif not DNS_SUBDOMAIN_RE.match(name.rstrip(".")):
            causes.invalid("spec.externalName", name, MSG_SUBDOMAIN)
    elif not ports and not headless:
        causes.required("spec.ports")
    names: set[str] = set()
    seen: set[tuple[int, str]] = set()
    node_ports: set[tuple[int, str]] = set()
    for i, port in enumerate(ports):
        base = f"spec.ports[{i}]"
        name = port.get("name")
        if len(ports) > 1 and not name:
            causes.required(f"{base}.name")
        if name:
            if len(name) > 63 or not DNS_LABEL_RE.match(name):
                causes.invalid(f"{base}.name", name, MSG_DNS_LABEL)
            if name in names:
                causes.duplicate(f"{base}.name", name)
            names.add(name)
        number = port.get("port")
        if number is None:
            causes.required(f"{base}.port")
        elif not 1 <= int(number) <= 65535:
            causes.invalid(f"{base}.port", number, "must be between 1 and 65535, inclusive")
        protocol = port.get("protocol", "TCP")
        if protocol not in _PROTOCOLS:
            causes.unsupported(f"{base}.protocol", protocol, _PROTOCOLS)
        if number is not None:
            if (int(number), protocol) in seen:
                causes.duplicate(base, {"port": number, "protocol": protocol})
            seen.add((int(number), protocol))
        target = port.get("targetPort")
        if isinstance(target, int) and not 1 <= target <= 65535:
            causes.invalid(f"{base}.targetPort", target, "must be between 1 and 65535, inclusive")
        elif isinstance(target, str) and (len(target) > 15 or not IANA_SVC_NAME_RE.match(target)):
            causes.invalid(
                f"{base}.targetPort",
                target,
                "must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)",
            )
        node_port = port.get("nodePort")
        if node_port:
            if stype not in ("NodePort", "LoadBalancer"):
                causes.forbidden(f"{base}.nodePort", "may not be used when `type` is 'ClusterIP'")
            elif not 30000 <= int(node_port) <= 32767:
                causes.invalid(
                    f"{base}.nodePort",
                    node_port,
                    "provided port is not in the valid range. The range of valid ports is 30000-32767",
                )
            elif (int(node_port), protocol) in node_ports:
                causes.duplicate(f"{base}.nodePort", node_port)
            node_ports.add((int(node_port), protocol))
    for key, value in (spec.get("selector") or {}).items():
        _qualified_key(key, "spec.selector", causes)
        if not LABEL_VALUE_RE.match(str(value)):
            causes.invalid("spec.selector", value, MSG_LABEL_VALUE)
    ip = spec.get("clusterIP")
    if ip not in (None, "", "None"):
        try:
            ipaddress.ip_address(ip)
        except ValueError:
            causes.invalid("spec.clusterIPs[0]", ip, "must be empty, 'None', or a valid IP address")


def check_service_update(old: Obj, new: Obj, causes: Causes) -> None:
    old_ip = (old.get("spec") or {}).get("clusterIP")
    new_ip = (new.get("spec") or {}).get("clusterIP")
    old_type = (old.get("spec") or {}).get("type")
    new_type = (new.get("spec") or {}).get("type")
    changing_to_external = new_type == "ExternalName" and old_type != "ExternalName"
    if old_ip and new_ip and old_ip != new_ip and not changing_to_external:
        causes.immutable("spec.clusterIP", new_ip)


def _check_data(obj: Obj, causes: Causes, decode: bool) -> None:
    total = 0
    for section in ("data", "binaryData", "stringData"):
        for key, value in (obj.get(section) or {}).items():
            if len(key) > 253 or not CONFIG_KEY_RE.match(key):
                causes.invalid(
                    f"{section}[{key}]",
                    key,
                    "a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. "
                    "'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')",
                )
            if decode and section in ("data", "binaryData") and isinstance(value, str):
                try:
                    raw = base64.b64decode(value, validate=True)
                except (binascii.Error, ValueError) as exc:
                    raise bad_request(
                        f'Secret in version "v1" cannot be handled as a Secret: illegal base64 data: {exc}'
                    ) from exc
                total += len(raw)
            else:
                total += len(str(value))
    if total > 1024 * 1024:
        causes.add("FieldValueTooLong", "data", "Too long: must have at most 1048576 bytes")


def check_secret(obj: Obj, causes: Causes) -> None:
    _check_data(obj, causes, decode=True)
    data = obj.get("data") or {}
    stype = obj.get("type", "Opaque")
    if stype == "kubernetes.io/tls":
        for key in ("tls.crt", "tls.key"):
            if key not in data:
                causes.required(f"data[{key}]")
    elif stype == "kubernetes.io/dockerconfigjson" and ".dockerconfigjson" not in data:
        causes.required("data[.dockerconfigjson]")
    elif stype == "kubernetes.io/basic-auth" and not {"username", "password"} & set(data):
        causes.add("FieldValueRequired", "data", "Required value: must contain username or password")


def check_immutable_data(kind: Kind, old: Obj, new: Obj, causes: Causes) -> None:
    if kind.plural == "secrets" and old.get("type", "Opaque") != new.get("type", "Opaque"):
        causes.immutable("type", new.get("type"))
    if old.get("immutable"):
        if not new.get("immutable"):
            causes.forbidden("immutable", "field is immutable when `immutable` is set")
        for section in ("data", "binaryData"):
            if (old.get(section) or {}) != (new.get(section) or {}):
                causes.forbidden(section, "field is immutable when `immutable` is set")


def check_crd(obj: Obj, causes: Causes) -> None:
    spec = obj.get("spec") or {}
    names = spec.get("names") or {}
    group = spec.get("group", "")
    name = (obj.get("metadata") or {}).get("name", "")
    expected = f"{names.get('plural', '')}.{group}"
    if name != expected:
        causes.invalid("metadata.name", name, 'must be spec.names.plural+"."+spec.group')
    if "." not in group:
        causes.invalid("spec.group", group, "should be a domain with at least one dot")
    if spec.get("scope") not in ("Namespaced", "Cluster"):
        causes.unsupported("spec.scope", spec.get("scope"), ["Cluster", "Namespaced"])
    versions = spec.get("versions") or []
    if not versions:
        causes.required("spec.versions", "must have exactly one version marked as storage version")
    elif sum(1 for v in versions if v.get("storage")) != 1:
        causes.invalid("spec.versions", versions, "must have exactly one version marked as storage version")
    for i, v in enumerate(versions):
        schema = (v.get("schema") or {}).get("openAPIV3Schema")
        if schema is None:
            causes.required(f"spec.versions[{i}].schema.openAPIV3Schema", "schemas are required")
        elif schema.get("type") != "object":
            causes.required("spec.validation.openAPIV3Schema.type", "must not be empty at the root")


def check_rules(kind: Kind, obj: Obj, causes: Causes, creating: bool = True) -> None:
    """The per-kind API-server rules (what the schema cannot say)."""
    if kind.custom:
        return
    if kind.group == "" and kind.plural == "services":
        check_service(obj, causes)
    elif kind.group == "" and kind.plural == "secrets":
        check_secret(obj, causes)
    elif kind.group == "" and kind.plural == "configmaps":
        _check_data(obj, causes, decode=False)
    elif kind.group == "networking.k8s.io" and kind.plural == "ingresses":
        check_ingress(obj, causes, creating)
    elif kind.group == "apiextensions.k8s.io":
        check_crd(obj, causes)
    elif kind.group == "apps" and kind.plural == "deployments":
        strategy = (obj.get("spec") or {}).get("strategy") or {}
        if strategy.get("type") == "Recreate" and strategy.get("rollingUpdate") is not None:
            causes.forbidden(
                "spec.strategy.rollingUpdate", "may not be specified when strategy `type` is 'Recreate'"
            )


def check_update_rules(kind: Kind, old: Obj, new: Obj, causes: Causes) -> None:
    if kind.group == "" and kind.plural == "services":
        check_service_update(old, new, causes)
    if kind.group == "" and kind.plural in ("secrets", "configmaps"):
        check_immutable_data(kind, old, new, causes)
    for dotted in kind.immutable:
        before, after = _dig(old, dotted), _dig(new, dotted)
        if before is not None and before != after:
            causes.immutable(dotted, after)


def _dig(obj: Obj, dotted: str) -> Any:
    cur: Any = obj
    for part in dotted.split("."):
        cur = cur.get(part) if isinstance(cur, dict) else None
    return cur


class Validator:
    """Validates objects of one Kubernetes minor (and custom resources against their CRDs)."""

    def __init__(self, schemas: SchemaSet) -> None:
        self.schemas = schemas
        self._crd_validators: dict[tuple[str, str, str], jsonschema.protocols.Validator] = {}

    def forget_crd(self, group: str) -> None:
        for key in [k for k in self._crd_validators if k[0] == group]:
            del self._crd_validators[key]

    def validate(self, kind: Kind, obj: Obj, field_validation: str, old: Obj | None = None) -> list[str]:
        """Validate `obj` in place (dropping unknown fields); return warnings; raise ApiError."""
        causes = Causes()
        name = (obj.get("metadata") or {}).get("name", "")
        if kind.custom:
            key = (kind.group, kind.version, kind.plural)
            if key not in self._crd_validators:
                self._crd_validators[key] = crd_validator(kind.crd_schema)
            validator: jsonschema.protocols.Validator | None = self._crd_validators[key]
        else:
            validator = self.schemas.validator(kind.api_version, kind.kind)
        unknown: list[str] = []
        if validator is not None:
            unknown = schema_check(validator, kind, obj, causes, builtin=not kind.custom)
        if unknown and field_validation == "Strict":
            listed = ", ".join(f'unknown field "{u}"' for u in unknown)
            raise bad_request(f"strict decoding error: {listed}")
        if name:
            check_name(kind, name, causes)
        check_metadata(kind, obj, causes)
        check_rules(kind, obj, causes, creating=old is None)
        if old is not None:
            check_update_rules(kind, old, obj, causes)
        if causes:
            raise causes.error(kind, name)
        if field_validation == "Ignore":
            return []
        return [f'unknown field "{u}"' for u in unknown]
