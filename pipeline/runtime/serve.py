"""`phiscan serve`: HTTP ingest that stops PHI before anything is stored or forwarded.

A thin driver of the runtime (`pipeline.runtime.build`): every route scans through
the same engine, scrubber and recording policy as `scan`, `consume` and `scrub`.

Routes (each enabled in config):
- `POST /ingest/vercel`: Vercel drains. `x-vercel-signature` (lowercase hex
  HMAC-SHA1 of the raw body) checked in constant time, 403 when wrong or, with a
  secret configured, missing on a body; a request without a body is the ownership
  probe and gets `x-vercel-verify`. Bodies: JSON arrays or NDJSON, gzip too (every
  member). Then Kafka (`phiscan consume` reads the topic) or inline scanning,
  optionally forwarding the scrubbed records downstream.
- `POST /ingest/sentry/tunnel`: the SDK `tunnel` target. The envelope's DSN must
  be allowed (no open relay); the whole envelope (headers included) is scrubbed,
  binary items dropped unless allowed, findings recorded, and the clean envelope
  forwarded to the DSN's own scheme, host and port.
- `POST /ingest/sentry/webhook`: `Sentry-Hook-Signature` (HMAC-SHA256) checked,
  stale or replayed deliveries refused; `event_alert` and `error` payloads scanned.
A request is answered 2xx only after its records are published or written (and
forwarded and accepted downstream); broker or downstream trouble answers 503 with
`Retry-After`, a downstream refusal 502, too many requests in flight 429, a body
that does not arrive in time 408. Errors never echo content.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import logging
import os
import time
import zlib
from collections import OrderedDict
from urllib.parse import urlsplit

import orjson
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from connectors import documents
from pipeline.runtime.build import Outcome, Runtime

log = logging.getLogger("phiscan")
RETRY_AFTER = "5"


class HttpError(Exception):
    def __init__(self, status: int, message: str, retry: bool = False):
        self.status, self.message, self.retry = status, message, retry


def _error(status: int, message: str, retry: bool = False, headers: dict | None = None) -> JSONResponse:
    h = dict(headers or {})
    if retry:
        h["Retry-After"] = RETRY_AFTER
    return JSONResponse({"error": message}, status_code=status, headers=h)


def signature_ok(secret: str | None, body: bytes, signature: str | None, digest) -> bool:
    """Constant-time check of a hex HMAC header; any header that is not ASCII hex is simply wrong."""
    if not secret or not signature:
        return False
    expected = hmac.new(secret.encode(), body, digest).hexdigest().encode()
    return hmac.compare_digest(expected, signature.strip().lower().encode("utf-8", "replace"))


class Ingest:
    """The state behind the routes: the runtime, clients, limits and counters."""

    def __init__(self, runtime: Runtime):
        self.runtime = runtime
        self.config = runtime.config
        self.cfg = runtime.config.serve
        self.slots = asyncio.Semaphore(self.cfg.max_concurrent)
        self.drain_secret = os.environ.get("PHISCAN_VERCEL_DRAIN_SECRET") or self.cfg.vercel.secret
        self.verify_token = os.environ.get("PHISCAN_VERCEL_VERIFY") or self.cfg.vercel.verify_token
        self.hook_secret = os.environ.get("PHISCAN_SENTRY_CLIENT_SECRET") or self.cfg.sentry_webhook.client_secret
        self.seen_hooks: OrderedDict[str, float] = OrderedDict()  # webhook request ids, for replay refusal
        self._producer = None
        self._http = None
        from prometheus_client import CollectorRegistry, Counter

        self.registry = CollectorRegistry()
        self.requests = Counter("phiscan_http_requests", "Requests", ["route", "status"], registry=self.registry)
        self.findings = Counter("phiscan_http_findings", "Findings", ["entity_type"], registry=self.registry)
        self.quarantined = Counter("phiscan_http_quarantined", "Bodies refused as unscannable", ["route"],
                                   registry=self.registry)

    # -- clients ---------------------------------------------------------------------------
    def producer(self):
        if self._producer is None:
            from kafka import KafkaProducer

            from connectors.kafka import producer_settings

            settings = producer_settings(self.config.kafka, None, {"max_block_ms": 3000, "request_timeout_ms": 5000})
            self._producer = KafkaProducer(**settings)  # raises NoBrokersAvailable when the broker is down
        return self._producer

    def http(self):
        if self._http is None:
            import httpx

            self._http = httpx.AsyncClient(timeout=self.cfg.outbound_timeout_seconds)
        return self._http

    async def close(self) -> None:
        if self._http is not None:
            await self._http.aclose()
        if self._producer is not None:
            await run_in_threadpool(self._producer.close, 5)

    # -- helpers -----------------------------------------------------------------------------
    async def body(self, request: Request) -> bytes:
        """The raw body, bounded in size and in time (a slow client cannot hold a slot: none is taken yet)."""
        limit = self.cfg.max_body_bytes
        length = request.headers.get("content-length")
        if length and length.isdigit() and int(length) > limit:
            raise HttpError(413, f"body over {limit} bytes")

        async def read() -> bytes:
            chunks, size = [], 0
            async for chunk in request.stream():
                size += len(chunk)
                if size > limit:
                    raise HttpError(413, f"body over {limit} bytes")
                chunks.append(chunk)
            return b"".join(chunks)

        try:
            return await asyncio.wait_for(read(), timeout=self.cfg.read_timeout_seconds)
        except asyncio.TimeoutError:
            raise HttpError(408, "request body not received in time") from None

    def decoded(self, raw: bytes, request: Request) -> bytes:
        """The body with its gzip content-encoding undone, every member of it, within the size limit."""
        if request.headers.get("content-encoding", "").lower() not in ("gzip", "x-gzip"):
            return raw
        limit = self.cfg.max_body_bytes
        out, rest = [], raw
        try:
            while rest:
                d = zlib.decompressobj(16 + zlib.MAX_WBITS)
                out.append(d.decompress(rest, limit + 1 - sum(map(len, out))))
                if d.unconsumed_tail or sum(map(len, out)) > limit:
                    raise HttpError(413, f"decompressed body over {limit} bytes")
                if not d.eof:
                    raise HttpError(400, "truncated gzip body")
                rest = d.unused_data.lstrip(b"\x00")
        except zlib.error:
            raise HttpError(400, "invalid gzip body") from None
        return b"".join(out)

    async def process(self, data: bytes, fmt: str, origin: str, *, scrub: bool, route: str) -> Outcome:
        """Scan (and scrub) one body through the runtime, and record what it leaves behind."""
        outcome = await run_in_threadpool(self.runtime.process, data, fmt, origin, scrub=scrub)
        await run_in_threadpool(self.runtime.record, outcome, _key(data))
        for f in outcome.findings:
            self.findings.labels(f.entity_type).inc()
        if outcome.bad:
            self.quarantined.labels(route).inc()
        return outcome


def _key(body: bytes) -> str:
    return "http-" + hashlib.sha256(body).hexdigest()[:24]


# -- routes ---------------------------------------------------------------------------------------
async def vercel(request: Request) -> Response:
    ing: Ingest = request.app.state.ingest
    verify = {"x-vercel-verify": ing.verify_token} if ing.verify_token else {}
    try:
        raw = await ing.body(request)
        signature = request.headers.get("x-vercel-signature")
        if signature is None and (request.method == "GET" or not raw.strip()):
            return Response(status_code=200, headers=verify)  # the ownership probe: unsigned by design
        if ing.drain_secret and not signature_ok(ing.drain_secret, raw, signature, hashlib.sha1):
            return _error(403, "invalid signature", headers=verify)
        if not ing.drain_secret and signature is not None:
            return _error(403, "invalid signature (no drain secret configured)", headers=verify)
        if ing.slots.locked():
            return _error(429, "too many requests in flight", retry=True, headers=verify)
        async with ing.slots:
            body = ing.decoded(raw, request)
            if ing.cfg.vercel.mode == "kafka":
                try:
                    doc = documents.parse(body, "vercel", "http:/ingest/vercel", max_bytes=ing.cfg.max_body_bytes)
                except documents.DocumentError as exc:
                    return _error(400, str(exc), headers=verify)
                await _publish(ing, doc)
                return JSONResponse({"accepted": len(doc.records)}, headers=verify)
            forward = ing.cfg.vercel.forward_url
            outcome = await ing.process(body, "vercel", "http:/ingest/vercel", scrub=bool(forward), route="vercel")
            if outcome.bad:  # fails closed: nothing unscanned is acknowledged as handled
                return _error(400, outcome.reason or outcome.bad[0].reason, headers=verify)
            if forward:
                await _post(ing, forward, outcome.clean or b"", {"content-type": "application/json"})
            return JSONResponse({"accepted": len(outcome.events), "findings": len(outcome.findings)}, headers=verify)
    except HttpError as exc:
        return _error(exc.status, exc.message, exc.retry, verify)


def _record_key(value) -> bytes | None:
    """A drain record's Kafka key: its project (so a project's records keep their order), else its request."""
    if isinstance(value, dict):
        for name in ("projectId", "requestId", "id"):
            if isinstance(value.get(name), str) and value[name]:
                return value[name].encode()
    return None


async def _publish(ing: Ingest, doc: documents.Document) -> None:
    """Each drain record to the topic; acknowledged only when the broker has them all."""
    topic = ing.cfg.vercel.topic
    if not topic:
        raise HttpError(500, "vercel.topic is not configured")

    def send_all() -> None:
        producer = ing.producer()
        futures = [producer.send(topic, orjson.dumps(r.value), key=_record_key(r.value)) for r in doc.records]
        producer.flush(timeout=ing.cfg.outbound_timeout_seconds)
        for f in futures:
            f.get(timeout=ing.cfg.outbound_timeout_seconds)

    try:
        await run_in_threadpool(send_all)
    except HttpError:
        raise
    except Exception as exc:  # noqa: BLE001 - NoBrokersAvailable, KafkaTimeoutError: nothing acked unstored
        log.warning("publish failed: %s", type(exc).__name__)
        ing._producer = None
        raise HttpError(503, "broker unavailable", retry=True) from None


async def _post(ing: Ingest, url: str, body: bytes, headers: dict):
    """POST downstream; a 2xx is success, 429/5xx is retryable (503), any other answer is a refusal (502)."""
    try:
        resp = await ing.http().post(url, content=body, headers=headers)
    except Exception as exc:  # noqa: BLE001 - timeouts, refused connections
        log.warning("forward failed: %s", type(exc).__name__)
        raise HttpError(503, "downstream unavailable", retry=True) from None
    if resp.status_code >= 500 or resp.status_code == 429:
        raise HttpError(503, "downstream unavailable", retry=True)
    if not 200 <= resp.status_code < 300:
        log.warning("downstream refused a forward: HTTP %d", resp.status_code)
        raise HttpError(502, f"downstream refused the records (HTTP {resp.status_code})")
    return resp


def dsn_parts(dsn: str) -> tuple[str, str, str, str] | None:
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


async def sentry_tunnel(request: Request) -> Response:
    ing: Ingest = request.app.state.ingest
    try:
        body = ing.decoded(await ing.body(request), request)
        first = body.split(b"\n", 1)[0]
        try:
            header = orjson.loads(first)
            dsn = dsn_parts(str(header.get("dsn", "")))
        except (orjson.JSONDecodeError, AttributeError):
            return _error(400, "invalid envelope header")
        allowed = {dsn_parts(d) for d in ing.cfg.sentry_tunnel.allowed_dsns}
        if dsn is None or dsn not in allowed:
            return _error(403, "DSN not allowed")
        if ing.slots.locked():
            return _error(429, "too many requests in flight", retry=True)
        async with ing.slots:
            key, base, prefix, project = dsn
            outcome = await ing.process(body, "sentry", "http:/ingest/sentry/tunnel", scrub=True, route="sentry_tunnel")
            if outcome.quarantined:  # fails closed: nothing unscanned leaves
                return _error(400, outcome.reason or "cannot scan")
            base = (ing.cfg.sentry_tunnel.upstream or base).rstrip("/")
            url = f"{base}{prefix}/api/{project}/envelope/?sentry_key={key}"
            try:
                resp = await ing.http().post(url, content=outcome.clean,
                                             headers={"content-type": "application/x-sentry-envelope"})
            except Exception as exc:  # noqa: BLE001
                log.warning("forward failed: %s", type(exc).__name__)
                raise HttpError(503, "upstream unavailable", retry=True) from None
            passed = {k: v for k, v in resp.headers.items() if k.lower() in ("retry-after", "x-sentry-rate-limits")}
            return Response(resp.content, status_code=resp.status_code, headers=passed,
                            media_type=resp.headers.get("content-type", "application/json"))
    except HttpError as exc:
        return _error(exc.status, exc.message, exc.retry)


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
    try:
        body = await ing.body(request)
    except HttpError as exc:
        return _error(exc.status, exc.message)
    signature = request.headers.get("sentry-hook-signature") or request.headers.get("sentry-app-signature")
    if not signature_ok(ing.hook_secret, body, signature, hashlib.sha256):
        return _error(403, "invalid signature")
    if not _fresh_delivery(ing, request):
        return _error(403, "stale or replayed delivery")
    resource = request.headers.get("sentry-hook-resource", "")
    if resource not in ("event_alert", "error"):
        return JSONResponse({"ignored": "resource"})
    outcome = await ing.process(body, "sentry", "http:/ingest/sentry/webhook", scrub=False, route="sentry_webhook")
    if outcome.bad:
        return _error(400, outcome.reason or outcome.bad[0].reason)
    return JSONResponse({"findings": len(outcome.findings)})


async def healthz(request: Request) -> Response:
    return JSONResponse({"status": "ok"})


async def readyz(request: Request) -> Response:
    ing: Ingest = request.app.state.ingest
    checks = {"model": ing.runtime.engine.analyzer.nlp is not None}
    if ing.cfg.vercel.enabled and ing.cfg.vercel.mode == "kafka":
        try:
            # a metadata round trip (bounded by max_block_ms): the broker answers, the topic exists
            checks["broker"] = bool(await run_in_threadpool(ing.producer().partitions_for, ing.cfg.vercel.topic))
        except Exception:  # noqa: BLE001
            ing._producer = None
            checks["broker"] = False
    ok = all(checks.values())
    return JSONResponse({"ready": ok, **checks}, status_code=200 if ok else 503,
                        headers={} if ok else {"Retry-After": RETRY_AFTER})


async def metrics(request: Request) -> Response:
    from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

    return Response(generate_latest(request.app.state.ingest.registry), media_type=CONTENT_TYPE_LATEST)


def _counted(name: str, handler):
    """Every answer counted by route and status, a crash too (as a content-free 500)."""
    async def wrapped(request: Request) -> Response:
        try:
            response = await handler(request)
        except Exception as exc:  # noqa: BLE001 - the route's own bug: answer and count it, never echo
            log.error("%s failed: %s", name, type(exc).__name__)
            response = _error(500, "internal error")
        request.app.state.ingest.requests.labels(name, str(response.status_code)).inc()
        return response
    return wrapped


def create_app(runtime: Runtime) -> Starlette:
    """The ASGI app over a runtime (`pipeline.runtime.build.build`)."""
    routes = [Route("/healthz", healthz), Route("/readyz", readyz), Route("/metrics", metrics)]
    cfg = runtime.config.serve
    if cfg.vercel.enabled:
        routes.append(Route("/ingest/vercel", _counted("vercel", vercel), methods=["GET", "POST"]))
    if cfg.sentry_tunnel.enabled:
        routes.append(Route("/ingest/sentry/tunnel", _counted("sentry_tunnel", sentry_tunnel), methods=["POST"]))
    if cfg.sentry_webhook.enabled:
        routes.append(Route("/ingest/sentry/webhook", _counted("sentry_webhook", sentry_webhook), methods=["POST"]))

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette):
        app.state.ingest = Ingest(runtime)
        yield
        await app.state.ingest.close()
        await run_in_threadpool(runtime.refresh_catalog)

    return Starlette(routes=routes, lifespan=lifespan)


def serve(runtime: Runtime, host: str, port: int) -> None:
    import uvicorn

    cfg = runtime.config.serve
    if cfg.vercel.enabled and not (os.environ.get("PHISCAN_VERCEL_DRAIN_SECRET") or cfg.vercel.secret):
        log.warning("no Vercel drain secret: unsigned drain bodies are accepted (set PHISCAN_VERCEL_DRAIN_SECRET)")
    uvicorn.run(create_app(runtime), host=host, port=port, log_level="warning", access_log=False,
                timeout_keep_alive=5)
