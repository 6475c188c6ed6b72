"""Sentry: the SDK tunnel, Relay-compatible ingest routes, and integration webhooks.

- `POST /ingest/sentry/tunnel`: the browser SDK's `tunnel` target; the envelope's own
  `dsn` header must be allowed (`serve.sentry_tunnel.allowed_dsns`).
- `POST /api/<project>/envelope/` and `/api/<project>/store/`: what every SDK posts to
  its DSN, so a DSN `https://<key>@phiscan.host/<project>` sends through phiscan with no
  SDK option at all (the Python SDK has no `tunnel`, and its envelopes carry no `dsn`).
  The public key comes from `X-Sentry-Auth` or `?sentry_key=`; key and project must be
  those of an allowed DSN (`serve.sentry.allowed_dsns`), and the event goes to that DSN.
- `POST /ingest/sentry/webhook`: `Sentry-Hook-Signature` checked, stale or replayed
  deliveries refused; `event_alert` and `error` payloads scanned.

Either way the whole envelope (headers included) is scrubbed, binary items dropped
while reading unless kept on purpose, findings recorded, and the clean envelope
forwarded to the DSN's own scheme, host and port; the upstream's status, `Retry-After`
and `X-Sentry-Rate-Limits` come back to the SDK. What cannot be scanned is a 400 and
is not forwarded (no open relay, no unscanned byte out).
"""

from __future__ import annotations

import hashlib
import time
from urllib.parse import urlsplit

import orjson
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from pipeline.runtime.http.app import Ingest, cors, counted, error, passed_back, signature_ok

Dsn = tuple[str, str, str, str]  # public key, base URL (scheme, host, port), path prefix, project id


def dsn_parts(dsn: str) -> Dsn | None:
    """(public key, base URL with scheme, host and port, path prefix, project id) of a DSN."""
    try:
        parts = urlsplit(dsn)
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        return None
    path = parts.path.strip("/")
    prefix, _, project = path.rpartition("/")
    if not parts.username or not parts.hostname or not project or parts.scheme not in ("http", "https"):
        return None
    return parts.username, f"{parts.scheme}://{parts.hostname}{port}", f"/{prefix}" if prefix else "", project


def sentry_key(request: Request) -> str | None:
    """The public key of an SDK request: `X-Sentry-Auth: Sentry sentry_key=...` or `?sentry_key=`."""
    auth = request.headers.get("x-sentry-auth", "")
    if auth[:7].lower() == "sentry ":
        for part in auth[7:].split(","):
            name, _, value = part.strip().partition("=")
            if name == "sentry_key" and value:
                return value
    return request.query_params.get("sentry_key") or None


async def _scrub_and_forward(request: Request, body: bytes, dsn: Dsn, kind: str, upstream: str | None,
                             route: str) -> Response:
    """Scrub one envelope (or store event) and forward it to its DSN; the upstream's answer comes back."""
    ing: Ingest = request.app.state.ingest
    if ing.slots.locked():
        return error(429, "too many requests in flight", retry=True)
    async with ing.slots:
        key, base, prefix, project = dsn
        outcome = await ing.process(body, "sentry", f"http:{request.url.path}", scrub=True, route=route)
        if outcome.quarantined:  # fails closed: nothing unscanned leaves
            return error(400, outcome.reason or "cannot scan")
        base = (upstream or base).rstrip("/")
        media = "application/x-sentry-envelope" if kind == "envelope" else "application/json"
        resp = await ing.send("POST", f"{base}{prefix}/api/{project}/{kind}/?sentry_key={key}", outcome.clean,
                              {"content-type": media})
        return passed_back(resp)


async def sentry_tunnel(request: Request) -> Response:
    ing: Ingest = request.app.state.ingest
    body = await ing.read(request, envelope=True)
    try:
        header = orjson.loads(body.split(b"\n", 1)[0])
        dsn = dsn_parts(str(header.get("dsn", "")))
    except (orjson.JSONDecodeError, AttributeError):
        return error(400, "invalid envelope header")
    allowed = {dsn_parts(d) for d in ing.cfg.sentry_tunnel.allowed_dsns}
    if dsn is None or dsn not in allowed:
        return error(403, "DSN not allowed")
    return await _scrub_and_forward(request, body, dsn, "envelope", ing.cfg.sentry_tunnel.upstream, "sentry_tunnel")


def _allowed_target(ing: Ingest, request: Request) -> Dsn | None:
    """The allowed DSN whose key and project this SDK request names (the SDK's DSN points at phiscan)."""
    key, project = sentry_key(request), request.path_params["project_id"]
    for dsn in ing.cfg.sentry.allowed_dsns:
        parts = dsn_parts(dsn)
        if parts is not None and key is not None and parts[0] == key and parts[3] == project:
            return parts
    return None


def _relay(kind: str):
    async def handler(request: Request) -> Response:
        ing: Ingest = request.app.state.ingest
        target = _allowed_target(ing, request)
        if target is None:  # checked before reading: no body is decoded for a stranger
            return error(403, "DSN not allowed")
        body = await ing.read(request, envelope=kind == "envelope")
        return await _scrub_and_forward(request, body, target, kind, ing.cfg.sentry.upstream, f"sentry_{kind}")
    return handler


def _fresh_delivery(ing: Ingest, request: Request) -> bool:
    """Refuse stale or replayed webhook deliveries (`Sentry-Hook-Timestamp`, `Request-ID`)."""
    max_age = ing.cfg.sentry_webhook.max_age_seconds
    stamp = request.headers.get("sentry-hook-timestamp")
    now = time.time()
    if stamp is not None:
        try:
            if abs(now - float(stamp)) > max_age:
                return False
        except ValueError:
            return False
    rid = request.headers.get("request-id")
    if rid:
        if rid in ing.seen_hooks:
            return False
        ing.seen_hooks[rid] = now
        while len(ing.seen_hooks) > 10_000 or (ing.seen_hooks and next(iter(ing.seen_hooks.values())) < now - max_age):
            ing.seen_hooks.popitem(last=False)
    return True


async def sentry_webhook(request: Request) -> Response:
    ing: Ingest = request.app.state.ingest
    body = await ing.body(request)
    signature = request.headers.get("sentry-hook-signature") or request.headers.get("sentry-app-signature")
    if not signature_ok(ing.hook_secret, body, signature, hashlib.sha256):
        return error(403, "invalid signature")
    if not _fresh_delivery(ing, request):
        return error(403, "stale or replayed delivery")
    resource = request.headers.get("sentry-hook-resource", "")
    if resource not in ("event_alert", "error"):
        return JSONResponse({"ignored": "resource"})
    outcome = await ing.process(body, "sentry", "http:/ingest/sentry/webhook", scrub=False, route="sentry_webhook")
    if outcome.bad:
        return error(400, outcome.reason or outcome.bad[0].reason)
    return JSONResponse({"findings": len(outcome.findings)})


def routes(cfg) -> list[Route]:
    out = []
    if cfg.sentry_tunnel.enabled:
        out.append(Route("/ingest/sentry/tunnel", counted("sentry_tunnel", cors(sentry_tunnel)),
                         methods=["POST", "OPTIONS"]))
    if cfg.sentry.enabled:
        for kind in ("envelope", "store"):
            out.append(Route(f"/api/{{project_id}}/{kind}/", counted(f"sentry_{kind}", cors(_relay(kind))),
                             methods=["POST", "OPTIONS"]))
    if cfg.sentry_webhook.enabled:
        out.append(Route("/ingest/sentry/webhook", counted("sentry_webhook", sentry_webhook), methods=["POST"]))
    return out
