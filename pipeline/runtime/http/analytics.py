"""Scrubbing proxies for analytics vendors: PostHog, Segment and Mixpanel, on their own ingestion routes.

A client library pointed at phiscan (`host="https://phiscan.host"`, or a vendor
`prefix`) posts exactly what it would post to the vendor. Event routes are
decoded the way each vendor's clients encode them (a content-encoding, PostHog's
`?compression=gzip-js`, a form field `data=` holding JSON or base64 JSON),
scanned and scrubbed through the runtime in the vendor's format, re-encoded (a
form stays a form, base64 stays base64; compressed JSON goes as plain JSON, which
every one of these APIs accepts) and forwarded to `serve.analytics.<vendor>.upstream`.
The vendor's own status and body come back to the client. Routes without event
data (feature flags, remote config, the JS bundle) pass through untouched.

Fails closed: a body that cannot be decoded or scanned is a 400 and is not
forwarded. Of the query string and form fields only the vendor's known control
parameters with short token values are forwarded: anything else could carry data
no scan has seen.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass
from urllib.parse import parse_qsl, urlencode

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from pipeline.runtime.http.app import Ingest, cors, counted, error, passed_back
from pipeline.runtime.http.body import HttpError, decode_all

FORM = "application/x-www-form-urlencoded"
SAFE_VALUE = re.compile(r"[A-Za-z0-9_.\-]{0,64}")  # a control parameter's value: a flag, version or id, no text


@dataclass(frozen=True)
class Vendor:
    """One vendor's routes: event paths (scanned; a Segment path may imply the message type) and pass-throughs."""

    name: str
    events: dict[str, str | None]  # path -> Segment message type the path implies (None: the body says)
    passthrough: tuple[str, ...]  # path prefixes without event data
    control: frozenset[str]  # query and form parameters forwarded (values: short tokens only)


def _slashed(*paths: str) -> dict[str, None]:
    """Both spellings: clients post `/track` and `/track/` alike, and a redirect would lose a POST body."""
    return {p: None for path in paths for p in (path.rstrip("/"), path.rstrip("/") + "/")}


SEGMENT_TYPES = {"track": "t", "identify": "i", "page": "p", "screen": "s", "group": "g", "alias": "a"}
VENDORS = {
    "posthog": Vendor("posthog", _slashed("/batch", "/e", "/i/v0/e", "/capture"),
                      ("/decide", "/flags", "/static/", "/array/", "/api/feature_flag/"),
                      frozenset({"ver", "_", "ip", "v"})),
    "segment": Vendor("segment", {"/v1/batch": None, "/v1/import": None, "/v1/b": None,
                                  **{f"/v1/{t}": t for t in SEGMENT_TYPES},
                                  **{f"/v1/{short}": t for t, short in SEGMENT_TYPES.items()}},
                      (), frozenset()),
    "mixpanel": Vendor("mixpanel", _slashed("/track", "/engage", "/import", "/groups"), ("/decide", "/flags"),
                       frozenset({"verbose", "ip", "strict", "project_id", "_", "test", "api_key"})),
}


def _control(pairs, vendor: Vendor) -> list[tuple[str, str]]:
    return [(k, v) for k, v in pairs if k in vendor.control and SAFE_VALUE.fullmatch(v)]


@dataclass
class Unwrapped:
    """An event body as the runtime reads it (JSON), and how to wrap the clean one back."""

    payload: bytes
    form: list[tuple[str, str]] | None = None  # the control fields of a form body
    base64: bool = False


def unwrap(body: bytes, content_type: str, compression: str, limit: int) -> Unwrapped:
    """The JSON inside a vendor body: a form's `data=` (JSON or base64), PostHog's gzip-js; 400/415 otherwise."""
    out = Unwrapped(body)
    if content_type == FORM:
        try:
            fields = parse_qsl(body.decode("utf-8"), keep_blank_values=True, max_num_fields=64)
        except (UnicodeDecodeError, ValueError):
            raise HttpError(400, "invalid form body") from None
        data = next((v for k, v in fields if k == "data"), None)
        if data is None:
            raise HttpError(400, "form body without a data field")
        compression = compression or next((v for k, v in fields if k == "compression"), "")
        out.form = [(k, v) for k, v in fields if k not in ("data", "compression")]
        if data.lstrip()[:1] in ("[", "{"):
            out.payload = data.encode("utf-8")
        else:
            try:  # standard or URL-safe alphabet, padding optional (mixpanel-js, posthog-js legacy)
                out.payload = base64.b64decode(data.replace("-", "+").replace("_", "/") + "=" * (-len(data) % 4),
                                               validate=True)
            except (binascii.Error, ValueError):
                raise HttpError(400, "form data field is neither JSON nor base64") from None
            out.base64 = True
    compression = compression.lower()
    if compression in ("gzip-js", "gzip"):
        out.payload = decode_all(out.payload, "gzip", limit)
    elif compression == "base64" and out.form is None:
        raise HttpError(400, "base64 compression without a form body")
    elif compression not in ("", "base64"):
        raise HttpError(415, "unsupported compression (gzip-js, gzip, base64 or none; lz64 is not read)")
    return out


def _typed(payload: bytes, message_type: str) -> bytes:
    """A Segment single-message body whose route implies its `type` (the HTTP API lets it be absent)."""
    try:
        value = orjson.loads(payload)
    except orjson.JSONDecodeError:
        return payload  # the runtime refuses it with a content-free reason
    if isinstance(value, dict) and "type" not in value:
        value["type"] = message_type
        return orjson.dumps(value)
    return payload


def _event_route(vendor: Vendor, path: str, message_type: str | None):
    async def handler(request: Request) -> Response:
        ing: Ingest = request.app.state.ingest
        body = await ing.read(request)
        content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
        unwrapped = unwrap(body, content_type, request.query_params.get("compression", ""), ing.cfg.max_body_bytes)
        payload = _typed(unwrapped.payload, message_type) if message_type else unwrapped.payload
        if ing.slots.locked():
            return error(429, "too many requests in flight", retry=True)
        async with ing.slots:
            outcome = await ing.process(payload, vendor.name, f"http:{path}", scrub=True, route=vendor.name)
            if outcome.quarantined:  # fails closed: nothing unscanned is forwarded
                return error(400, outcome.reason or "cannot scan")
            clean = outcome.clean or b""
            headers = {"content-type": "application/json"}
            if unwrapped.form is not None:
                data = base64.b64encode(clean).decode() if unwrapped.base64 else clean.decode("utf-8")
                clean = urlencode([("data", data), *_control(unwrapped.form, vendor)]).encode()
                headers["content-type"] = FORM
            elif b"\n" in clean.rstrip(b"\n"):
                headers["content-type"] = "application/x-ndjson"
            if "authorization" in request.headers:  # Segment's write key, Mixpanel's import secret: for the vendor
                headers["authorization"] = request.headers["authorization"]
            resp = await ing.send("POST", _upstream_url(ing, vendor, path, request), clean, headers)
            return passed_back(resp)
    return handler


def _upstream_url(ing: Ingest, vendor: Vendor, path: str, request: Request) -> str:
    query = urlencode(_control(request.query_params.multi_items(), vendor))
    base = getattr(ing.cfg.analytics, vendor.name).upstream.rstrip("/")
    return f"{base}{path}" + (f"?{query}" if query else "")


PASSED_ON = ("content-type", "content-encoding", "authorization", "accept", "if-none-match")


def _passthrough(vendor: Vendor, prefix: str):
    async def handler(request: Request) -> Response:
        """Feature flags, remote config, the JS bundle: no event data, so nothing to scrub; passed on as is."""
        ing: Ingest = request.app.state.ingest
        body = await ing.body(request)
        base = getattr(ing.cfg.analytics, vendor.name).upstream.rstrip("/")
        path = request.url.path[len(prefix):]
        url = f"{base}{path}" + (f"?{request.url.query}" if request.url.query else "")
        headers = {k: request.headers[k] for k in PASSED_ON if k in request.headers}
        resp = await ing.send(request.method, url, body or None, headers)
        return passed_back(resp)
    return handler


def routes(cfg) -> list[Route]:
    out: list[Route] = []
    for name, vendor in VENDORS.items():
        vcfg = getattr(cfg.analytics, name)
        if not vcfg.enabled:
            continue
        for path, message_type in vendor.events.items():
            handler = counted(name, cors(_event_route(vendor, path, message_type)))
            out.append(Route(vcfg.prefix + path, handler, methods=["POST", "OPTIONS"]))
        for path in vendor.passthrough:
            handler = counted(f"{name}_passthrough", cors(_passthrough(vendor, vcfg.prefix)))
            pattern = vcfg.prefix + path + "{rest:path}"
            out.append(Route(pattern, handler, methods=["GET", "POST", "OPTIONS"]))
    return out
