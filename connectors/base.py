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
from pipeline.model import BadRecord, Event


class FileConnector(Protocol):
    name: str

    def sniff(self, value: Any) -> bool:
        """Whether a parsed record looks like this connector's format."""

    def events(self, record: RawRecord) -> Iterator[Event | BadRecord]:
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
