"""OpenTelemetry OTLP: logs (`resourceLogs`) and traces (`resourceSpans`), as OTLP/JSON or protobuf.

Each log record and each span is an event whose payload is the very dict inside the
request (the scrubber edits it in place); resource and scope attributes lie around
the events and are scanned as the record's wrapper (`connectors.base.events_of`).

- logs: `event_id` is `traceId:spanId` (a second record of the same span gets `#2`,
  ...), else the record's position; time from `timeUnixNano` (else
  `observedTimeUnixNano`); route from the `http.route` / `url.path` attributes.
- spans: `event_id` is `traceId:spanId`, time `startTimeUnixNano`, route from
  `http.route` / `http.target` / `url.path` / the URL attributes.
The source is `otlp-logs` / `otlp-traces`, or `vercel-traces` for spans Vercel emitted
(a `vercel.*` resource attribute, a `vercel...` service or scope name): `--format auto`
gives a Vercel trace drain to the `vercel` format, whose trace spans are read here.

Protobuf (`ExportLogsServiceRequest`, `ExportTraceServiceRequest`) is decoded with
`MessageToDict` into the OTLP/JSON shape and encoded back with `ParseDict`, so the
codec stays symmetric. OTLP/JSON writes trace and span ids as hex, protobuf's JSON
mapping as base64: ids are turned into hex on decode and back into bytes on encode.
A request with fields this OTLP version does not know is refused (they could not be
scanned nor written back).
"""

from __future__ import annotations

import base64
import binascii
import copy
from collections import Counter
from collections.abc import Iterator
from typing import Any

from connectors.base import epoch_to_datetime, url_path
from connectors.files import RawRecord
from core.model import BadRecord, Event

SIGNALS = {"logs": "resourceLogs", "traces": "resourceSpans"}
ID_KEYS = ("traceId", "spanId", "parentSpanId")
PROTOBUF_CONTENT_TYPES = ("application/x-protobuf", "application/protobuf")
ROUTE_KEYS = ("http.route", "url.path", "http.target", "http.url", "url.full")


class OtlpError(ValueError):
    """Bytes that are no OTLP request of a known signal (the reason holds no content)."""


def signal_of(value: Any) -> str | None:
    """`logs` or `traces` for an OTLP/JSON request, else None."""
    if isinstance(value, dict):
        for signal, key in SIGNALS.items():
            if isinstance(value.get(key), list):
                return signal
    return None


def attrs(attributes: Any) -> dict[str, Any]:
    """OTLP attributes (`[{key, value: {stringValue|intValue|...}}]`) as a plain dict (for metadata only)."""
    out: dict[str, Any] = {}
    for a in attributes if isinstance(attributes, list) else ():
        if isinstance(a, dict) and isinstance(a.get("value"), dict) and a["value"]:
            out[str(a.get("key"))] = next(iter(a["value"].values()))
    return out


def _route(attributes: dict[str, Any]) -> str | None:
    route = attributes.get("http.route")
    if isinstance(route, str) and route:
        return route
    for key in ROUTE_KEYS[1:]:
        path = url_path(attributes.get(key))
        if path:
            return path
    return None


def _items(record: RawRecord, signal: str, source: str) -> Iterator[tuple[str, dict, dict, bool] | BadRecord]:
    """(origin, item, resource attributes, Vercel's?) for every log record or span of a request; odd shapes as bad."""
    outer, scoped, leaf = ("resourceLogs", "scopeLogs", "logRecords") if signal == "logs" \
        else ("resourceSpans", "scopeSpans", "spans")
    for ri, resource_block in enumerate(record.value[outer]):
        where = f"{record.origin}/{outer}[{ri}]"
        if not isinstance(resource_block, dict):
            yield BadRecord(source, where, "expected an object", 0)
            continue
        resource = resource_block.get("resource")
        if resource is not None and not isinstance(resource, dict):
            yield BadRecord(source, where, "resource is not an object", 0)
            continue
        resource_attrs = attrs((resource or {}).get("attributes"))
        vercel = is_vercel_resource(resource_block)
        for si, scope_block in enumerate(resource_block.get(scoped) or ()):
            if not isinstance(scope_block, dict):
                yield BadRecord(source, f"{where}.{scoped}[{si}]", "expected an object", 0)
                continue
            for pi, item in enumerate(scope_block.get(leaf) or ()):
                origin = f"{where}.{scoped}[{si}].{leaf}[{pi}]"
                if not isinstance(item, dict):
                    yield BadRecord(source, origin, f"expected a {leaf[:-1]} object", 0)
                    continue
                yield origin, item, resource_attrs, vercel


def is_vercel_resource(resource_block: Any) -> bool:
    """Spans of Vercel's trace drain: a `vercel.*` resource attribute, or a service or scope named `vercel...`."""
    if not isinstance(resource_block, dict) or not isinstance(resource_block.get("resource", {}), dict):
        return False
    resource_attrs = attrs((resource_block.get("resource") or {}).get("attributes"))
    if any(str(k).startswith("vercel.") for k in resource_attrs):
        return True
    if str(resource_attrs.get("service.name", "")).startswith("vercel"):
        return True
    scopes = resource_block.get("scopeSpans")
    names = (s["scope"].get("name", "") for s in (scopes[:8] if isinstance(scopes, list) else ())
             if isinstance(s, dict) and isinstance(s.get("scope"), dict))
    return any(str(name).startswith("vercel") for name in names)


def is_vercel_traces(value: Any) -> bool:
    """An OTLP/JSON trace request whose first resource Vercel emitted."""
    return signal_of(value) == "traces" and bool(value["resourceSpans"]) and is_vercel_resource(
        value["resourceSpans"][0])


def _pair(item: dict) -> str | None:
    trace, span = item.get("traceId"), item.get("spanId")
    return f"{trace}:{span}" if trace and span else None


def span_events(record: RawRecord, source: str | None = None) -> Iterator[Event | BadRecord]:
    """One event per span; `source` None picks `vercel-traces` or `otlp-traces` from the resource."""
    for item in _items(record, "traces", source or "otlp-traces"):
        if isinstance(item, BadRecord):
            yield item
            continue
        origin, span, resource_attrs, vercel = item
        project = resource_attrs.get("vercel.projectId")
        yield Event(source=source or ("vercel-traces" if vercel else "otlp-traces"),
                    event_id=_pair(span) or origin, origin=origin, payload=span,
                    timestamp=epoch_to_datetime(span.get("startTimeUnixNano")),
                    project=str(project) if project else None, route=_route(attrs(span.get("attributes"))), size=0)


def log_events(record: RawRecord) -> Iterator[Event | BadRecord]:
    """One event per log record."""
    seen: Counter = Counter()
    for item in _items(record, "logs", "otlp-logs"):
        if isinstance(item, BadRecord):
            yield item
            continue
        origin, log_record, resource_attrs, _ = item
        pair = _pair(log_record)
        if pair:
            seen[pair] += 1  # a span logs many records: each needs its own id, stable on re-reads
            pair = pair if seen[pair] == 1 else f"{pair}#{seen[pair]}"
        project = resource_attrs.get("service.name")
        yield Event(source="otlp-logs", event_id=pair or origin, origin=origin, payload=log_record,
                    timestamp=epoch_to_datetime(log_record.get("timeUnixNano")
                                                or log_record.get("observedTimeUnixNano")),
                    project=str(project) if project else None, route=_route(attrs(log_record.get("attributes"))),
                    size=0)


class Otlp:
    """OTLP/JSON and protobuf export requests: logs and traces, one event per log record or span."""

    name = "otlp"
    documents = False

    def sniff(self, value: Any) -> bool:
        return signal_of(value) is not None and not is_vercel_traces(value)  # those are the `vercel` format's

    def accepts(self, value: Any) -> bool:
        """With `--format otlp` asked for: any OTLP request, Vercel's trace drains too."""
        return signal_of(value) is not None

    def events(self, record: RawRecord) -> Iterator[Event | BadRecord]:
        signal = signal_of(record.value)
        if signal is None:
            yield BadRecord(self.name, record.origin, "expected an OTLP resourceLogs or resourceSpans request",
                            record.size)
        elif signal == "logs":
            yield from log_events(record)
        else:
            yield from span_events(record)


# -- protobuf ----------------------------------------------------------------------------------------
def is_protobuf(content_type: str | None) -> bool:
    return bool(content_type) and content_type.split(";")[0].strip().lower() in PROTOBUF_CONTENT_TYPES


def _request_class(signal: str):
    if signal == "logs":
        from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest

        return ExportLogsServiceRequest
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

    return ExportTraceServiceRequest


def _convert_ids(node: Any, convert) -> None:
    """Rewrite every trace/span id in a request dict, in place (ids sit in records, spans and links)."""
    stack = [node]
    while stack:
        cur = stack.pop()
        if isinstance(cur, dict):
            for key, value in cur.items():
                if key in ID_KEYS and isinstance(value, str):
                    cur[key] = convert(value)
                elif isinstance(value, (dict, list)):
                    stack.append(value)
        elif isinstance(cur, list):
            stack.extend(v for v in cur if isinstance(v, (dict, list)))


def _b64_to_hex(value: str) -> str:
    return base64.b64decode(value).hex()


def _hex_to_b64(value: str) -> str:
    try:
        return base64.b64encode(bytes.fromhex(value)).decode()
    except ValueError:
        raise OtlpError("a trace or span id is not hex after scrubbing") from None


def decode_protobuf(data: bytes, signal: str | None = None) -> tuple[str, dict]:
    """(signal, OTLP/JSON dict) of a protobuf export request; the signal is found when not given.

    A request of the other signal parses without error but leaves fields it cannot place
    as unknown: the signal whose message accounts for every byte is the one.
    """
    from google.protobuf.json_format import MessageToDict
    from google.protobuf.message import DecodeError

    for candidate in (signal,) if signal else ("logs", "traces"):
        message = _request_class(candidate)()
        try:
            message.ParseFromString(data)
        except DecodeError:
            continue
        message.DiscardUnknownFields()
        if len(message.SerializeToString()) != len(data):
            continue  # fields this message does not know: not this signal (or a newer OTLP)
        value = MessageToDict(message, preserving_proto_field_name=False, use_integers_for_enums=True)
        value.setdefault(SIGNALS[candidate], [])
        _convert_ids(value, _b64_to_hex)
        return candidate, value
    raise OtlpError(f"not an OTLP {signal or 'logs or traces'} protobuf request")


def encode_protobuf(value: dict, signal: str) -> bytes:
    """The protobuf bytes of an OTLP/JSON request dict (hex ids); the dict itself is left as it is."""
    from google.protobuf.json_format import ParseDict, ParseError

    wire = copy.deepcopy(value)
    _convert_ids(wire, _hex_to_b64)
    try:
        return ParseDict(wire, _request_class(signal)()).SerializeToString()
    except (ParseError, binascii.Error, ValueError, TypeError) as exc:
        raise OtlpError(f"cannot encode the scrubbed request as protobuf ({type(exc).__name__})") from None


def read_protobuf_file(path, source: str, *, max_bytes: int) -> Iterator[RawRecord | BadRecord]:
    """A `.pb` file holding one export request (gzip/zstd too) as one record in the OTLP/JSON shape."""
    from connectors.files import read_whole

    data = read_whole(path, source, max_bytes, "protobuf file")
    if isinstance(data, BadRecord):
        yield data
        return
    try:
        _, value = decode_protobuf(data)
    except OtlpError as exc:
        yield BadRecord(source, str(path), str(exc), len(data))
        return
    yield RawRecord(value, str(path), len(data), str(path), 0, "protobuf")
