"""The HTTPS front: aiohttp application with bearer-token auth, audit log and fault injection."""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import ssl
import time
import traceback
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from aiohttp import web

from sandbox import discovery, tables, watch
from sandbox.audit import AuditLog
from sandbox.errors import ApiError, method_not_allowed
from sandbox.faults import Fault, Faults, FaultSpecError, parse
from sandbox.handlers import Api, Ctx, check_params, parse_body
from sandbox.router import GroupVersion, ResourceRequest, route

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
log = logging.getLogger("sandbox.server")

API_KEY: web.AppKey[Api] = web.AppKey("api", Api)
TOKEN_KEY: web.AppKey[str] = web.AppKey("token", str)
AUDIT_KEY: web.AppKey[AuditLog] = web.AppKey("audit", AuditLog)
FAULTS_KEY: web.AppKey[Faults] = web.AppKey("faults", Faults)
OPENAPI_KEY: web.AppKey[discovery.OpenAPI] = web.AppKey("openapi", discovery.OpenAPI)
ADDRESS_KEY: web.AppKey[list[str]] = web.AppKey("address", list)

_PUBLIC = ("/healthz", "/livez", "/readyz")
_ADMIN = "/sandbox/faults"
USER = "sandbox"


def _json(obj: Any, status: int = 200, warnings: list[str] | None = None) -> web.Response:
    response = web.Response(
        body=json.dumps(obj, separators=(",", ":")).encode(), status=status, content_type="application/json"
    )
    for w in warnings or []:
        response.headers.add("Warning", f"299 - {json.dumps(w)}")
    return response


def _error(err: ApiError) -> web.Response:
    response = _json(err.status(), err.code)
    for key, value in err.headers.items():
        response.headers[key] = value
    return response


@web.middleware
async def audit_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    started = time.monotonic()
    status = 500
    try:
        response = await handler(request)
        status = response.status
        return response
    except web.HTTPException as exc:
        status = exc.status
        raise
    finally:
        request.app[AUDIT_KEY].record(
            user=request.get("user", "system:anonymous"),
            verb=request.get("verb", request.method.lower()),
            method=request.method,
            path=request.path,
            query=request.query_string,
            status=request.get("status_override", status),
            latency=time.monotonic() - started,
            dry_run=request.query.get("dryRun") == "All",
            user_agent=request.headers.get("User-Agent", ""),
            fault=request.get("fault"),
        )


@web.middleware
async def auth_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    if request.path in _PUBLIC:
        return await handler(request)
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    expected = request.app[TOKEN_KEY]
    if scheme.lower() != "bearer" or not hmac.compare_digest(token.strip().encode(), expected.encode()):
        return _error(ApiError(401, "Unauthorized", "Unauthorized"))
    request["user"] = USER
    return await handler(request)


@web.middleware
async def fault_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    if request.path.startswith("/sandbox/") or request.path in _PUBLIC:
        return await handler(request)
    verb = _guess_verb(request)
    request["verb"] = verb
    fault: Fault | None = request.app[FAULTS_KEY].pick(request.method, verb, request.path)
    if fault is None:
        return await handler(request)
    request["fault"] = fault.name
    if fault.action == "delay":
        await asyncio.sleep(fault.seconds)
        return await handler(request)
    if fault.action == "drop":
        if request.transport is not None:
            request.transport.abort()
        request["status_override"] = 0
        raise ConnectionResetError("sandbox fault: connection dropped")
    if fault.action == "throttle":
        err = ApiError(
            429,
            "TooManyRequests",
            "the server has received too many requests and has asked us to try again later",
            {
                "retryAfterSeconds": fault.retry_after,
                "causes": [{"reason": "UnexpectedServerResponse", "message": "sandbox fault"}],
            },
            headers={"Retry-After": str(fault.retry_after)},
        )
    elif fault.action == "conflict":
        err = ApiError(
            409,
            "Conflict",
            "Operation cannot be fulfilled: the object has been modified; please apply "
            "your changes to the latest version and try again (sandbox fault)",
            {},
        )
    else:
        reasons = {500: "InternalError", 503: "ServiceUnavailable", 504: "Timeout", 502: "InternalError"}
        err = ApiError(
            fault.code,
            reasons.get(fault.code, "InternalError"),
            f"Internal error occurred: sandbox fault {fault.name}",
            {},
        )
    return _error(err)


def _guess_verb(request: web.Request) -> str:
    method = request.method
    watching = request.query.get("watch") in ("true", "1") or "/watch/" in request.path
    try:
        routed = route(request.app[API_KEY].registry, method, request.path, watching)
    except ApiError:
        return method.lower()
    if isinstance(routed, ResourceRequest):
        return routed.verb
    return method.lower()


def _params(request: web.Request) -> dict[str, str]:
    return {k: v for k, v in request.query.items()}


async def dispatch(request: web.Request) -> web.StreamResponse:
    try:
        return await _dispatch(request)
    except ApiError as err:
        return _error(err)
    except ConnectionResetError:
        raise
    except Exception as exc:  # one place that turns a sandbox bug into a 500 Status
        log.error(
            "internal error on %s %s: %s\n%s", request.method, request.path, exc, traceback.format_exc()
        )
        return _error(ApiError(500, "InternalError", f"Internal error occurred: {exc}", {}))


async def _dispatch(request: web.Request) -> web.StreamResponse:
    api = request.app[API_KEY]
    path = request.path.rstrip("/") or "/"
    if path in _PUBLIC:
        return web.Response(text="ok")
    if path == _ADMIN:
        return await _admin_faults(request)
    if path == "/version":
        return _json(discovery.version_info(api.schemas.minor))
    if path == "/api":
        return _json(discovery.api_versions(request.app[ADDRESS_KEY][0]))
    if path == "/apis":
        return _json(discovery.api_group_list(api.registry))
    if path == "/openapi/v2":
        accept = request.headers.get("Accept", "")
        body, ctype = discovery.openapi_v2(api.schemas.minor, "protobuf" in accept and "json" not in accept)
        return web.Response(body=body, headers={"Content-Type": ctype})
    if path == "/openapi/v3":
        return _json(request.app[OPENAPI_KEY].index())
    if path.startswith("/openapi/v3/"):
        return _openapi(request, path[len("/openapi/v3/") :])
    if path.startswith("/apis/") and path.count("/") == 2:
        group_doc = discovery.api_group(api.registry, path.split("/")[2])
        if group_doc is None:
            raise ApiError(404, "NotFound", "the server could not find the requested resource", {})
        return _json(group_doc)
    params = _params(request)
    routed = route(api.registry, request.method, path, params.get("watch") in ("true", "1"))
    if routed is None:
        raise ApiError(404, "NotFound", "the server could not find the requested resource", {})
    if isinstance(routed, GroupVersion):
        doc = discovery.resource_list(api.registry, routed.group, routed.version)
        if doc is None:
            raise ApiError(404, "NotFound", "the server could not find the requested resource", {})
        return _json(doc)
    request["verb"] = routed.verb
    return await _resource(request, api, routed, params)


def _openapi(request: web.Request, rest: str) -> web.Response:
    parts = rest.split("/")
    openapi = request.app[OPENAPI_KEY]
    doc = None
    if parts[0] == "api" and len(parts) == 2:
        doc = openapi.document("", parts[1])
    elif parts[0] == "apis" and len(parts) == 3:
        doc = openapi.document(parts[1], parts[2])
    elif parts in (["api"], ["apis"]):
        doc = {
            "openapi": "3.0.0",
            "info": {"title": "Kubernetes", "version": "v0"},
            "paths": {},
            "components": {},
        }
    if doc is None:
        raise ApiError(404, "NotFound", "the server could not find the requested resource", {})
    return _json(doc)


async def _resource(
    request: web.Request, api: Api, rr: ResourceRequest, params: dict[str, str]
) -> web.StreamResponse:
    ctx = Ctx(
        params, request.headers.get("User-Agent", ""), request.headers.get("Content-Type", "application/json")
    )
    kind, ns, name, sub = rr.kind, rr.namespace, rr.name, rr.subresource
    if rr.verb in ("create", "update", "patch", "delete", "deletecollection"):
        check_params(ctx)
    as_table = tables.wants_table(request.headers.get("Accept", ""))
    include = params.get("includeObject", "Metadata")
    if rr.verb == "get":
        obj = api.get(kind, ns, name)
        if as_table:
            return _json(
                tables.table(kind, [obj], {"resourceVersion": obj["metadata"]["resourceVersion"]}, include)
            )
        return _json(obj)
    if rr.verb == "list":
        listed = api.list(kind, ns, params)
        if as_table:
            return _json(tables.table(kind, listed["items"], listed["metadata"], include))
        return _json(listed)
    if rr.verb == "watch":
        if name:
            params = {
                **params,
                "fieldSelector": ",".join(
                    filter(None, [params.get("fieldSelector"), f"metadata.name={name}"])
                ),
            }
        return await watch.serve(request, api, kind, ns, params, as_table=as_table)
    if rr.verb == "create":
        if kind.namespaced and ns is None:
            raise method_not_allowed()
        body = parse_body(await request.read(), ctx.content_type, ctx.duplicates)
        obj = api.create(kind, ns, body, ctx)
        return _json(obj, 201, ctx.warnings)
    if rr.verb == "update":
        body = parse_body(await request.read(), ctx.content_type, ctx.duplicates)
        obj = api.update(kind, ns, name, body, ctx, subresource=sub)
        return _json(obj, 200, ctx.warnings)
    if rr.verb == "patch":
        obj, created = api.patch(kind, ns, name, await request.read(), ctx, subresource=sub)
        return _json(obj, 201 if created else 200, ctx.warnings)
    if rr.verb == "delete":
        raw = await request.read()
        body = parse_body(raw, "application/json") if raw else None
        obj, code = api.delete(kind, ns, name, body, ctx)
        return _json(obj, code)
    if rr.verb == "deletecollection":
        return _json(api.delete_collection(kind, ns, params, ctx))
    raise method_not_allowed()


async def _admin_faults(request: web.Request) -> web.Response:
    faults = request.app[FAULTS_KEY]
    if request.method == "GET":
        return _json({"faults": faults.list()})
    if request.method == "DELETE":
        name = request.query.get("name")
        return _json({"removed": faults.clear(name)})
    if request.method == "POST":
        try:
            body = json.loads(await request.read() or b"{}")
            spec = body.get("spec", body) if isinstance(body, dict) else body
            fault = faults.add(parse(spec))
        except (ValueError, FaultSpecError) as exc:
            return _json({"error": str(exc)}, 400)
        return _json({"added": fault.describe()}, 201)
    return _json({"error": "method not allowed"}, 405)


def make_app(api: Api, token: str, audit: AuditLog, faults: Faults) -> web.Application:
    app = web.Application(
        middlewares=[audit_middleware, auth_middleware, fault_middleware], client_max_size=16 * 1024 * 1024
    )
    app[API_KEY] = api
    app[TOKEN_KEY] = token
    app[AUDIT_KEY] = audit
    app[FAULTS_KEY] = faults
    app[OPENAPI_KEY] = discovery.OpenAPI(api.schemas, api.registry)
    app[ADDRESS_KEY] = ["127.0.0.1:6443"]
    app.router.add_route("*", "/{tail:.*}", dispatch)
    return app


def ssl_context(cert: Path, key: Path) -> ssl.SSLContext:
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(str(cert), str(key))
    ctx.set_alpn_protocols(["http/1.1"])
    return ctx
