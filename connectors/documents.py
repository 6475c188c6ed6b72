"""One body of bytes (a Kafka record, an HTTP request body, a file) as a document: decoded and encoded back.

The codec is symmetric: `parse` decodes a document into records and their events,
and `encode` writes the same document back in its own layout from the very
objects the events point into. A JSON object stays an object, an array an array,
NDJSON stays NDJSON, plain lines stay lines, an envelope stays an envelope
whose header and item headers are written from their parsed (and scrubbed) dicts
with item lengths recomputed, and an OTLP protobuf request stays protobuf (decoded
to its OTLP/JSON shape, encoded back from it: see `connectors.otlp`).

Every byte that `encode` writes comes from an object some event covers: the
events a connector picks out, plus one wrapper event per record for what lies
around them (see `connectors.base.events_of`), plus a `meta` event for a Kafka
record's key and headers. So a scrub that edits what the scan found leaves no
unscanned byte in the output. What cannot be accounted for raises
`DocumentError` and is quarantined by the caller; binary envelope items are the
one exception, dropped unless `keep_binary` is asked for (then they pass unscanned,
by the user's choice).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import orjson

from connectors.base import events_of
from connectors.files import RawRecord, _looks_like_envelope
from connectors.otlp import OtlpError, decode_protobuf, encode_protobuf, is_protobuf
from connectors.registry import CONNECTORS, TEXT_FORMATS, detect_format, fits
from connectors.sentry import EnvelopeError, EnvelopeItem, is_json_item, split_envelope
from core.model import BadRecord, Event, Skipped


class DocumentError(ValueError):
    """The bytes are not a document of the format: the reason never holds content."""


@dataclass
class Document:
    """A parsed body: its layout, records and events, and what `encode` writes them back from."""

    fmt: str
    layout: str  # "object" | "array" | "ndjson" | "envelope" | "lines" | "protobuf" | "tombstone"
    records: list[RawRecord]
    items: list[Event | BadRecord | Skipped] = field(default_factory=list)
    envelope_header: dict | None = None
    envelope_items: list[tuple[dict, bytes | None]] = field(default_factory=list)  # (item header, raw binary)
    line_payloads: list[dict] = field(default_factory=list)  # lines: the `{"message": line}` each event edits
    meta: dict | None = None  # a Kafka record's key and headers, as text: {"key": str | None, "headers": [[k, v]]}
    signal: str | None = None  # protobuf: the OTLP signal ("logs" | "traces") the request is encoded back as

    @property
    def events(self) -> list[Event]:
        return [i for i in self.items if isinstance(i, Event)]

    @property
    def bad(self) -> list[BadRecord]:
        return [i for i in self.items if isinstance(i, BadRecord)]

    @property
    def skipped(self) -> list[Skipped]:
        return [i for i in self.items if isinstance(i, Skipped)]


def _json_error(exc: Exception) -> str:
    return f"invalid JSON ({str(exc).split(':')[0]})"


def parse(data: bytes | None, fmt: str, origin: str, *, max_bytes: int = 1 << 20,
          key: bytes | None = None, headers: list[tuple[str, bytes]] | None = None,
          content_type: str | None = None) -> Document:
    """Decode one body (and a Kafka record's `key` and `headers`). Raises DocumentError (content-free reason).

    `data=None` is a Kafka tombstone: a deletion marker with no value, so nothing but its
    key and headers to scan; it is written back as a tombstone. A `content_type` of
    `application/x-protobuf` reads an OTLP protobuf request; so does `fmt="otlp"` on a body
    that is no JSON and starts like one (field 1, length-delimited).
    """
    if data is None:
        doc = Document(fmt if fmt in CONNECTORS else "kafka", "tombstone", [])
    elif is_protobuf(content_type) or (fmt == "otlp" and _protobuf_like(data)):
        doc = _parse_protobuf(data, fmt, origin, max_bytes)
    else:
        doc = _decode(data, fmt, origin, max_bytes)
    connector = CONNECTORS.get(doc.fmt)
    for rec in doc.records:
        doc.items.extend(events_of(connector, rec))
    if doc.layout == "lines":
        doc.line_payloads = [e.payload for e in doc.events]
        if len(doc.line_payloads) != len(doc.records):
            raise DocumentError("lines not accounted for")  # every line must be an event to be written back
    if key is not None or headers:
        doc.meta = _meta(key, headers or [])
        doc.items.append(Event(source=doc.fmt, event_id=f"{origin}#record", origin=origin, payload=doc.meta,
                               wrapper=True))
    return doc


def _decode(data: bytes, fmt: str, origin: str, max_bytes: int) -> Document:
    if len(data) > max_bytes:
        raise DocumentError(f"record over {max_bytes} bytes")
    if not data.strip():
        raise DocumentError("empty body")
    if fmt in ("auto", "sentry") and _looks_like_envelope(data[:65536]):
        return _parse_envelope(data, origin)
    if fmt in TEXT_FORMATS:
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            raise DocumentError("invalid UTF-8") from None
        recs = [RawRecord(line, f"{origin}:{i}", len(line), origin, i, "lines")
                for i, line in enumerate(text.split("\n"), 1) if line.strip()]
        return Document(fmt, "lines", recs)
    if b"\x00" in data:
        raise DocumentError("binary data, not JSON")
    try:
        value = orjson.loads(data)
        layout = "array" if isinstance(value, list) else "object"
        docs = [value]
    except orjson.JSONDecodeError as exc:
        lines = [ln for ln in data.split(b"\n") if ln.strip()]
        if len(lines) < 2:
            raise DocumentError(_json_error(exc)) from None
        try:
            docs = [orjson.loads(ln) for ln in lines]
        except orjson.JSONDecodeError as exc2:
            raise DocumentError(_json_error(exc2)) from None
        layout = "ndjson"
    if not isinstance(docs[0], (dict, list)):
        raise DocumentError(f"expected a JSON object or array, got {type(docs[0]).__name__}")
    concrete = fmt if fmt != "auto" else detect_format(docs[0])
    if concrete is None:
        raise DocumentError("unrecognised format")
    connector = CONNECTORS[concrete]
    if not _fits(connector, docs[0]):
        raise DocumentError(f"not in the {concrete} format")
    if layout == "array" and not connector.documents:
        recs = [RawRecord(v, f"{origin}#{i}", 0, origin, i, "array") for i, v in enumerate(docs[0])]
    elif layout == "ndjson":
        recs = [RawRecord(v, f"{origin}:{i}", 0, origin, i, "ndjson") for i, v in enumerate(docs, 1)]
    else:
        recs = [RawRecord(docs[0], origin, len(data), origin, 0, layout)]
    return Document(concrete, layout, recs)


def _fits(connector, value) -> bool:
    if isinstance(value, list) and not connector.documents:
        return not value or fits(connector, value)
    return fits(connector, value)


def _protobuf_like(data: bytes) -> bool:
    if data[:1] != b"\n":
        return False
    try:
        orjson.loads(data)
    except orjson.JSONDecodeError:
        return True
    return False


def _parse_protobuf(data: bytes, fmt: str, origin: str, max_bytes: int) -> Document:
    if fmt not in ("otlp", "auto"):
        raise DocumentError(f"a protobuf body cannot be in the {fmt} format (only otlp)")
    if len(data) > max_bytes:
        raise DocumentError(f"record over {max_bytes} bytes")
    try:
        signal, value = decode_protobuf(data)
    except OtlpError as exc:
        raise DocumentError(str(exc)) from None
    return Document("otlp", "protobuf", [RawRecord(value, origin, len(data), origin, 0, "protobuf")], signal=signal)


def _parse_envelope(data: bytes, origin: str) -> Document:
    records: list[RawRecord] = []
    items: list[tuple[dict, bytes | None]] = []
    try:
        header, parts = split_envelope(data)
        for index, (item_header, payload) in enumerate(parts):
            if not is_json_item(item_header):
                records.append(RawRecord(EnvelopeItem(header, item_header, None, index, len(payload)),
                                         f"{origin}#item{index}", len(payload), origin, index, "envelope"))
                items.append((item_header, payload))
                continue
            try:
                value = orjson.loads(payload)
            except orjson.JSONDecodeError:
                raise DocumentError("invalid JSON in envelope item") from None
            records.append(RawRecord(EnvelopeItem(header, item_header, value, index), f"{origin}#item{index}",
                                     len(payload), origin, index, "envelope"))
            items.append((item_header, None))
    except EnvelopeError as exc:
        raise DocumentError(str(exc)) from None
    if not records:  # a header alone: still scanned, through a record that writes nothing itself
        records.append(RawRecord(EnvelopeItem(header, {}, None, 0), f"{origin}#header", 0, origin, 0, "envelope"))
    return Document("sentry", "envelope", records, envelope_header=header, envelope_items=items)


def _meta(key: bytes | None, headers: list[tuple[str, bytes]]) -> dict:
    """A Kafka record's key and header values as text, so they are scanned and scrubbed like any field."""
    try:
        return {"key": key.decode("utf-8") if key is not None else None,
                "headers": [[str(name), value.decode("utf-8") if value is not None else None]
                            for name, value in headers]}
    except UnicodeDecodeError:
        raise DocumentError("record key or header is not UTF-8 text (cannot be scanned)") from None


def meta_out(doc: Document) -> tuple[bytes | None, list[tuple[str, bytes]]]:
    """The (scrubbed) key and headers of a Kafka record, as the producer sends them."""
    meta = doc.meta or {"key": None, "headers": []}
    key = meta.get("key")
    headers = [(str(h[0]), (h[1] or "").encode()) for h in meta.get("headers") or () if isinstance(h, list) and h]
    return (key.encode() if isinstance(key, str) else None), headers


def encode(doc: Document, *, keep_binary: bool = False) -> bytes | None:
    """The document's bytes in its own layout, from its (possibly scrubbed) objects (None: a tombstone)."""
    if doc.layout == "tombstone":
        return None
    if doc.layout == "protobuf":
        try:
            return encode_protobuf(doc.records[0].value, doc.signal or "logs")
        except OtlpError as exc:
            raise DocumentError(str(exc)) from None
    if doc.layout == "lines":
        return b"".join(_line(p).encode() + b"\n" for p in doc.line_payloads)
    if doc.layout == "ndjson":
        return b"".join(orjson.dumps(r.value) + b"\n" for r in doc.records)
    if doc.layout == "array" and not CONNECTORS[doc.fmt].documents:
        return orjson.dumps([r.value for r in doc.records])
    if doc.layout in ("object", "array"):
        return orjson.dumps(doc.records[0].value)
    out = [orjson.dumps(doc.envelope_header or {})]
    json_items = iter(r.value for r in doc.records if r.value.payload is not None)
    for item_header, binary in doc.envelope_items:
        if binary is None:
            payload = orjson.dumps(next(json_items).payload)
        elif keep_binary:
            payload = binary
        else:
            continue  # binary items (attachments, replays) can hold PHI: dropped unless kept on purpose
        out.append(orjson.dumps({**item_header, "length": len(payload)}))
        out.append(payload)
    return b"\n".join(out) + b"\n"


def _line(payload: Any) -> str:
    message = payload.get("message") if isinstance(payload, dict) else None
    return message if isinstance(message, str) else ""
