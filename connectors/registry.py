"""The explicit registry of file formats, and the one function that reads events from files."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

from connectors.base import FileConnector
from connectors.files import ByteRange, RawRecord, read_json_records, read_range, read_text_lines, sniff_layout
from connectors.lines import TextLines
from connectors.vercel import VercelLogDrain
from pipeline.model import BadRecord, Event

log = logging.getLogger("phiscan")

CONNECTORS: dict[str, FileConnector] = {
    "vercel": VercelLogDrain(),
    "lines": TextLines(),
}
TEXT_FORMATS = frozenset({"lines"})
FORMATS = ("auto", *CONNECTORS)


class FormatError(ValueError):
    """A file is not in the requested format, or no format recognises it."""


def detect_format(value: object) -> str | None:
    for name, conn in CONNECTORS.items():
        if conn.sniff(value):
            return name
    return None


def resolve_format(path: Path, fmt: str = "auto") -> str:
    """The concrete format of a file: `fmt` itself, or the one its first record shows.

    Raises FormatError when nothing recognises it (and, for an explicit format, when
    its first record does not fit)."""
    if fmt != "auto":
        return fmt
    layout = sniff_layout(path)
    if layout == "text":
        return "lines"
    if layout != "json":
        return "vercel"  # junk is reported record by record by the reader; any connector will do
    for rec in read_json_records(path, "unknown", max_record_bytes=1 << 30):
        if isinstance(rec, RawRecord):
            chosen = detect_format(rec.value)
            if chosen is None:
                raise FormatError(f"{path}: cannot detect the format of its records; pass --format")
            return chosen
    return "vercel"


def read_events(path: Path, fmt: str = "auto", *, max_record_bytes: int = 1 << 20,
                explain: bool = False, byte_range: ByteRange | None = None) -> Iterator[Event | BadRecord]:
    """Events of one file in `fmt` (or the detected format); bad records as `BadRecord`s.

    Raises FormatError when the first good record does not fit the format: a
    wrong `--format` is one clear error, not a flood of empty events.
    """
    if fmt == "auto" and sniff_layout(path) == "text":
        fmt = "lines"
        (log.info if explain else log.debug)("%s: format lines (plain text)", path)
    connector: FileConnector | None = None if fmt == "auto" else CONNECTORS[fmt]
    source = fmt if fmt != "auto" else "unknown"
    if byte_range is not None:
        if connector is None:
            raise ValueError("a byte range needs a concrete format (see resolve_format)")
        records = read_range(path, source, byte_range, max_record_bytes=max_record_bytes,
                             text=fmt in TEXT_FORMATS)
    elif fmt in TEXT_FORMATS:
        records = read_text_lines(path, source, max_record_bytes=max_record_bytes)
    else:
        records = read_json_records(path, source, max_record_bytes=max_record_bytes)
    for rec in records:
        if isinstance(rec, BadRecord):
            yield rec if connector is None else BadRecord(connector.name, rec.origin, rec.reason, rec.size)
            continue
        if connector is None:
            chosen = detect_format(rec.value)
            if chosen is None:
                raise FormatError(f"{path}: cannot detect the format of its records; pass --format")
            connector = CONNECTORS[chosen]
            (log.info if explain else log.debug)("%s: format %s (detected)", path, chosen)
        elif byte_range is None and not connector.sniff(rec.value) and _first(rec):
            raise FormatError(f"{path}: records are not in the {connector.name} format; "
                              f"try --format auto")
        yield from connector.events(rec)


def _first(rec: RawRecord) -> bool:
    return rec.position in (0, 1)
