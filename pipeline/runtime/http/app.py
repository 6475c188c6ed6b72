"""The ASGI app of `phiscan serve`: shared state (`Ingest`), answers, CORS, metrics and the route table.

Every route is a thin driver of the runtime (`pipeline.runtime.build`): it reads a
bounded body, scans and scrubs it through `Ingest.process`, and forwards only the
clean bytes. The route modules (`vercel`, `sentry`, `analytics`) hold the vendor
specifics; this module holds what they share, so limits, counting, CORS and the
fail-closed answers cannot drift between them.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import logging
import os
import re
from collections import OrderedDict

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from pipeline.runtime.build import Outcome, Runtime
from pipeline.runtime.http.body import Collect, EnvelopeSlimmer, HttpError, decode_all, decoder

log = logging.getLogger("phiscan")
RETRY_AFTER = "5"
PASSED_BACK = ("retry-after", "x-sentry-rate-limits", "content-type", "cache-control", "etag")


def error(status: int, message: str, retry: bool = False, headers: dict | None = None) -> JSONResponse:
    """A content-free error answer (the message names sizes, keys and types, never values)."""
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
        self.dropped_items = Counter("phiscan_http_dropped_binary_items", "Binary envelope items dropped on read",
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

    # -- bodies ------------------------------------------------------------------------------
    async def body(self, request: Request) -> bytes:
        """The raw body, bounded in size and in time (a slow client cannot hold a slot: none is taken yet)."""
        return await self.read(request, decode=False)

    def decoded(self, raw: bytes, request: Request) -> bytes:
        """A raw body (read whole for its signature) with its content-encoding undone, within the limit."""
        return decode_all(raw, request.headers.get("content-encoding"), self.cfg.max_body_bytes)

    async def read(self, request: Request, *, decode: bool = True, envelope: bool = False) -> bytes:
        """The body decoded as it streams in, bounded in size (wire and decoded) and in time.

        `envelope`: a Sentry envelope whose binary items are dropped while reading (unless
        `scrub.keep_binary_items`), so it may be up to `serve.max_envelope_bytes` on the wire.
        """
        limit = self.cfg.max_body_bytes
        slim = envelope and decode and not self.config.scrub.keep_binary_items
        wire = max(self.cfg.max_envelope_bytes, limit) if slim else limit
        length = request.headers.get("content-length")
        if length and length.isdigit() and int(length) > wire:
            raise HttpError(413, f"body over {wire} bytes")
        encoding = request.headers.get("content-encoding") if decode else None
        dec = decoder(encoding)
        sink = EnvelopeSlimmer(limit, wire) if slim else Collect(limit, "decompressed body" if encoding else "body")

        async def pump() -> bytes:
            size = 0
            async for chunk in request.stream():
                size += len(chunk)
                if size > wire:
                    raise HttpError(413, f"body over {wire} bytes")
                for piece in dec.feed(chunk):
                    sink.write(piece)
            dec.close()
            return sink.finish()

        try:
            data = await asyncio.wait_for(pump(), timeout=self.cfg.read_timeout_seconds)
        except asyncio.TimeoutError:
            raise HttpError(408, "request body not received in time") from None
        if slim and sink.dropped:
            self.dropped_items.inc(sink.dropped)
        return data

    # -- the runtime -------------------------------------------------------------------------
    async def process(self, data: bytes, fmt: str, origin: str, *, scrub: bool, route: str) -> Outcome:
        """Scan (and scrub) one body through the runtime, and record what it leaves behind."""
        outcome = await run_in_threadpool(self.runtime.process, data, fmt, origin, scrub=scrub)
        await run_in_threadpool(self.runtime.record, outcome, _key(data))
        for f in outcome.findings:
            self.findings.labels(f.entity_type).inc()
        if outcome.bad:
            self.quarantined.labels(route).inc()
        return outcome

    async def send(self, method: str, url: str, body: bytes | None, headers: dict):
        """One request downstream; no answer at all (timeout, refused connection) is a retryable 503."""
        try:
            return await self.http().request(method, url, content=body, headers=headers)
        except Exception as exc:  # noqa: BLE001 - timeouts, refused connections
            log.warning("forward failed: %s", type(exc).__name__)
            raise HttpError(503, "upstream unavailable", retry=True) from None


def _key(body: bytes) -> str:
    return "http-" + hashlib.sha256(body).hexdigest()[:24]


def passed_back(resp) -> Response:
    """The upstream's own answer (status, body, rate-limit and cache headers) for the client."""
    headers = {k: v for k, v in resp.headers.items() if k.lower() in PASSED_BACK and k.lower() != "content-type"}
    return Response(resp.content, status_code=resp.status_code, headers=headers,
                    media_type=resp.headers.get("content-type", "application/json"))


# -- CORS ------------------------------------------------------------------------------------------
_HEADER_LIST = re.compile(r"[A-Za-z0-9\-, ]{0,1024}")
EXPOSED = "retry-after, x-sentry-rate-limits"


def cors(handler):
    """Browser SDKs post cross-origin: preflights answered for `serve.cors_origins` only, others refused.

    A request whose `Origin` is not allowed is refused (403) even without a preflight:
    the Sentry browser SDK sends `text/plain` precisely so that no preflight happens.
    Requests without `Origin` (server SDKs) are not browsers and pass. `*` only if configured.
    """
    async def wrapped(request: Request) -> Response:
        allowed = request.app.state.ingest.cfg.cors_origins
        origin = request.headers.get("origin")
        ok = origin is not None and ("*" in allowed or origin in allowed)
        if origin is not None and not ok:
            return error(403, "origin not allowed")
        headers = {}
        if ok:
            headers = {"Access-Control-Allow-Origin": "*" if "*" in allowed else origin,
                       "Access-Control-Expose-Headers": EXPOSED, "Vary": "Origin"}
        if request.method == "OPTIONS":
            if not ok:
                return error(403, "not a CORS preflight")
            asked = request.headers.get("access-control-request-headers", "")
            headers.update({"Access-Control-Allow-Methods": "GET, POST, OPTIONS", "Access-Control-Max-Age": "3600",
                            "Access-Control-Allow-Headers": asked if _HEADER_LIST.fullmatch(asked) else ""})
            return Response(status_code=204, headers=headers)
        try:
            response = await handler(request)
        except HttpError as exc:  # answered here, so that the browser may read the error too
            response = error(exc.status, exc.message, exc.retry)
        response.headers.update(headers)
        return response
    return wrapped


# -- health ----------------------------------------------------------------------------------------
async def healthz(request: Request) -> Response:
    return JSONResponse({"status": "ok"})


async def readyz(request: Request) -> Response:
    ing: Ingest = request.app.state.ingest
    analyzer = ing.runtime.engine.analyzer
    checks = {"model": analyzer.model_loaded or not analyzer.ner_enabled}
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


def counted(name: str, handler):
    """Every answer counted by route and status, a crash too (as a content-free 500)."""
    async def wrapped(request: Request) -> Response:
        try:
            response = await handler(request)
        except HttpError as exc:
            response = error(exc.status, exc.message, exc.retry)
        except Exception as exc:  # noqa: BLE001 - the route's own bug: answer and count it, never echo
            log.error("%s failed: %s", name, type(exc).__name__)
            response = error(500, "internal error")
        request.app.state.ingest.requests.labels(name, str(response.status_code)).inc()
        return response
    return wrapped


def create_app(runtime: Runtime) -> Starlette:
    """The ASGI app over a runtime (`pipeline.runtime.build.build`)."""
    from pipeline.runtime.http import analytics, otlp, sentry, vercel

    routes = [Route("/healthz", healthz), Route("/readyz", readyz), Route("/metrics", metrics)]
    cfg = runtime.config.serve
    routes += vercel.routes(cfg) + sentry.routes(cfg) + analytics.routes(cfg)
    if cfg.otlp.enabled:
        routes += [Route(r.path, counted(r.name, r.endpoint), methods=list(r.methods or ["POST"]), name=r.name)
                   for r in otlp.routes(lambda request: request.app.state.ingest)]


    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette):
        app.state.ingest = Ingest(runtime)
        await run_in_threadpool(runtime.warm)  # the first request is not the one that waits for the model
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
