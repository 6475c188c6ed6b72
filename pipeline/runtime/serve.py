"""`phiscan serve`: HTTP ingest that stops PHI before anything is stored or forwarded.

Routes (each enabled in config):
- `POST /ingest/vercel`: Vercel drains. `x-vercel-signature` (lowercase hex
  HMAC-SHA1 of the raw body) checked in constant time, 403 when wrong; a request
  without a signature is the ownership probe and gets `x-vercel-verify`. Bodies:
  JSON arrays or NDJSON, gzip too. Then Kafka (the production path: `phiscan
  consume` reads the topic) or inline scanning, optionally forwarding the
  scrubbed records downstream.
- `POST /ingest/sentry/tunnel`: the SDK `tunnel` target. The envelope's DSN must
  be allowed (no open relay); events are scrubbed, binary items dropped unless
  allowed, findings recorded, and the clean envelope forwarded to the DSN's host.
- `POST /ingest/sentry/webhook`: `Sentry-Hook-Signature` (HMAC-SHA256) checked;
  `event_alert` and `error` payloads scanned.
A request is answered 2xx only after its records are published or written (and
forwarded); broker or downstream trouble answers 503 with `Retry-After`, too
many requests in flight 429. Errors never echo content.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import logging
import os
import zlib
from pathlib import Path
from urllib.parse import urlsplit

import orjson
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from connectors import documents
from pipeline.storage.parquet import ParquetStore
from pipeline.config import Config
from pipeline.engine.scanner import ScanEngine
from core.model import BadRecord, Event
from pipeline.runtime.scrub import Scrubber, scrub_bytes

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


class Ingest:
    """The state behind the routes: engine, stores, clients, limits and counters."""

    def __init__(self, config: Config, engine: ScanEngine, hmac_key: bytes):
        self.config = config
        self.cfg = config.serve
        self.engine = engine
        self.store = ParquetStore(self.cfg.out_dir) if self.cfg.out_dir else None
        self.scrubber = Scrubber(config.scrub, hmac_key)
        self.slots = asyncio.Semaphore(self.cfg.max_concurrent)
        self.drain_secret = os.environ.get("PHISCAN_VERCEL_DRAIN_SECRET") or self.cfg.vercel.secret
        self.verify_token = os.environ.get("PHISCAN_VERCEL_VERIFY") or self.cfg.vercel.verify_token
        self.hook_secret = os.environ.get("PHISCAN_SENTRY_CLIENT_SECRET") or self.cfg.sentry_webhook.client_secret
        self._producer = None
        self._http = None
        self._scan_lock = asyncio.Lock()
        from prometheus_client import CollectorRegistry, Counter

        self.registry = CollectorRegistry()
        self.requests = Counter("phiscan_http_requests", "Requests", ["route", "status"], registry=self.registry)
        self.findings = Counter("phiscan_http_findings", "Findings", ["entity_type"], registry=self.registry)

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
        limit = self.cfg.max_body_bytes
        length = request.headers.get("content-length")
        if length and length.isdigit() and int(length) > limit:
            raise HttpError(413, f"body over {limit} bytes")
        chunks, size = [], 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise HttpError(413, f"body over {limit} bytes")
            chunks.append(chunk)
        return b"".join(chunks)

    def decoded(self, raw: bytes, request: Request) -> bytes:
        if request.headers.get("content-encoding", "").lower() not in ("gzip", "x-gzip"):
            return raw
        try:
            d = zlib.decompressobj(16 + zlib.MAX_WBITS)
            data = d.decompress(raw, self.cfg.max_body_bytes + 1)
        except zlib.error:
            raise HttpError(400, "invalid gzip body") from None
        if len(data) > self.cfg.max_body_bytes or d.unconsumed_tail:
            raise HttpError(413, f"decompressed body over {self.cfg.max_body_bytes} bytes")
        return data

    async def record(self, findings, bad, flagged, key: str) -> None:
        if self.store is None:
            return
        await run_in_threadpool(self.store.write_findings, findings, key)
        await run_in_threadpool(self.store.write_flagged, flagged, key)
        await run_in_threadpool(self.store.write_errors, bad, key)
        for f in findings:
            self.findings.labels(f.entity_type).inc()

    async def scan(self, events: list[Event]):
        async with self._scan_lock:  # one engine, one batch at a time; requests queue on the semaphore
            return await run_in_threadpool(self.engine.scan, events)


def _key(body: bytes) -> str:
    return "http-" + hashlib.sha256(body).hexdigest()[:24]


# -- routes ---------------------------------------------------------------------------------------
async def vercel(request: Request) -> Response:
    ing: Ingest = request.app.state.ingest
    verify = {"x-vercel-verify": ing.verify_token} if ing.verify_token else {}
    if ing.slots.locked():
        return _error(429, "too many requests in flight", retry=True, headers=verify)
    async with ing.slots:
        try:
            raw = await ing.body(request)
            signature = request.headers.get("x-vercel-signature")
            if signature is None:
                if ing.drain_secret or request.method == "GET" or not raw.strip():
                    return Response(status_code=200, headers=verify)  # the ownership probe: unsigned by design
            elif not ing.drain_secret or not hmac.compare_digest(
                    hmac.new(ing.drain_secret.encode(), raw, hashlib.sha1).hexdigest(), signature.strip().lower()):
                return _error(403, "invalid signature", headers=verify)
            body = ing.decoded(raw, request)
            try:
                doc = documents.parse(body, "vercel", "http:/ingest/vercel", max_bytes=ing.cfg.max_body_bytes)
            except documents.DocumentError as exc:
                return _error(400, str(exc), headers=verify)
            if ing.cfg.vercel.mode == "kafka":
                await _publish(ing, doc)
                return JSONResponse({"accepted": len(doc.records)}, headers=verify)
            return await _inline(ing, doc, body, verify)
        except HttpError as exc:
            return _error(exc.status, exc.message, exc.retry, verify)


async def _publish(ing: Ingest, doc: documents.Document) -> None:
    """Each drain record to the topic; acknowledged only when the broker has them all."""
    topic = ing.cfg.vercel.topic
    if not topic:
        raise HttpError(500, "vercel.topic is not configured")

    def send_all() -> None:
        producer = ing.producer()
        futures = [producer.send(topic, orjson.dumps(r.value)) for r in doc.records]
        producer.flush(timeout=ing.cfg.outbound_timeout_seconds)
        for f in futures:
            f.get(timeout=ing.cfg.outbound_timeout_seconds)

    try:
        await run_in_threadpool(send_all)
    except HttpError:
        raise
    except Exception as exc:  # NoBrokersAvailable, KafkaTimeoutError: nothing acknowledged that is not stored
        log.warning("publish failed: %s", type(exc).__name__)
        ing._producer = None
        raise HttpError(503, "broker unavailable", retry=True) from None


async def _inline(ing: Ingest, doc: documents.Document, body: bytes, verify: dict) -> Response:
    items = list(documents.events(doc))
    events = [i for i in items if isinstance(i, Event)]
    bad = [i for i in items if isinstance(i, BadRecord)]
    forward = ing.cfg.vercel.forward_url
    if forward:
        outcome = await run_in_threadpool(scrub_bytes, body, "vercel", "http:/ingest/vercel", ing.engine,
                                          ing.scrubber, ing.cfg.max_body_bytes)
        if outcome.clean is None:
            return _error(400, outcome.reason or "cannot scan", headers=verify)
        await ing.record(outcome.findings, bad, outcome.flagged, _key(body))
        await _post(ing, forward, outcome.clean, {"content-type": "application/json"})
        return JSONResponse({"accepted": len(events), "findings": len(outcome.findings)}, headers=verify)
    result = await ing.scan(events)
    await ing.record(result.findings, bad + result.bad, result.flagged, _key(body))
    return JSONResponse({"accepted": len(events), "findings": len(result.findings)}, headers=verify)


async def _post(ing: Ingest, url: str, body: bytes, headers: dict) -> "object":
    try:
        resp = await ing.http().post(url, content=body, headers=headers)
    except Exception as exc:  # timeouts, refused connections
        log.warning("forward failed: %s", type(exc).__name__)
        raise HttpError(503, "downstream unavailable", retry=True) from None
    if resp.status_code >= 500 or resp.status_code == 429:
        raise HttpError(503, "downstream unavailable", retry=True)
    return resp


def _dsn_parts(dsn: str) -> tuple[str, str, str] | None:
    """(public key, host, project id) of a DSN."""
    try:
        parts = urlsplit(dsn)
    except ValueError:
        return None
    project = parts.path.strip("/").rsplit("/", 1)[-1]
    if not parts.username or not parts.hostname or not project:
        return None
    return parts.username, parts.hostname, project


async def sentry_tunnel(request: Request) -> Response:
    ing: Ingest = request.app.state.ingest
    if ing.slots.locked():
        return _error(429, "too many requests in flight", retry=True)
    async with ing.slots:
        try:
            body = ing.decoded(await ing.body(request), request)
            first = body.split(b"\n", 1)[0]
            try:
                header = orjson.loads(first)
                dsn = _dsn_parts(str(header.get("dsn", "")))
            except (orjson.JSONDecodeError, AttributeError):
                return _error(400, "invalid envelope header")
            allowed = {_dsn_parts(d) for d in ing.cfg.sentry_tunnel.allowed_dsns}
            if dsn is None or dsn not in allowed:
                return _error(403, "DSN not allowed")
            key, host, project = dsn
            outcome = await run_in_threadpool(scrub_bytes, body, "sentry", "http:/ingest/sentry/tunnel", ing.engine,
                                              ing.scrubber, ing.cfg.max_body_bytes)
            if outcome.clean is None:  # fails closed: nothing unscanned leaves
                return _error(400, outcome.reason or "cannot scan")
            await ing.record(outcome.findings, [], outcome.flagged, _key(body))
            base = ing.cfg.sentry_tunnel.upstream or f"https://{host}"
            url = f"{base.rstrip('/')}/api/{project}/envelope/?sentry_key={key}"
            resp = await _post(ing, url, outcome.clean, {"content-type": "application/x-sentry-envelope"})
            return Response(resp.content, status_code=resp.status_code,
                            media_type=resp.headers.get("content-type", "application/json"))
        except HttpError as exc:
            return _error(exc.status, exc.message, exc.retry)


async def sentry_webhook(request: Request) -> Response:
    ing: Ingest = request.app.state.ingest
    try:
        body = await ing.body(request)
    except HttpError as exc:
        return _error(exc.status, exc.message)
    signature = request.headers.get("sentry-hook-signature") or request.headers.get("sentry-app-signature")
    if not ing.hook_secret or not signature or not hmac.compare_digest(
            hmac.new(ing.hook_secret.encode(), body, hashlib.sha256).hexdigest(), signature.strip().lower()):
        return _error(403, "invalid signature")
    resource = request.headers.get("sentry-hook-resource", "")
    if resource not in ("event_alert", "error"):
        return JSONResponse({"ignored": resource or "unknown"})
    try:
        doc = documents.parse(body, "sentry", "http:/ingest/sentry/webhook", max_bytes=ing.cfg.max_body_bytes)
    except documents.DocumentError as exc:
        return _error(400, str(exc))
    items = list(documents.events(doc))
    events = [i for i in items if isinstance(i, Event)]
    result = await ing.scan(events)
    await ing.record(result.findings, [i for i in items if isinstance(i, BadRecord)] + result.bad, result.flagged,
                     _key(body))
    return JSONResponse({"findings": len(result.findings)})


async def healthz(request: Request) -> Response:
    return JSONResponse({"status": "ok"})


async def readyz(request: Request) -> Response:
    ing: Ingest = request.app.state.ingest
    checks = {"model": ing.engine.analyzer.nlp is not None}
    if ing.cfg.vercel.enabled and ing.cfg.vercel.mode == "kafka":
        try:
            # a metadata round trip (bounded by max_block_ms): the broker answers, the topic exists
            checks["broker"] = bool(await run_in_threadpool(ing.producer().partitions_for, ing.cfg.vercel.topic))
        except Exception:
            ing._producer = None
            checks["broker"] = False
    ok = all(checks.values())
    return JSONResponse({"ready": ok, **checks}, status_code=200 if ok else 503,
                        headers={} if ok else {"Retry-After": RETRY_AFTER})


async def metrics(request: Request) -> Response:
    from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

    return Response(generate_latest(request.app.state.ingest.registry), media_type=CONTENT_TYPE_LATEST)


def _counted(name: str, handler):
    async def wrapped(request: Request) -> Response:
        response = await handler(request)
        request.app.state.ingest.requests.labels(name, str(response.status_code)).inc()
        return response
    return wrapped


def create_app(config: Config, engine: ScanEngine, hmac_key: bytes) -> Starlette:
    """The ASGI app a config describes."""
    routes = [Route("/healthz", healthz), Route("/readyz", readyz), Route("/metrics", metrics)]
    cfg = config.serve
    if cfg.vercel.enabled:
        routes.append(Route("/ingest/vercel", _counted("vercel", vercel), methods=["GET", "POST"]))
    if cfg.sentry_tunnel.enabled:
        routes.append(Route("/ingest/sentry/tunnel", _counted("sentry_tunnel", sentry_tunnel), methods=["POST"]))
    if cfg.sentry_webhook.enabled:
        routes.append(Route("/ingest/sentry/webhook", _counted("sentry_webhook", sentry_webhook), methods=["POST"]))
    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette):
        app.state.ingest = Ingest(config, engine, hmac_key)
        yield
        await app.state.ingest.close()
        if cfg.out_dir:
            from pipeline.storage import catalog

            await run_in_threadpool(catalog.refresh, cfg.out_dir)

    return Starlette(routes=routes, lifespan=lifespan)


def serve(config: Config, host: str, port: int) -> None:
    import uvicorn

    from pipeline.engine.fingerprint import resolve_key
    from pipeline.runtime.scan import build_engine

    out = Path(config.serve.out_dir) if config.serve.out_dir else None
    engine = build_engine(config, out)
    key = resolve_key(config.fingerprint.key, out)
    if config.serve.vercel.enabled and not (os.environ.get("PHISCAN_VERCEL_DRAIN_SECRET") or config.serve.vercel.secret):
        log.warning("no Vercel drain secret: unsigned drain bodies are accepted (set PHISCAN_VERCEL_DRAIN_SECRET)")
    uvicorn.run(create_app(config, engine, key), host=host, port=port, log_level="warning", access_log=False)
