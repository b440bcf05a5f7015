"""The certificate stand-in: cert-manager's ingress-shim and ACME issuer, over real ACME.

cert-manager's controller cannot be built from the Go module proxy, so the data plane does
its job for the ClusterIssuers the cert_manager role applies, talking ACME (the ``acme``
library, certbot's) to the ACME server each ClusterIssuer names (locally: Pebble):

1. **ingress-shim**: every Ingress annotated ``cert-manager.io/cluster-issuer: <name>``, or
   ``kubernetes.io/tls-acme: "true"`` (the controller's ``--default-issuer-name``), gets one
   ``cert-manager.io/v1`` Certificate per ``spec.tls[]`` entry, named by its ``secretName``,
   for exactly its hosts, owned by the Ingress;
2. **issuing**: a Certificate whose Secret is missing, is for other names or another issuer,
   or has passed 2/3 of its lifetime (cert-manager's default renewal point) is ordered from
   the ClusterIssuer's ``spec.acme.server`` (trusting ``caBundle`` if given), with the
   account key kept in ``privateKeySecretRef`` (in the controller's namespace);
3. **http01**: for each challenge, a solver Service and Ingress like cert-manager's
   (``/.well-known/acme-challenge/<token>``, the solver's IngressClass, labelled
   ``acme.cert-manager.io/http01-solver: "true"``); the Service's backend (backends.py)
   answers the key authorization, as cert-manager's acmesolver pod does. After a self check
   through traefik's ``web`` entrypoint (following redirects, as cert-manager's does) the
   challenge is accepted, and the ACME server validates it through real traefik;
4. **result**: the ``kubernetes.io/tls`` Secret (``tls.crt`` full chain, ``tls.key``; cert-manager
   writes ``ca.crt`` for ACME only when the server returns a root, which ACME does not), the
   Certificate's Ready condition (True/Ready, or False/Failed with the ACME error), Events on
   the Certificate, and the solver objects deleted. A failure is retried with exponential
   backoff (cert-manager backs off from an hour; here from seconds, for a local cluster).
"""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import hashlib
import logging
import re
import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import yarl
from acme import challenges, client, errors, messages
from acme.crypto_util import make_csr
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from josepy.json_util import field as jose_field
from josepy.jwk import JWK, JWKRSA

from .kube import ApiError, Kube, Obj, key_of, reconcile_loop

log = logging.getLogger(__name__)

CERTIFICATES = "/apis/cert-manager.io/v1/certificates"
CLUSTER_ISSUERS = "/apis/cert-manager.io/v1/clusterissuers"
# cert-manager's own names, so tools that know cert-manager read these objects as theirs.
ISSUER_NAME_ANNOTATION = "cert-manager.io/issuer-name"
ISSUER_KIND_ANNOTATION = "cert-manager.io/issuer-kind"
CERTIFICATE_NAME_ANNOTATION = "cert-manager.io/certificate-name"
ALT_NAMES_ANNOTATION = "cert-manager.io/alt-names"
SOLVER_LABEL = "acme.cert-manager.io/http01-solver"
DOMAIN_LABEL = "acme.cert-manager.io/http-domain"
TOKEN_LABEL = "acme.cert-manager.io/http-token"
# Which Certificate a solver object serves (cert-manager's point at the Challenge instead); an
# annotation, as a Certificate's name may be longer than a label value.
CERTIFICATE_ANNOTATION = "sandbox.binder.ingress/certificate"
DURATION_ANNOTATION = "cert-manager.io/duration"
SOLVER_PORT = 8089
CHALLENGE_PATH = "/.well-known/acme-challenge/"
RENEW_FRACTION = 2 / 3
BACKOFF_FIRST = 5.0
BACKOFF_MAX = 300.0
SELF_CHECK_TIMEOUT = 30.0
ORDER_TIMEOUT = 60.0


# --- pure parts -----------------------------------------------------------------------------


def requested_issuer(ingress: Obj, default_issuer: str | None) -> str | None:
    """The ClusterIssuer an Ingress asks for (ingress-shim's annotations), or None."""
    annotations = (ingress.get("metadata") or {}).get("annotations") or {}
    if annotations.get("cert-manager.io/issuer"):
        # ingress-shim takes a namespaced Issuer first; the stand-in issues through ClusterIssuers
        # only, so it makes no Certificate rather than one from the wrong issuer.
        return None
    if annotations.get("cert-manager.io/cluster-issuer"):
        return str(annotations["cert-manager.io/cluster-issuer"])
    if str(annotations.get("kubernetes.io/tls-acme", "")).lower() == "true":
        return default_issuer
    return None


def certificates_for(
    ingresses: dict[tuple[str, str], Obj], default_issuer: str | None
) -> dict[tuple[str, str], Obj]:
    """The Certificates ingress-shim makes for the Ingresses: (namespace, name) -> object."""
    out: dict[tuple[str, str], Obj] = {}
    for (namespace, name), ingress in sorted(ingresses.items()):
        issuer = requested_issuer(ingress, default_issuer)
        if issuer is None:
            continue
        annotations = ingress["metadata"].get("annotations") or {}
        for tls in (ingress.get("spec") or {}).get("tls") or []:
            secret, hosts = tls.get("secretName"), sorted(set(tls.get("hosts") or []))
            if not secret or not hosts or (namespace, secret) in out:
                continue  # cert-manager, too, makes one Certificate per Secret
            out[(namespace, str(secret))] = {
                "apiVersion": "cert-manager.io/v1",
                "kind": "Certificate",
                "metadata": {
                    "name": str(secret),
                    "namespace": namespace,
                    "ownerReferences": [
                        {
                            "apiVersion": "networking.k8s.io/v1",
                            "kind": "Ingress",
                            "name": name,
                            "uid": ingress["metadata"]["uid"],
                            "controller": True,
                            "blockOwnerDeletion": True,
                        }
                    ],
                },
                "spec": {
                    "secretName": str(secret),
                    "dnsNames": hosts,
                    "usages": ["digital signature", "key encipherment"],
                    "issuerRef": {"name": issuer, "kind": "ClusterIssuer", "group": "cert-manager.io"},
                    # ingress-shim's annotation for the requested lifetime.
                    **(
                        {"duration": annotations[DURATION_ANNOTATION]}
                        if annotations.get(DURATION_ANNOTATION)
                        else {}
                    ),
                },
            }
    return out


_GO_UNITS = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 0.001}


def parse_duration(text: str) -> dt.timedelta:
    """A Go duration as cert-manager's ``duration`` takes it (``2160h``, ``1h30m``, ``45s``)."""
    parts = re.findall(r"(\d+(?:\.\d+)?)(ms|h|m|s)", text)
    if not parts or "".join(n + u for n, u in parts) != text:
        raise ValueError(f"duration {text!r} is not a Go duration such as 2160h or 1h30m")
    return dt.timedelta(seconds=sum(float(n) * _GO_UNITS[u] for n, u in parts))


@dataclass(frozen=True)
class Issuer:
    """What the stand-in reads of an ACME ClusterIssuer."""

    name: str
    server: str
    email: str
    key_secret: str
    ingress_class: str | None
    ca_bundle: bytes | None
    profile: str | None = None
    # spec.acme.enableDurationFeature: the order asks for the Certificate's duration (notAfter).
    duration_feature: bool = False
    # The http01 solver's ingressTemplate.metadata: labels and annotations of its solver Ingresses.
    ingress_metadata: Obj = field(default_factory=dict, hash=False, compare=False)

    @classmethod
    def of(cls, obj: Obj) -> Issuer:
        acme = (obj.get("spec") or {}).get("acme")
        if not isinstance(acme, dict) or not acme.get("server"):
            raise ValueError("not an ACME issuer (no spec.acme.server)")
        http01 = [s["http01"] for s in acme.get("solvers") or [] if isinstance(s.get("http01"), dict)]
        if not http01 or not isinstance(http01[0].get("ingress"), dict):
            raise ValueError("no http01 solver over an Ingress")
        ingress = http01[0]["ingress"]
        bundle = acme.get("caBundle")
        return cls(
            name=str(obj["metadata"]["name"]),
            server=str(acme["server"]),
            email=str(acme.get("email") or ""),
            key_secret=str((acme.get("privateKeySecretRef") or {}).get("name") or ""),
            ingress_class=ingress.get("ingressClassName") or ingress.get("class"),
            ca_bundle=base64.b64decode(bundle) if bundle else None,
            profile=str(acme["profile"]) if acme.get("profile") else None,
            duration_feature=bool(acme.get("enableDurationFeature")),
            ingress_metadata=dict((ingress.get("ingressTemplate") or {}).get("metadata") or {}),
        )


def renewal_time(cert: x509.Certificate) -> dt.datetime:
    """cert-manager's default: renew when 2/3 of the lifetime has passed."""
    lifetime = cert.not_valid_after_utc - cert.not_valid_before_utc
    return cert.not_valid_before_utc + lifetime * RENEW_FRACTION


def issue_reason(certificate: Obj, secret: Obj | None, now: dt.datetime) -> str | None:
    """Why the Certificate needs issuing (cert-manager's trigger reasons), or None."""
    if secret is None:
        return "Issuing certificate as Secret does not exist"
    data = secret.get("data") or {}
    try:
        cert = x509.load_pem_x509_certificate(base64.b64decode(data["tls.crt"]))
    except (KeyError, ValueError):
        return "Issuing certificate as Secret contains an invalid certificate"
    spec = certificate.get("spec") or {}
    try:
        sans = set(
            cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value.get_values_for_type(
                x509.DNSName
            )
        )
    except x509.ExtensionNotFound:
        sans = set()
    if sans != set(spec.get("dnsNames") or []):
        return "Issuing certificate as Secret was previously issued for different DNS names"
    annotations = (secret.get("metadata") or {}).get("annotations") or {}
    if annotations.get(ISSUER_NAME_ANNOTATION) != (spec.get("issuerRef") or {}).get("name"):
        return "Issuing certificate as Secret was previously issued by a different issuer"
    if now >= renewal_time(cert):
        return "Renewing certificate as renewal was scheduled at " + renewal_time(cert).isoformat()
    return None


def backoff(failures: int) -> float:
    return float(min(BACKOFF_MAX, BACKOFF_FIRST * 2 ** max(0, failures - 1)))


def _short_hash(text: str) -> str:
    # cert-manager labels solver objects with a hash of the domain and token (label values are short).
    return hashlib.sha256(text.encode()).hexdigest()[:10]


def solver_objects(
    namespace: str,
    certificate: str,
    domain: str,
    token: str,
    ingress_class: str | None,
    template: Obj | None = None,
) -> tuple[Obj, Obj]:
    """The solver Service and Ingress for one http01 challenge, shaped like cert-manager's. The
    issuer's ``ingressTemplate.metadata`` (``template``) adds labels and annotations to the Ingress;
    the solver's own labels win over the template's, as cert-manager's do."""
    name = f"cm-acme-http-solver-{_short_hash(domain + '/' + token)}"
    labels = {
        SOLVER_LABEL: "true",
        DOMAIN_LABEL: _short_hash(domain),
        TOKEN_LABEL: _short_hash(token),
    }
    annotations = {CERTIFICATE_ANNOTATION: f"{namespace}/{certificate}"}
    service: Obj = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name, "namespace": namespace, "labels": labels, "annotations": annotations},
        "spec": {
            "type": "ClusterIP",
            "ports": [{"name": "http", "port": SOLVER_PORT, "targetPort": SOLVER_PORT, "protocol": "TCP"}],
            # The solver pod's labels: no pod runs, so the data plane's backend answers (backends.py).
            "selector": {
                SOLVER_LABEL: "true",
                DOMAIN_LABEL: labels[DOMAIN_LABEL],
                TOKEN_LABEL: labels[TOKEN_LABEL],
            },
        },
    }
    spec: Obj = {
        "rules": [
            {
                "host": domain,
                "http": {
                    "paths": [
                        {
                            "path": CHALLENGE_PATH + token,
                            "pathType": "ImplementationSpecific",
                            "backend": {"service": {"name": name, "port": {"number": SOLVER_PORT}}},
                        }
                    ]
                },
            }
        ]
    }
    if ingress_class:
        spec["ingressClassName"] = ingress_class
    ingress: Obj = {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "Ingress",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "labels": {**dict((template or {}).get("labels") or {}), **labels},
            "annotations": {
                "nginx.ingress.kubernetes.io/whitelist-source-range": "0.0.0.0/0,::/0",
                **dict((template or {}).get("annotations") or {}),
                **annotations,
            },
        },
        "spec": spec,
    }
    return service, ingress


def condition(status: bool, reason: str, message: str, generation: int | None, now: dt.datetime) -> Obj:
    return {
        "type": "Ready",
        "status": "True" if status else "False",
        "reason": reason,
        "message": message,
        "observedGeneration": generation,
        "lastTransitionTime": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
    }


def ready_condition(obj: Obj) -> Obj:
    """The Ready condition of a Certificate or ClusterIssuer, or {} when it has none yet."""
    found = [c for c in (obj.get("status") or {}).get("conditions") or [] if c.get("type") == "Ready"]
    return found[0] if found else {}


def acme_error(exc: BaseException) -> str:
    """The ACME server's own words for a failed order (problem type and detail)."""
    if isinstance(exc, errors.ValidationError):
        parts = []
        for authzr in exc.failed_authzrs:
            for challb in authzr.body.challenges:
                if challb.error is not None:
                    parts.append(f"{authzr.body.identifier.value}: {challb.error}")
        return "; ".join(parts) or str(exc)
    return str(exc) or type(exc).__name__


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _timestamp(when: dt.datetime) -> str:
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")


# --- the ACME side (blocking: run in a thread) -------------------------------------------------


@dataclass
class Account:
    issuer: Issuer
    client: client.ClientV2
    key: JWK
    bundle: Any = None  # the temporary caBundle file, kept open while the client lives
    # One request at a time per account: the client's nonce pool is not thread-safe.
    lock: threading.Lock = field(default_factory=threading.Lock)


def _register(issuer: Issuer, key_pem: bytes) -> Account:
    key = JWKRSA.load(key_pem)
    bundle = None
    verify: Any = True
    if issuer.ca_bundle:
        bundle = tempfile.NamedTemporaryFile(suffix=".pem")  # noqa: SIM115 - lives with the account
        bundle.write(issuer.ca_bundle)
        bundle.flush()
        verify = bundle.name  # requests takes a CA file where the type says bool
    net = client.ClientNetwork(key, verify_ssl=verify, user_agent="binder-ingress-sandbox-cert-manager")
    directory = client.ClientV2.get_directory(issuer.server, net)
    acme = client.ClientV2(directory, net)
    registration = messages.NewRegistration.from_data(
        email=issuer.email or None, terms_of_service_agreed=True
    )
    try:
        net.account = acme.new_account(registration)
    except errors.ConflictError as exc:  # the key has an account already
        net.account = acme.query_registration(
            messages.RegistrationResource(uri=exc.location, body=messages.Registration())
        )
    return Account(issuer, acme, key, bundle)


@dataclass
class Challenge:
    domain: str
    token: str
    key_authorization: str
    body: messages.ChallengeBody
    response: challenges.ChallengeResponse


class _NewOrder(messages.NewOrder):
    """newOrder with RFC 8555's optional notAfter, which the acme library does not send."""

    not_after: str | None = jose_field("notAfter", omitempty=True)


def _new_order(
    acme: client.ClientV2, names: list[str], csr: bytes, profile: str | None, not_after: dt.datetime | None
) -> messages.OrderResource:
    if not_after is None:
        return acme.new_order(csr, profile=profile)
    identifiers = [messages.Identifier(typ=messages.IDENTIFIER_FQDN, value=name) for name in names]
    body = _NewOrder(identifiers=identifiers, profile=profile or "", not_after=_timestamp(not_after))
    response = acme._post(acme.directory["newOrder"], body)
    order = messages.Order.from_json(response.json())
    authorizations = [
        acme._authzr_from_response(acme._post_as_get(url), uri=url) for url in order.authorizations
    ]
    return messages.OrderResource(
        body=order, uri=response.headers.get("Location"), authorizations=authorizations, csr_pem=csr
    )


def _order(
    account: Account, names: list[str], csr: bytes, profile: str | None, not_after: dt.datetime | None
) -> tuple[messages.OrderResource, list[Challenge]]:
    with account.lock:
        order = _new_order(account.client, names, csr, profile, not_after)
    found = []
    for authz in order.authorizations:
        if authz.body.status == messages.STATUS_VALID:
            continue  # reused authorization
        for challb in authz.body.challenges:
            if isinstance(challb.chall, challenges.HTTP01):
                response, validation = challb.chall.response_and_validation(account.key)
                found.append(
                    Challenge(
                        authz.body.identifier.value,
                        challb.chall.encode("token"),
                        validation,
                        challb,
                        response,
                    )
                )
                break
        else:
            raise errors.Error(f"{authz.body.identifier.value}: the ACME server offers no http-01 challenge")
    return order, found


def _finish(account: Account, order: messages.OrderResource, found: list[Challenge]) -> str:
    with account.lock:
        for chall in found:
            account.client.answer_challenge(chall.body, chall.response)
        deadline = dt.datetime.now() + dt.timedelta(seconds=ORDER_TIMEOUT)
        done = account.client.poll_and_finalize(order, deadline)
    return str(done.fullchain_pem)


# --- the controller ---------------------------------------------------------------------------


@dataclass
class _Attempts:
    failures: int = 0
    not_before: float = 0.0
    hosts: tuple[str, ...] = field(default_factory=tuple)


class CertStandIn:
    """Certificates for annotated Ingresses, issued over ACME through traefik."""

    def __init__(
        self,
        kube: Kube,
        web_port: Callable[[], int | None],
        solvers: dict[tuple[str, str], tuple[str, str, str]],
    ) -> None:
        self.kube = kube
        self.web_port = web_port
        # (namespace, Service) -> (domain, token, key authorization), read by the backends.
        self.solvers = solvers
        self._ingresses: dict[tuple[str, str], Obj] = {}
        self._accounts: dict[tuple[str, str, bytes | None], Account] = {}
        self._account_lock = asyncio.Lock()
        # The periodic pass also retries failures whose backoff has passed.
        self.resync = 10.0
        self._attempts: dict[tuple[str, str], _Attempts] = {}
        self._dirty = asyncio.Event()

    async def on_ingresses(self, cache: dict[tuple[str, str], Obj]) -> None:
        self._ingresses = cache
        self._dirty.set()

    async def run(self) -> None:
        await reconcile_loop("certificate stand-in", self._dirty, self.reconcile, self.resync)

    # --- ingress-shim ---

    async def _controller(self) -> tuple[str | None, str]:
        """cert-manager's controller Deployment: its default issuer and its namespace."""
        listing = await self.kube.get("/apis/apps/v1/deployments") or {}
        for deployment in listing.get("items") or []:
            for container in deployment["spec"]["template"]["spec"].get("containers") or []:
                args = [str(a) for a in container.get("args") or []]
                if any(a.startswith("--cluster-resource-namespace") for a in args):
                    names = [a.split("=", 1)[1] for a in args if a.startswith("--default-issuer-name=")]
                    return (names[0] if names else None), deployment["metadata"]["namespace"]
        return None, "cert-manager"

    async def reconcile(self) -> None:
        listing = await self.kube.get(CERTIFICATES)
        if listing is None:
            return  # cert-manager's CRDs are not installed
        default_issuer, resource_namespace = await self._controller()
        await self._issuers(resource_namespace)
        current = {key_of(c): c for c in listing.get("items") or []}
        changed = False
        for (namespace, name), body in certificates_for(self._ingresses, default_issuer).items():
            existing = current.get((namespace, name))
            if existing is None:
                await self.kube.create(f"/apis/cert-manager.io/v1/namespaces/{namespace}/certificates", body)
                log.info("certificate stand-in: created Certificate %s/%s", namespace, name)
                changed = True
            elif existing.get("spec") != body["spec"]:
                path = f"/apis/cert-manager.io/v1/namespaces/{namespace}/certificates/{name}"
                await self.kube.merge_patch(path, {"spec": body["spec"]})
                changed = True
        if changed:
            listing = await self.kube.get(CERTIFICATES) or {}
        items = listing.get("items") or []
        # Concurrently, as cert-manager's workers do: one slow challenge must not hold up the rest.
        results = await asyncio.gather(
            *(self._certificate(certificate, resource_namespace) for certificate in items),
            return_exceptions=True,
        )
        for certificate, result in zip(items, results, strict=True):
            if isinstance(result, Exception):
                meta = certificate["metadata"]
                log.warning("certificate stand-in: %s/%s: %s", meta["namespace"], meta["name"], result)

    # --- issuers ---

    async def _issuers(self, resource_namespace: str) -> None:
        """Each ACME ClusterIssuer's Ready condition, as cert-manager's issuer controller sets it:
        True once its account is registered with its server (the account key in its Secret), False
        with the error when that fails. Set again when the issuer's spec (generation) changes."""
        listing = await self.kube.get(CLUSTER_ISSUERS) or {}
        for obj in listing.get("items") or []:
            meta = obj["metadata"]
            generation = meta.get("generation")
            ready = ready_condition(obj)
            if ready.get("status") == "True" and ready.get("observedGeneration") == generation:
                continue
            status: Obj = {}
            try:
                issuer = Issuer.of(obj)
                account = await self._account(issuer, resource_namespace)
                cond = condition(
                    True,
                    "ACMEAccountRegistered",
                    "The ACME account was registered with the ACME server",
                    generation,
                    _now(),
                )
                registered = account.client.net.account
                if registered is not None:
                    status["acme"] = {"uri": registered.uri, "lastRegisteredEmail": issuer.email}
            except (errors.Error, messages.Error, ValueError, OSError, ApiError, TimeoutError) as exc:
                cond = condition(
                    False,
                    "ErrRegisterACMEAccount",
                    f"Failed to register ACME account: {acme_error(exc)}",
                    generation,
                    _now(),
                )
            if all(ready.get(k) == cond[k] for k in ("status", "reason", "message", "observedGeneration")):
                continue
            await self._patch_status(f"{CLUSTER_ISSUERS}/{meta['name']}/status", cond, status)

    # --- issuing ---

    async def _certificate(self, certificate: Obj, resource_namespace: str) -> None:
        meta, spec = certificate["metadata"], certificate.get("spec") or {}
        namespace, name = meta["namespace"], meta["name"]
        secret = await self.kube.get(f"/api/v1/namespaces/{namespace}/secrets/{spec['secretName']}")
        now = _now()
        reason = issue_reason(certificate, secret, now)
        if reason is None:
            await self._set_ready(certificate, secret)
            self._wake_at_renewal(secret)
            return
        attempts = self._attempts.setdefault((namespace, name), _Attempts())
        hosts = tuple(spec.get("dnsNames") or [])
        if attempts.hosts != hosts:  # a changed request starts afresh
            attempts.failures, attempts.not_before, attempts.hosts = 0, 0.0, hosts
        loop = asyncio.get_running_loop()
        if loop.time() < attempts.not_before:
            return
        await self.event(certificate, "Normal", "Issuing", reason)
        started = loop.time()
        try:
            chain, key = await self._issue(certificate, resource_namespace)
        except (errors.Error, messages.Error, ValueError, OSError, ApiError, TimeoutError) as exc:
            attempts.failures += 1
            wait = backoff(attempts.failures)
            attempts.not_before = loop.time() + wait
            loop.call_later(wait + 0.1, self._dirty.set)  # retry when the backoff is over
            message = (
                f"The certificate request has failed to complete and will be retried in {wait:.0f}s: "
                f"{acme_error(exc)}"
            )
            log.warning("certificate stand-in: %s/%s: %s", namespace, name, message)
            await self._status(certificate, condition(False, "Failed", message, meta.get("generation"), now))
            await self.event(certificate, "Warning", "Failed", message)
            return
        attempts.failures, attempts.not_before = 0, 0.0
        secret = await self._write_secret(certificate, secret, chain, key)
        log.info(
            "certificate stand-in: issued %s/%s for %s in %.1f s",
            namespace,
            name,
            ", ".join(hosts),
            loop.time() - started,
        )
        await self.event(certificate, "Normal", "Issued", "The certificate has been successfully issued")
        await self._set_ready(certificate, secret)

    def _wake_at_renewal(self, secret: Obj | None) -> None:
        """Reconcile at the renewal time when it comes before the next resync, as cert-manager
        schedules each Certificate's renewal."""
        if secret is None:
            return
        cert = x509.load_pem_x509_certificate(base64.b64decode(secret["data"]["tls.crt"]))
        delay = (renewal_time(cert) - _now()).total_seconds()
        if 0 <= delay < self.resync:
            asyncio.get_running_loop().call_later(delay + 0.1, self._dirty.set)

    async def _account(self, issuer: Issuer, resource_namespace: str) -> Account:
        async with self._account_lock:  # one registration (and one key Secret) per issuer
            return await self._account_unlocked(issuer, resource_namespace)

    async def _account_unlocked(self, issuer: Issuer, resource_namespace: str) -> Account:
        ident = (issuer.name, issuer.server, issuer.ca_bundle)
        if ident in self._accounts:
            return self._accounts[ident]
        path = f"/api/v1/namespaces/{resource_namespace}/secrets/{issuer.key_secret}"
        secret = await self.kube.get(path)
        if secret is not None:
            key_pem = base64.b64decode(secret["data"]["tls.key"])
        else:
            key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
            key_pem = key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.TraditionalOpenSSL,
                serialization.NoEncryption(),
            )
            await self.kube.create(
                f"/api/v1/namespaces/{resource_namespace}/secrets",
                {
                    "apiVersion": "v1",
                    "kind": "Secret",
                    "metadata": {"name": issuer.key_secret, "namespace": resource_namespace},
                    "data": {"tls.key": base64.b64encode(key_pem).decode()},
                },
            )
        account = await asyncio.to_thread(_register, issuer, key_pem)
        self._accounts[ident] = account
        return account

    async def _issue(self, certificate: Obj, resource_namespace: str) -> tuple[str, bytes]:
        meta, spec = certificate["metadata"], certificate["spec"]
        ref = spec.get("issuerRef") or {}
        issuer_obj = await self.kube.get(f"{CLUSTER_ISSUERS}/{ref.get('name')}")
        if issuer_obj is None:
            raise ValueError(f"ClusterIssuer {ref.get('name')!r} not found")
        issuer = Issuer.of(issuer_obj)
        account = await self._account(issuer, resource_namespace)
        key = ec.generate_private_key(ec.SECP256R1())
        key_pem = key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        csr = make_csr(key_pem, list(spec["dnsNames"]))
        not_after = None
        if issuer.duration_feature and spec.get("duration"):
            not_after = _now() + parse_duration(str(spec["duration"]))
        order, found = await asyncio.to_thread(
            _order, account, list(spec["dnsNames"]), csr, issuer.profile, not_after
        )
        created: list[str] = []
        try:
            for chall in found:
                service, ingress = solver_objects(
                    meta["namespace"],
                    meta["name"],
                    chall.domain,
                    chall.token,
                    issuer.ingress_class,
                    issuer.ingress_metadata,
                )
                self.solvers[(meta["namespace"], service["metadata"]["name"])] = (
                    chall.domain,
                    chall.token,
                    chall.key_authorization,
                )
                for collection, body in (
                    (f"/api/v1/namespaces/{meta['namespace']}/services", service),
                    (f"/apis/networking.k8s.io/v1/namespaces/{meta['namespace']}/ingresses", ingress),
                ):
                    await self.kube.create(collection, body)
                    created.append(f"{collection}/{body['metadata']['name']}")
            for chall in found:
                await self._self_check(chall)
            chain = await asyncio.to_thread(_finish, account, order, found)
        finally:
            for path in created:
                await self.kube.delete(path)
            for chall in found:
                for svc_key, value in list(self.solvers.items()):
                    if value[1] == chall.token:
                        self.solvers.pop(svc_key, None)
        return chain, key_pem

    async def _self_check(self, chall: Challenge) -> None:
        """cert-manager's propagation check: GET the challenge URL on port 80 semantics (traefik's
        web entrypoint), following redirects, until it answers the key authorization."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + SELF_CHECK_TIMEOUT
        last = "no answer yet"
        async with aiohttp.ClientSession() as session:
            while loop.time() < deadline:
                port = self.web_port()
                url: str | None = f"http://127.0.0.1:{port}{CHALLENGE_PATH}{chall.token}"
                try:
                    for _ in range(5):  # redirects, each to traefik on loopback with the domain's name
                        assert url is not None
                        async with session.get(
                            url,
                            headers={"Host": chall.domain},
                            allow_redirects=False,
                            ssl=False,
                            server_hostname=chall.domain if url.startswith("https") else None,
                            timeout=aiohttp.ClientTimeout(total=5),
                        ) as resp:
                            body = await resp.text()
                            location = resp.headers.get("Location")
                            if resp.status in (301, 302, 303, 307, 308) and location:
                                target = yarl.URL(location)
                                url = str(target.with_host("127.0.0.1"))
                                continue
                            if resp.status == 200 and body == chall.key_authorization:
                                return
                            last = f"wrong status code '{resp.status}', expected '200'"
                            break
                except (aiohttp.ClientError, OSError, TimeoutError) as exc:
                    last = str(exc) or type(exc).__name__
                await asyncio.sleep(0.3)
        # cert-manager keeps waiting; the stand-in gives the attempt up and backs off.
        raise TimeoutError(f"Waiting for HTTP-01 challenge propagation for {chall.domain}: {last}")

    async def _write_secret(self, certificate: Obj, secret: Obj | None, chain: str, key: bytes) -> Obj:
        meta, spec = certificate["metadata"], certificate["spec"]
        body: Obj = {
            "apiVersion": "v1",
            "kind": "Secret",
            "type": "kubernetes.io/tls",
            "metadata": {
                "name": spec["secretName"],
                "namespace": meta["namespace"],
                "labels": {"controller.cert-manager.io/fao": "true"},
                "annotations": {
                    ISSUER_NAME_ANNOTATION: spec["issuerRef"]["name"],
                    ISSUER_KIND_ANNOTATION: spec["issuerRef"].get("kind", "ClusterIssuer"),
                    CERTIFICATE_NAME_ANNOTATION: meta["name"],
                    ALT_NAMES_ANNOTATION: ",".join(spec["dnsNames"]),
                },
            },
            "data": {
                "tls.crt": base64.b64encode(chain.encode()).decode(),
                "tls.key": base64.b64encode(key).decode(),
            },
        }
        collection = f"/api/v1/namespaces/{meta['namespace']}/secrets"
        if secret is None:
            return await self.kube.create(collection, body)
        body["metadata"]["resourceVersion"] = secret["metadata"].get("resourceVersion")
        return await self.kube.replace(f"{collection}/{spec['secretName']}", body)

    async def _set_ready(self, certificate: Obj, secret: Obj | None) -> None:
        if secret is None:
            return
        cert = x509.load_pem_x509_certificate(base64.b64decode(secret["data"]["tls.crt"]))
        status = {
            "notBefore": _timestamp(cert.not_valid_before_utc),
            "notAfter": _timestamp(cert.not_valid_after_utc),
            "renewalTime": _timestamp(renewal_time(cert)),
        }
        current = certificate.get("status") or {}
        if ready_condition(certificate).get("status") == "True" and all(
            current.get(k) == v for k, v in status.items()
        ):
            return
        generation = certificate["metadata"].get("generation")
        cond = condition(True, "Ready", "Certificate is up to date and has not expired", generation, _now())
        await self._status(certificate, cond, status)

    async def _status(self, certificate: Obj, cond: Obj, extra: Obj | None = None) -> None:
        meta = certificate["metadata"]
        path = f"/apis/cert-manager.io/v1/namespaces/{meta['namespace']}/certificates/{meta['name']}/status"
        await self._patch_status(path, cond, extra)

    async def _patch_status(self, path: str, cond: Obj, extra: Obj | None = None) -> None:
        """The Ready condition (and ``extra`` status fields) of an object; one deleted meanwhile is left."""
        try:
            await self.kube.merge_patch(path, {"status": {"conditions": [cond], **(extra or {})}})
        except ApiError as exc:
            if exc.status != 404:
                raise

    async def event(self, certificate: Obj, kind: str, reason: str, message: str) -> None:
        meta = certificate["metadata"]
        now = _now()
        await self.kube.create(
            f"/api/v1/namespaces/{meta['namespace']}/events",
            {
                "apiVersion": "v1",
                "kind": "Event",
                "metadata": {"generateName": f"{meta['name']}.", "namespace": meta["namespace"]},
                "involvedObject": {
                    "apiVersion": "cert-manager.io/v1",
                    "kind": "Certificate",
                    "name": meta["name"],
                    "namespace": meta["namespace"],
                    "uid": meta.get("uid"),
                },
                "type": kind,
                "reason": reason,
                "message": message[:1024],
                "source": {"component": "cert-manager-certificates"},
                "firstTimestamp": _timestamp(now),
                "lastTimestamp": _timestamp(now),
                "count": 1,
            },
        )
