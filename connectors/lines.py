"""Plain-text logs, one event per line (syslog, application logs): the line is the `message`.

`event_id` is `<file name>:<line>`, stable across re-scans of the same file
wherever it sits, since plain lines carry no id of their own.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from connectors.files import RawRecord
from core.model import BadRecord, Event


class TextLines:
    name = "lines"
    documents = False

    def sniff(self, value: Any) -> bool:
        return isinstance(value, str)

    def events(self, record: RawRecord) -> Iterator[Event | BadRecord]:
        yield Event(source=self.name, event_id=f"{Path(record.file).name}:{record.position}",
                    origin=record.origin, payload={"message": record.value}, size=record.size)
