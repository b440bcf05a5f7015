"""API errors and the `Status` bodies kube-apiserver answers them with."""

from __future__ import annotations

import json
from typing import Any

from sandbox.kinds import Kind


class ApiError(Exception):
    def __init__(
        self,
        code: int,
        reason: str,
        message: str,
        details: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.reason = reason
        self.message = message
        self.details = details
        self.headers = headers or {}

    def status(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "code": self.code,
        }
        if self.details is not None:
            body["details"] = self.details
        return body


def _details(kind: Kind, name: str) -> dict[str, Any]:
    d: dict[str, Any] = {"name": name, "kind": kind.plural}
    if kind.group:
        d["group"] = kind.group
    return d


def not_found(kind: Kind, name: str) -> ApiError:
    return ApiError(404, "NotFound", f'{kind.qualified} "{name}" not found', _details(kind, name))


def already_exists(kind: Kind, name: str) -> ApiError:
    return ApiError(409, "AlreadyExists", f'{kind.qualified} "{name}" already exists', _details(kind, name))


def conflict(kind: Kind, name: str) -> ApiError:
    return ApiError(
        409,
        "Conflict",
        f'Operation cannot be fulfilled on {kind.qualified} "{name}": the object has been modified; '
        "please apply your changes to the latest version and try again",
        _details(kind, name),
    )


def bad_request(message: str) -> ApiError:
    return ApiError(400, "BadRequest", message)


def method_not_allowed(
    message: str = "the server does not allow this method on the requested resource",
) -> ApiError:
    return ApiError(405, "MethodNotAllowed", message, {})


def fmt_value(value: Any) -> str:
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    return json.dumps(value, separators=(",", ":"))


class Causes:
    """Field errors collected while validating one object (kube's field.ErrorList)."""

    def __init__(self) -> None:
        self.items: list[dict[str, str]] = []

    def __bool__(self) -> bool:
        return bool(self.items)

    def add(self, reason: str, field: str, message: str) -> None:
        for existing in self.items:
            # The schema and the API-server rules may both report a missing field: keep one, the wordier.
            if existing["field"] == field and existing["reason"] == reason:
                if len(message) > len(existing["message"]):
                    existing["message"] = message
                return
        self.items.append({"reason": reason, "message": message, "field": field})

    def required(self, field: str, detail: str = "") -> None:
        self.add("FieldValueRequired", field, "Required value" + (f": {detail}" if detail else ""))

    def invalid(self, field: str, value: Any, detail: str) -> None:
        self.add("FieldValueInvalid", field, f"Invalid value: {fmt_value(value)}: {detail}")

    def unsupported(self, field: str, value: Any, supported: list[str]) -> None:
        values = ", ".join(json.dumps(s) for s in supported)
        self.add(
            "FieldValueNotSupported",
            field,
            f"Unsupported value: {fmt_value(value)}: supported values: {values}",
        )

    def duplicate(self, field: str, value: Any) -> None:
        self.add("FieldValueDuplicate", field, f"Duplicate value: {fmt_value(value)}")

    def forbidden(self, field: str, detail: str) -> None:
        self.add("FieldValueForbidden", field, f"Forbidden: {detail}")

    def immutable(self, field: str, value: Any) -> None:
        self.invalid(field, value, "field is immutable")

    def error(self, kind: Kind, name: str) -> ApiError:
        parts = [f"{c['field']}: {c['message']}" if c["field"] else c["message"] for c in self.items]
        summary = parts[0] if len(parts) == 1 else "[" + ", ".join(parts) + "]"
        qualified = f"{kind.kind}.{kind.group}" if kind.group else kind.kind
        details: dict[str, Any] = {"name": name, "kind": kind.kind, "causes": self.items}
        if kind.group:
            details["group"] = kind.group
        return ApiError(422, "Invalid", f'{qualified} "{name}" is invalid: {summary}', details)
