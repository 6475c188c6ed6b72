"""One body of bytes (a Kafka record value, an HTTP request body, a small file) as a document.

A document is parsed once into records, turned into events by the format's
connector, and (for scrubbing) serialized back in its own layout after the
events' payloads were changed in place: a JSON object stays an object, an
array an array, NDJSON stays NDJSON, an envelope stays an envelope with its
item lengths recomputed, and binary envelope items pass or drop as told.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

import orjson

from connectors.files import RawRecord, _looks_like_envelope
from connectors.registry import CONNECTORS, TEXT_FORMATS, detect_format
from connectors.sentry import EnvelopeError, EnvelopeItem, is_json_item, split_envelope
from core.model import BadRecord, Event, Skipped


class DocumentError(ValueError):
    """The bytes are not a document of the format: the reason never holds content."""


@dataclass
class Document:
    """Parsed bytes: the layout, the records, and what is needed to write them back."""

    fmt: str
    layout: str  # "object" | "array" | "ndjson" | "envelope" | "lines"
    records: list[RawRecord]
    envelope_header: bytes = b""
    envelope_items: list[tuple[dict, bytes | None]] = field(default_factory=list)  # (item header, raw binary)


def _json_error(exc: Exception) -> str:
    return f"invalid JSON ({str(exc).split(':')[0]})"


def parse(data: bytes, fmt: str, origin: str, *, max_bytes: int = 1 << 20) -> Document:
    """Parse one body. Raises DocumentError (with a content-free reason)."""
    if len(data) > max_bytes:
        raise DocumentError(f"record over {max_bytes} bytes")
    if not data.strip():
        raise DocumentError("empty body")
    if fmt in ("auto", "sentry") and _looks_like_envelope(data[:65536]):
        return _parse_envelope(data, origin)
    if fmt in TEXT_FORMATS:
        text = data.decode("utf-8", "replace")
        recs = [RawRecord(line, f"{origin}:{i}", len(line), origin, i, "lines")
                for i, line in enumerate(text.splitlines(), 1) if line.strip()]
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
        return not value or connector.sniff(value[0])
    return connector.sniff(value)


def _parse_envelope(data: bytes, origin: str) -> Document:
    header_line = data.split(b"\n", 1)[0]
    records: list[RawRecord] = []
    items: list[tuple[dict, bytes | None]] = []
    try:
        header, parts = split_envelope(data)
        for index, (item_header, payload) in enumerate(parts):
            if not is_json_item(item_header):
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
    return Document("sentry", "envelope", records, header_line, items)


def events(doc: Document) -> Iterator[Event | BadRecord | Skipped]:
    connector = CONNECTORS[doc.fmt]
    for rec in doc.records:
        yield from connector.events(rec)
    for item_header, binary in doc.envelope_items:
        if binary is not None:
            yield Skipped(doc.fmt, doc.records[0].file if doc.records else "",
                          f"binary or unscanned envelope item ({item_header.get('type', 'untyped')})", len(binary))


def serialize(doc: Document, *, keep_binary: bool = False) -> bytes:
    """The document's bytes in its own layout, from its (possibly scrubbed) records."""
    if doc.layout == "lines":
        return b"".join(r.value.encode() + b"\n" for r in doc.records)
    if doc.layout == "ndjson":
        return b"".join(orjson.dumps(r.value) + b"\n" for r in doc.records)
    if doc.layout == "array" and not CONNECTORS[doc.fmt].documents:
        return orjson.dumps([r.value for r in doc.records])
    if doc.layout in ("object", "array"):
        return orjson.dumps(doc.records[0].value)
    out = [doc.envelope_header.strip()]
    json_items = iter(doc.records)
    for item_header, binary in doc.envelope_items:
        if binary is None:
            payload = orjson.dumps(next(json_items).value.payload)
        elif keep_binary:
            payload = binary
        else:
            continue  # binary items (attachments, replays) can hold PHI: dropped unless kept on purpose
        out.append(orjson.dumps({**item_header, "length": len(payload)}))
        out.append(payload)
    return b"\n".join(out) + b"\n"
