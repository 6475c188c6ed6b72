"""Plain-text logs, one event per line (syslog, application logs): the line is the `message`.

`event_id` is the line's origin, `<file>:<line>` with the file as it was named to the
scan: two files of the same name in different folders (`a/app.log`, `b/app.log`)
never share ids, so none of their findings overwrite each other's. The event time
is the line's own leading timestamp where it has one of the common shapes (ISO 8601
and log4j, Apache error and access logs, syslog), else unknown (the scan day is used).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime, timezone
from typing import Any

from connectors.files import RawRecord
from core.model import BadRecord, Event

_ISO = re.compile(r"\[?(\d{4}-\d{2}-\d{2})[T ](\d{2}:\d{2}:\d{2})(?:[.,](\d{1,6}))?\s?(Z|[+-]\d{2}:?\d{2})?")
_APACHE_ERROR = re.compile(r"\[(?:[A-Z][a-z]{2} )?([A-Z][a-z]{2}) (\d{1,2}) (\d{2}:\d{2}:\d{2})(?:\.\d+)? (\d{4})\]")
_APACHE_ACCESS = re.compile(r"\[(\d{2})/([A-Z][a-z]{2})/(\d{4}):(\d{2}:\d{2}:\d{2}) ([+-]\d{4})\]")
_SYSLOG = re.compile(r"([A-Z][a-z]{2}) {1,2}(\d{1,2}) (\d{2}:\d{2}:\d{2})\b")
_MONTHS = {m: i for i, m in enumerate(("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov",
                                       "Dec"), 1)}


def line_timestamp(line: str, now: datetime | None = None) -> datetime | None:
    """The timestamp a log line starts with (within its first 64 characters), as aware UTC."""
    head = line[:64]
    try:
        m = _ISO.match(head) or _ISO.search(head, 0, 40)
        if m:
            frac = (m.group(3) or "0").ljust(6, "0")
            tz = m.group(4) or "+00:00"
            tz = "+00:00" if tz == "Z" else (tz if ":" in tz else f"{tz[:3]}:{tz[3:]}")
            return datetime.fromisoformat(f"{m.group(1)}T{m.group(2)}.{frac}{tz}").astimezone(timezone.utc)
        m = _APACHE_ERROR.match(head)
        if m and m.group(1) in _MONTHS:
            return datetime.strptime(f"{m.group(4)} {_MONTHS[m.group(1)]} {m.group(2)} {m.group(3)}",
                                     "%Y %m %d %H:%M:%S").replace(tzinfo=timezone.utc)
        m = _APACHE_ACCESS.search(head)
        if m and m.group(2) in _MONTHS:
            return datetime.strptime(f"{m.group(3)} {_MONTHS[m.group(2)]} {m.group(1)} {m.group(4)} {m.group(5)}",
                                     "%Y %m %d %H:%M:%S %z").astimezone(timezone.utc)
        m = _SYSLOG.match(head)
        if m and m.group(1) in _MONTHS:  # no year: this year, or last year if that would be in the future
            now = now or datetime.now(timezone.utc)
            when = datetime.strptime(f"{now.year} {_MONTHS[m.group(1)]} {m.group(2)} {m.group(3)}",
                                     "%Y %m %d %H:%M:%S").replace(tzinfo=timezone.utc)
            return when.replace(year=now.year - 1) if when > now else when
    except (ValueError, OverflowError):
        return None
    return None


class TextLines:
    name = "lines"
    documents = False

    def sniff(self, value: Any) -> bool:
        return isinstance(value, str)

    def events(self, record: RawRecord) -> Iterator[Event | BadRecord]:
        yield Event(source=self.name, event_id=record.origin, origin=record.origin,
                    payload={"message": record.value}, timestamp=line_timestamp(record.value), size=record.size)
