"""The explicit registry of file formats, and the one function that reads events from files.

A file's layout (JSON/NDJSON, plain text, Sentry envelope, CSV, Parquet) is
sniffed from its bytes; its format (which vendor) from its first record. An
explicit `--format` that does not fit the first record is one clear
`FormatError`, never a flood of empty events.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from connectors.base import FileConnector, events_of
from connectors.files import ByteRange, RawRecord, read_json_records, read_range, read_text_lines, sniff_layout
from connectors.ga4 import GA4
from connectors.jsonlogs import JsonLogs
from connectors.lines import TextLines
from connectors.mixpanel import Mixpanel
from connectors.otlp import Otlp, read_protobuf_file
from connectors.posthog import PostHog
from connectors.segment import Segment
from connectors.sentry import Sentry, read_envelope_file
from connectors.tabular import read_csv_rows, read_parquet_rows
from connectors.vercel import VercelDrains
from core.model import BadRecord, Event, Skipped

log = logging.getLogger("phiscan")

# Detection order: the most specific shapes first; `jsonlogs` is the fallback for JSON log objects.
CONNECTORS: dict[str, FileConnector] = {
    "sentry": Sentry(),
    "segment": Segment(),
    "mixpanel": Mixpanel(),
    "posthog": PostHog(),
    "ga4": GA4(),
    "otlp": Otlp(),  # before vercel: a Vercel trace drain is OTLP (its spans keep the `vercel-traces` source)
    "vercel": VercelDrains(),
    "jsonlogs": JsonLogs(),
    "lines": TextLines(),
}
TEXT_FORMATS = frozenset({"lines"})
FORMATS = ("auto", *CONNECTORS)
# Which formats can come in which layout.
LAYOUT_FORMATS = {
    "envelope": {"sentry"},
    "csv": {"posthog", "mixpanel", "ga4"},
    "parquet": {"posthog", "mixpanel", "ga4"},
    "text": {"lines"},
    "protobuf": {"otlp"},
}


class FormatError(ValueError):
    """A file is not in the requested format, or no format recognises it.

    `reason` is the short, content-free reason recorded in the errors table.
    """

    def __init__(self, message: str, reason: str = "unrecognised format"):
        super().__init__(message)
        self.reason = reason


def _sniff(connector: FileConnector, value: Any) -> bool:
    """Whether a value looks like the connector's format; a sniffer's error on odd input is a no."""
    try:
        if isinstance(value, list) and not getattr(connector, "documents", False):
            return bool(value) and bool(connector.sniff(value[0]))
        return bool(connector.sniff(value))
    except Exception:  # noqa: BLE001 - `"type": [...]` made a sniffer raise: not this format
        return False


def fits(connector: FileConnector, value: Any) -> bool:
    """Whether a value can be read by a connector that was asked for by name (`--format X`).

    Some connectors accept more when named than they claim under detection (`jsonlogs`
    takes any JSON object when asked, only log-like ones when guessing).
    """
    accepts = getattr(connector, "accepts", None)
    if accepts is None:
        return _sniff(connector, value)
    try:
        if isinstance(value, list) and not getattr(connector, "documents", False):
            return bool(value) and bool(accepts(value[0]))
        return bool(accepts(value))
    except Exception:  # noqa: BLE001 - as in _sniff
        return False


def detect_format(value: object, allowed: set[str] | None = None) -> str | None:
    for name, conn in CONNECTORS.items():
        if (allowed is None or name in allowed) and _sniff(conn, value):
            return name
    return None


def _records(path: Path, layout: str, source: str, max_record_bytes: int, split_arrays: bool = True
             ) -> Iterator[RawRecord | BadRecord | Skipped]:
    if layout == "envelope":
        return read_envelope_file(path, source, max_record_bytes=max_record_bytes)
    if layout == "parquet":
        return read_parquet_rows(path, source, max_record_bytes=max_record_bytes)
    if layout == "csv":
        return read_csv_rows(path, source, max_record_bytes=max_record_bytes)
    if layout == "text":
        return read_text_lines(path, source, max_record_bytes=max_record_bytes)
    if layout == "protobuf":
        return read_protobuf_file(path, source, max_bytes=SNIFF_ARRAY_BYTES)
    return read_json_records(path, source, max_record_bytes=max_record_bytes, split_arrays=split_arrays)


SNIFF_ARRAY_BYTES = 64 << 20  # a whole-document JSON array (Sentry list, Snuba row) may be this large to sniff


def _first_value(path: Path, layout: str, max_record_bytes: int, look: int = 100) -> Any:
    """The first good record among the first `look`, each read no further than the record limit.

    Detection never reads a line past the record limit (a small .gz can inflate to one
    huge line); only a top-level array, which is one document, may be read up to
    `SNIFF_ARRAY_BYTES`.
    """
    records = read_json_records(path, "unknown", max_record_bytes=max_record_bytes, split_arrays=False,
                                max_file_bytes_for_arrays=SNIFF_ARRAY_BYTES) if layout == "json" \
        else _records(path, layout, "unknown", max_record_bytes, split_arrays=False)
    for i, rec in enumerate(records):
        if isinstance(rec, RawRecord):
            return rec.value
        if i >= look:
            break
    return None


def resolve_format(path: Path, fmt: str = "auto", max_record_bytes: int = 1 << 20) -> str:
    """The concrete format of a file: `fmt` itself (checked), or the one its first record shows.

    Raises FormatError when nothing recognises it, or when an explicit format
    cannot be read from this file's layout or does not fit its first record.
    """
    layout = sniff_layout(path)
    if layout in ("binary", "empty"):
        if fmt != "auto":
            return fmt  # the reader reports the file as bad input of that format
        what = "an empty file" if layout == "empty" else "a binary file (not text, JSON, CSV or Parquet)"
        raise FormatError(f"{path}: {what}", reason=what)
    allowed = LAYOUT_FORMATS.get(layout)
    if fmt != "auto" and allowed is not None and fmt not in allowed:
        raise FormatError(f"{path}: a {layout} file cannot be in the {fmt} format (it can be: "
                          f"{', '.join(sorted(allowed))}); try --format auto")
    if layout == "text":
        return "lines"
    first = _first_value(path, layout, max_record_bytes)
    if first is None:
        return fmt if fmt != "auto" else next(iter(allowed or {"vercel"}))
    if fmt != "auto":
        if not fits(CONNECTORS[fmt], first):
            raise FormatError(f"{path}: records are not in the {fmt} format; try --format auto")
        return fmt
    chosen = detect_format(first, allowed)
    if chosen is None:
        raise FormatError(f"{path}: cannot detect the format of its records; pass --format")
    return chosen


def read_events(path: Path, fmt: str = "auto", *, max_record_bytes: int = 1 << 20, explain: bool = False,
                byte_range: ByteRange | None = None, checked: bool = False) -> Iterator[Event | BadRecord | Skipped]:
    """Events of one file in `fmt` (or the detected format); bad input as `BadRecord`s.

    Raises FormatError (see `resolve_format`); `checked=True` says the caller
    already resolved `fmt` for this file.
    """
    concrete = fmt if (checked or byte_range is not None) else resolve_format(path, fmt)
    if concrete == "auto":
        raise ValueError("a byte range needs a concrete format (see resolve_format)")
    (log.info if explain else log.debug)("%s: format %s%s", path, concrete, " (detected)" if fmt == "auto" else "")
    connector = CONNECTORS[concrete]
    if byte_range is not None:
        records: Iterator = read_range(path, concrete, byte_range, max_record_bytes=max_record_bytes,
                                       text=concrete in TEXT_FORMATS)
    else:
        layout = sniff_layout(path)
        if layout in ("binary", "empty"):
            layout = "json"  # the JSON reader reports what is wrong with the file
        records = _records(path, layout, concrete, max_record_bytes,
                           split_arrays=not getattr(connector, "documents", False))
    for rec in records:
        if isinstance(rec, RawRecord):
            yield from events_of(connector, rec)
        elif isinstance(rec, BadRecord):
            yield BadRecord(connector.name, rec.origin, rec.reason, rec.size)
        else:
            yield rec
