"""Sentry: event JSON, NDJSON/arrays of events, SDK envelopes, webhook bodies, Snuba rows.

Shapes handled, all with field paths that follow the raw JSON of the event:
- SDK and processed events (`event_id` or the API's `eventID`); headers, cookies
  and query as maps or `[[k, v]]` lists; breadcrumbs bare or under `values`;
- envelopes (`.envelope`): a header line, then item header + payload pairs with
  `length` honoured; JSON items (event, transaction, feedback, log, span,
  session...) become events, binary items (attachments, replay recordings,
  profiles) are skipped and counted, never decoded as text;
- envelopes saved as a JSON list (header, item header, payload, ...);
- integration-platform webhooks: the event under `data.event` / `data.error`
  (`data.issue` for issue webhooks);
- Snuba's `[version, "insert", {...}]` rows.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import orjson

from connectors.base import iso_to_datetime
from connectors.files import RawRecord, read_whole
from connectors.vercel import strip_query
from core.model import BadRecord, Event, Skipped

EVENT_KEYS = frozenset({"exception", "message", "logentry", "breadcrumbs", "request", "platform", "sdk", "contexts",
                        "spans", "transaction", "level", "threads", "user", "tags", "extra", "entries", "culprit"})
JSON_ITEM_TYPES = frozenset({"event", "transaction", "feedback", "user_report", "log", "span", "otel_log", "session",
                             "sessions", "client_report", "replay_event", "check_in", "statsd", "metric_meta"})
BINARY_ITEM_TYPES = frozenset({"attachment", "replay_recording", "replay_video", "profile", "profile_chunk"})
MAX_ENVELOPE_BYTES = 256 << 20


@dataclass(frozen=True, slots=True)
class EnvelopeItem:
    """One JSON item of an envelope, with the envelope header it came under."""

    header: dict
    item_header: dict
    payload: Any  # None for a binary item (attachment, replay): skipped, never decoded as text
    index: int
    binary_size: int = 0


def _dsn_project(dsn: Any) -> str | None:
    if not isinstance(dsn, str) or not dsn:
        return None
    try:
        path = urlsplit(dsn).path.strip("/")
    except ValueError:
        return None
    return path.rsplit("/", 1)[-1] or None


class EnvelopeError(ValueError):
    """Malformed envelope framing; the message is a reason without content."""


def split_envelope(data: bytes) -> tuple[dict, Iterator[tuple[dict, bytes]]]:
    """The envelope header and a lazy sequence of (item header, payload bytes), `length` honoured.

    Raises EnvelopeError on bad framing: at once for the header, while iterating for items.
    """
    nl = data.find(b"\n")
    head_line = data if nl < 0 else data[:nl]
    try:
        header = orjson.loads(head_line) if head_line.strip() else {}
    except orjson.JSONDecodeError:
        raise EnvelopeError("invalid envelope header (not JSON)") from None
    if not isinstance(header, dict):
        raise EnvelopeError("invalid envelope header (not an object)")

    def items() -> Iterator[tuple[dict, bytes]]:
        pos = len(data) if nl < 0 else nl + 1
        while pos < len(data):
            end = data.find(b"\n", pos)
            line = data[pos:] if end < 0 else data[pos:end]
            pos = len(data) if end < 0 else end + 1
            if not line.strip():
                continue
            try:
                item_header = orjson.loads(line)
            except orjson.JSONDecodeError:
                item_header = None
            if not isinstance(item_header, dict):
                raise EnvelopeError("invalid envelope item header")
            length = item_header.get("length")
            if isinstance(length, int) and length >= 0:
                if pos + length > len(data):
                    raise EnvelopeError("envelope item shorter than its length (truncated)")
                payload = data[pos:pos + length]
                pos += length
                if data[pos:pos + 1] == b"\n":
                    pos += 1
            else:
                end = data.find(b"\n", pos)
                payload = data[pos:] if end < 0 else data[pos:end]
                pos = len(data) if end < 0 else end + 1
            yield item_header, payload

    return header, items()


def is_json_item(item_header: dict) -> bool:
    item_type = str(item_header.get("type", ""))
    return item_type in JSON_ITEM_TYPES and item_type not in BINARY_ITEM_TYPES


def parse_envelope(data: bytes, name: str, source: str, max_item_bytes: int
                   ) -> Iterator[RawRecord | BadRecord | Skipped]:
    """Items of one envelope. Bad framing ends the envelope with one BadRecord."""
    try:
        header, items = split_envelope(data)
        for index, (item_header, payload) in enumerate(items):
            origin = f"{name}#item{index}"
            item_type = str(item_header.get("type", ""))
            if not is_json_item(item_header):  # its header is still scanned (the connector skips the body)
                yield RawRecord(EnvelopeItem(header, item_header, None, index, len(payload)), origin, len(payload),
                                name, index, "envelope")
            elif len(payload) > max_item_bytes:
                yield BadRecord(source, origin, f"record over {max_item_bytes} bytes", len(payload))
            else:
                try:
                    value = orjson.loads(payload)
                except orjson.JSONDecodeError:
                    yield BadRecord(source, origin, f"invalid JSON in envelope item ({item_type})", len(payload))
                    continue
                yield RawRecord(EnvelopeItem(header, item_header, value, index), origin, len(payload), name,
                                index, "envelope")
    except EnvelopeError as exc:
        yield BadRecord(source, name, str(exc), len(data))


def read_envelope_file(path: Path, source: str, *, max_record_bytes: int) -> Iterator[RawRecord | BadRecord | Skipped]:
    data = read_whole(path, source, MAX_ENVELOPE_BYTES, "envelope")
    if isinstance(data, BadRecord):
        yield data
        return
    yield from parse_envelope(data, str(path), source, max_record_bytes)


def is_event(value: Any) -> bool:
    return isinstance(value, dict) and ("event_id" in value or "eventID" in value) and bool(EVENT_KEYS & value.keys())


def _is_webhook(value: Any) -> bool:
    return (isinstance(value, dict) and isinstance(value.get("data"), dict) and "action" in value
            and bool({"event", "error", "issue"} & value["data"].keys()))


def _is_snuba(value: Any) -> bool:
    return (isinstance(value, list) and len(value) >= 3 and isinstance(value[0], int) and value[1] == "insert"
            and isinstance(value[2], dict))


def _is_envelope_list(value: Any) -> bool:
    return (isinstance(value, list) and len(value) >= 2 and isinstance(value[0], dict) and isinstance(value[1], dict)
            and "type" in value[1] and bool(set(value[0]) & {"event_id", "dsn", "sent_at", "sdk"}))


class Sentry:
    name = "sentry"
    documents = True  # arrays are envelopes-as-lists, Snuba rows or lists of events: split here

    def sniff(self, value: Any) -> bool:
        if isinstance(value, EnvelopeItem) or is_event(value) or _is_webhook(value) or _is_snuba(value):
            return True
        if _is_envelope_list(value):
            return True
        return isinstance(value, list) and bool(value) and all(is_event(v) for v in value[:3])

    def wrapper(self, record: RawRecord) -> Any:
        """What of a record surrounds its events: for an envelope item, its header, and on the first
        item the envelope header (`dsn`, `trace.user_id`, `trace.transaction` can hold values)."""
        value = record.value
        if isinstance(value, EnvelopeItem):
            return {"envelope": value.header, "item": value.item_header} if value.index == 0 \
                else {"item": value.item_header}
        return value

    def events(self, record: RawRecord) -> Iterator[Event | BadRecord | Skipped]:
        value = record.value
        if isinstance(value, EnvelopeItem) and value.payload is None:
            item_type = str(value.item_header.get("type", "")) or "untyped"
            yield Skipped(self.name, record.origin, f"binary or unscanned envelope item ({item_type})",
                          value.binary_size)
        elif isinstance(value, EnvelopeItem):
            yield self._event(value.payload, record.origin, record.size, value.header)
        elif _is_webhook(value):
            data = value["data"]
            inner = data.get("event") or data.get("error") or data.get("issue")
            yield self._event(inner, record.origin, record.size, {})
        elif _is_snuba(value):
            row = value[2]
            payload = row.get("data") if isinstance(row.get("data"), dict) else row
            yield self._event(payload, record.origin, record.size, {}, fallback_id=row.get("event_id"),
                              project=row.get("project_id"))
        elif _is_envelope_list(value):
            header = value[0]
            for i in range(1, len(value) - 1, 2):
                item_header, payload = value[i], value[i + 1]
                item_type = str(item_header.get("type", "")) if isinstance(item_header, dict) else ""
                origin = f"{record.origin}#item{i // 2}"
                if item_type not in JSON_ITEM_TYPES or not isinstance(payload, (dict, list)):
                    yield Skipped(self.name, origin, f"binary or unscanned envelope item ({item_type})", 0)
                    continue
                yield self._event(payload, origin, 0, header)
        elif isinstance(value, list):
            for i, item in enumerate(value):
                yield self._event(item, f"{record.origin}[{i}]" if record.layout != "array" else f"{record.file}#{i}",
                                  0, {})
        else:
            yield self._event(value, record.origin, record.size, {})

    def _event(self, payload: Any, origin: str, size: int, header: dict, fallback_id: Any = None,
               project: Any = None) -> Event | BadRecord:
        if not isinstance(payload, dict):
            return BadRecord(self.name, origin, f"expected a Sentry event object, got {type(payload).__name__}", size)
        eid = payload.get("event_id") or payload.get("eventID") or fallback_id or header.get("event_id") \
            or payload.get("sid") or payload.get("id")
        event_id = str(eid) if eid else origin
        if eid and header.get("event_id") == eid and payload.get("event_id") is None and "#item" in origin:
            event_id = f"{eid}:{origin.rsplit('#', 1)[-1]}"  # sessions etc. share the envelope id
        when = payload.get("timestamp") or payload.get("datetime") or payload.get("dateCreated") \
            or payload.get("received") or payload.get("started")
        project = project or payload.get("project") or payload.get("projectID") or payload.get("project_id") \
            or _dsn_project(header.get("dsn"))
        return Event(source=self.name, event_id=event_id, origin=origin, payload=payload,
                     timestamp=iso_to_datetime(when), project=str(project) if project is not None else None,
                     route=_route(payload), size=size)


def _route(payload: dict) -> str | None:
    tx = payload.get("transaction")
    if isinstance(tx, str) and tx:
        return strip_query(tx) if tx.startswith("/") else tx
    req = payload.get("request")
    if isinstance(req, dict) and isinstance(req.get("url"), str):
        try:
            return urlsplit(req["url"]).path or None
        except ValueError:
            return None
    return None
