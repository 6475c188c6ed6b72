"""`POST /ingest/vercel`: Vercel drains, signed, then published to Kafka or scanned inline.

`x-vercel-signature` (lowercase hex HMAC-SHA1 of the raw body) is checked in constant
time: 403 when wrong or, with a secret configured, missing on a body. A request without
a body is Vercel's ownership probe and gets `x-vercel-verify`. Bodies: JSON arrays or
NDJSON, compressed too. A 2xx means published, or written (and accepted downstream).
"""

from __future__ import annotations

import hashlib
import logging

import orjson
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from connectors import documents
from pipeline.runtime.http.app import Ingest, counted, error, signature_ok
from pipeline.runtime.http.body import HttpError

log = logging.getLogger("phiscan")
ORIGIN = "http:/ingest/vercel"


async def vercel(request: Request) -> Response:
    ing: Ingest = request.app.state.ingest
    verify = {"x-vercel-verify": ing.verify_token} if ing.verify_token else {}
    try:
        raw = await ing.body(request)
        signature = request.headers.get("x-vercel-signature")
        if signature is None and (request.method == "GET" or not raw.strip()):
            return Response(status_code=200, headers=verify)  # the ownership probe: unsigned by design
        if ing.drain_secret and not signature_ok(ing.drain_secret, raw, signature, hashlib.sha1):
            return error(403, "invalid signature", headers=verify)
        if not ing.drain_secret and signature is not None:
            return error(403, "invalid signature (no drain secret configured)", headers=verify)
        if ing.slots.locked():
            return error(429, "too many requests in flight", retry=True, headers=verify)
        async with ing.slots:
            body = ing.decoded(raw, request)
            if ing.cfg.vercel.mode == "kafka":
                try:
                    doc = documents.parse(body, "vercel", ORIGIN, max_bytes=ing.cfg.max_body_bytes)
                except documents.DocumentError as exc:
                    return error(400, str(exc), headers=verify)
                await _publish(ing, doc)
                return JSONResponse({"accepted": len(doc.records)}, headers=verify)
            forward = ing.cfg.vercel.forward_url
            outcome = await ing.process(body, "vercel", ORIGIN, scrub=bool(forward), route="vercel")
            if outcome.bad:  # fails closed: nothing unscanned is acknowledged as handled
                return error(400, outcome.reason or outcome.bad[0].reason, headers=verify)
            if forward:
                await _post(ing, forward, outcome.clean or b"")
            return JSONResponse({"accepted": len(outcome.events), "findings": len(outcome.findings)}, headers=verify)
    except HttpError as exc:
        return error(exc.status, exc.message, exc.retry, verify)


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


async def _post(ing: Ingest, url: str, body: bytes):
    """POST downstream; a 2xx is success, 429/5xx is retryable (503), any other answer is a refusal (502)."""
    resp = await ing.send("POST", url, body, {"content-type": "application/json"})
    if resp.status_code >= 500 or resp.status_code == 429:
        raise HttpError(503, "downstream unavailable", retry=True)
    if not 200 <= resp.status_code < 300:
        log.warning("downstream refused a forward: HTTP %d", resp.status_code)
        raise HttpError(502, f"downstream refused the records (HTTP {resp.status_code})")
    return resp


def routes(cfg) -> list[Route]:
    if not cfg.vercel.enabled:
        return []
    return [Route("/ingest/vercel", counted("vercel", vercel), methods=["GET", "POST"])]
