"""The connector contract: turn a vendor's parsed record into `Event`s.

A file connector is told nothing about files or formats beyond one parsed JSON
record and where it came from; reading, decompression and limits are done by
`connectors.files`. `sniff` lets `--format auto` pick a connector by content.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timezone
from typing import Any, Protocol

from connectors.files import RawRecord
from core.model import BadRecord, Event, Skipped


class FileConnector(Protocol):
    name: str
    documents: bool  # True: top-level JSON arrays are handed over whole (the connector splits them)

    def sniff(self, value: Any) -> bool:
        """Whether a parsed record looks like this connector's format."""

    def events(self, record: RawRecord) -> Iterator[Event | BadRecord | Skipped]:
        """The events held by one parsed record (several for batch bodies)."""


def epoch_to_datetime(value: Any) -> datetime | None:
    """A timestamp in s, ms or µs since the epoch (number or numeric string) as aware UTC."""
    try:
        num = float(value)
    except (TypeError, ValueError):
        return None
    if num > 1e17:
        num /= 1e9
    elif num > 1e14:
        num /= 1e6
    elif num > 1e11:
        num /= 1e3
    try:
        return datetime.fromtimestamp(num, tz=timezone.utc)
    except (OverflowError, OSError, ValueError):
        return None


def iso_to_datetime(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return epoch_to_datetime(value)
    try:
        dt = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return dt if dt.tzinfo else dt.replace(tzinfo=timezone.utc)


def url_path(url: Any) -> str | None:
    """The path of a URL (or of a bare path), without query or fragment."""
    if not isinstance(url, str) or not url:
        return None
    from urllib.parse import urlsplit

    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    if parts.scheme or parts.netloc:
        return parts.path or "/"
    return parts.path or None


def file_position_id(record: RawRecord) -> str:
    """`<file name>:<line or row>` (1-based) for records with no id of their own."""
    from pathlib import Path

    position = record.position + 1 if record.layout == "array" else record.position
    return f"{Path(record.file).name}:{max(position, 1)}"


def batch_items(record: RawRecord, key: str = "batch") -> list[tuple[str, Any]] | None:
    """(origin, item) for each item of a `{"batch": [...]}` body, or None if this is no batch body."""
    value = record.value
    if isinstance(value, dict) and isinstance(value.get(key), list):
        return [(f"{record.origin}/{key}[{i}]", item) for i, item in enumerate(value[key])]
    return None
