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


def events_of(connector: FileConnector, record: RawRecord) -> list[Event | BadRecord | Skipped]:
    """Every event of one record, with every byte of the record covered, and never an exception.

    A connector picks the events out of a record (the items of a batch body, the event of a
    webhook); what it leaves around them (the batch's `api_key`, a webhook's `actor`, envelope
    and item headers, OTLP resource attributes) can hold values too. That remainder becomes a
    *wrapper* event over the record's root whose walk skips the events' payloads, so the scan
    sees all of it once and the scrubber edits it in place. A connector that fails on a record
    (poison input of the right shape: `resource: "x"`) gives one `BadRecord` for it.
    """
    try:
        items = list(connector.events(record))
    except Exception as exc:  # noqa: BLE001 - any failure of a connector on one record is bad input
        return [BadRecord(connector.name, record.origin, f"unreadable {connector.name} record ({type(exc).__name__})",
                          record.size)]
    root = connector.wrapper(record) if hasattr(connector, "wrapper") else record.value
    events = [i for i in items if isinstance(i, Event)]
    covered = frozenset(id(e.payload) for e in events)
    if isinstance(root, (dict, list)) and id(root) not in covered:
        first = events[0] if events else None
        items.append(Event(source=first.source if first else connector.name, event_id=record.origin,
                           origin=record.origin, payload=root, timestamp=first.timestamp if first else None,
                           project=first.project if first else None, size=0, exclude=covered, wrapper=True))
    return items


def wrong_shape(source: str, record: RawRecord, value: Any, what: str) -> BadRecord:
    """The bad record for a record of the wrong JSON type (a list where a vendor object belongs): names types only."""
    return BadRecord(source, record.origin, f"expected {what}, got {type(value).__name__}", record.size)


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
        # as UTC here, once: a year-1 timestamp in another zone cannot be, and is no event time
        return (dt if dt.tzinfo else dt.replace(tzinfo=timezone.utc)).astimezone(timezone.utc)
    except (ValueError, OverflowError):
        return None


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
