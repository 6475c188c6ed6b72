"""OTLP/HTTP receivers: `POST /v1/logs` and `/v1/traces`, scrubbed, then forwarded to a collector.

Point an OpenTelemetry SDK's or collector's OTLP/HTTP exporter at phiscan
(`OTEL_EXPORTER_OTLP_ENDPOINT=https://phiscan.example.com`) and phiscan at the
collector (`serve.otlp.upstream`). A request, JSON (`application/json`) or
protobuf (`application/x-protobuf`), gzip-encoded or not, is scanned and scrubbed
through the runtime (`Runtime.process`, the same engine, scrubber and recording as
every other path), written back in its own encoding, and posted to
`UPSTREAM/v1/logs` or `UPSTREAM/v1/traces`. The collector's answer (status, body,
`Retry-After`) is passed back to the exporter, which retries on 429/502/503/504 by
itself.

Fails closed: a request that cannot be parsed, is not of the route's signal, holds
a record that cannot be scanned, or cannot be encoded back is answered 400 and
nothing is forwarded. A collector that cannot be reached gives 503 with
`Retry-After`. With no upstream configured, requests are scanned and recorded only.

The routes need only what `get_ingest(request)` returns: the serve state with
`body(request)`, `decoded(raw, request)`, `process(...)`, `http()`, `slots` and
`cfg` (see `pipeline.runtime.serve.Ingest`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from connectors.otlp import OtlpError, decode_protobuf, is_protobuf, signal_of

log = logging.getLogger("phiscan")
RETRY_AFTER = "5"
PASSED_HEADERS = ("retry-after",)


class _Refused(Exception):
    def __init__(self, status: int, message: str, retry: bool = False):
        self.status, self.message, self.retry = status, message, retry


def _error(status: int, message: str, retry: bool = False) -> JSONResponse:
    """An error answer; the message names the problem, never the content."""
    headers = {"Retry-After": RETRY_AFTER} if retry else {}
    return JSONResponse({"code": status, "message": message}, status_code=status, headers=headers)


def _as_refusal(exc: Exception) -> _Refused | None:
    """The serve state's own HTTP errors (body too large, too slow, bad gzip) carry a status and a message."""
    status, message = getattr(exc, "status", None), getattr(exc, "message", None)
    if isinstance(status, int) and isinstance(message, str):
        return _Refused(status, message, bool(getattr(exc, "retry", False)))
    return None


def _content_type(request: Request) -> str:
    """`protobuf` or `json` for the request's content type; anything else is refused (415)."""
    value = request.headers.get("content-type", "")
    if is_protobuf(value):
        return "protobuf"
    if value.split(";")[0].strip().lower() == "application/json":
        return "json"
    raise _Refused(415, "content type must be application/x-protobuf or application/json")


def _signal(clean: bytes, encoding: str) -> str | None:
    """The signal of the (scrubbed) request: the route's own, or it is not forwarded."""
    try:
        return decode_protobuf(clean)[0] if encoding == "protobuf" else signal_of(orjson.loads(clean))
    except (OtlpError, orjson.JSONDecodeError):
        return None


def _success(encoding: str) -> Response:
    """An empty Export*ServiceResponse: no bytes in protobuf, `{}` in JSON."""
    if encoding == "protobuf":
        return Response(b"", status_code=200, media_type="application/x-protobuf")
    return JSONResponse({})


async def _receive(ing: Any, request: Request, signal: str) -> Response:
    encoding = _content_type(request)
    body = ing.decoded(await ing.body(request), request)
    if (encoding == "protobuf" and body[:1] != b"\n") or (encoding == "json" and body.lstrip()[:1] != b"{"):
        raise _Refused(400, f"not an OTLP {signal} {encoding} request")  # written back as it came, or not at all
    if ing.slots.locked():
        raise _Refused(429, "too many requests in flight", retry=True)
    async with ing.slots:
        outcome = await ing.process(body, "otlp", f"http:/v1/{signal}", scrub=True, route=f"otlp_{signal}")
        if outcome.quarantined or outcome.bad:  # fails closed: nothing unscanned leaves
            raise _Refused(400, outcome.reason or outcome.bad[0].reason)
        if _signal(outcome.clean or b"", encoding) != signal:
            raise _Refused(400, f"not an OTLP {signal} request")
        upstream = ing.cfg.otlp.upstream
        if not upstream:
            return _success(encoding)
        return await _forward(ing, f"{upstream.rstrip('/')}/v1/{signal}", outcome.clean or b"",
                              request.headers.get("content-type", ""))


async def _forward(ing: Any, url: str, clean: bytes, content_type: str) -> Response:
    """POST the scrubbed request to the collector and answer with what it answered."""
    try:
        resp = await ing.http().post(url, content=clean, headers={"content-type": content_type})
    except Exception as exc:  # noqa: BLE001 - timeouts, refused connections: the exporter retries on 503
        log.warning("OTLP forward failed: %s", type(exc).__name__)
        raise _Refused(503, "collector unavailable", retry=True) from None
    if not 200 <= resp.status_code < 300:
        log.warning("collector answered HTTP %d", resp.status_code)
    passed = {k: v for k, v in resp.headers.items() if k.lower() in PASSED_HEADERS}
    return Response(resp.content, status_code=resp.status_code, headers=passed,
                    media_type=resp.headers.get("content-type", content_type))


def _endpoint(signal: str, get_ingest: Callable[[Request], Any]):
    async def receive(request: Request) -> Response:
        try:
            return await _receive(get_ingest(request), request, signal)
        except _Refused as exc:
            return _error(exc.status, exc.message, exc.retry)
        except Exception as exc:
            refusal = _as_refusal(exc)
            if refusal is None:
                raise
            return _error(refusal.status, refusal.message, refusal.retry)

    return receive


def routes(get_ingest: Callable[[Request], Any]) -> list[Route]:
    """The two OTLP/HTTP routes, for `create_app` to add when `serve.otlp.enabled` is set."""
    return [Route("/v1/logs", _endpoint("logs", get_ingest), methods=["POST"], name="otlp_logs"),
            Route("/v1/traces", _endpoint("traces", get_ingest), methods=["POST"], name="otlp_traces")]
