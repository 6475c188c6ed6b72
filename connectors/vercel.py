"""Vercel log drains: NDJSON, JSON arrays or single objects of drain log records.

`event_id` is the record's `id`; `project` its projectName (else projectId);
`route` the request path without its query string (`proxy.path`, else `path`),
so findings group by route without the query values that leak.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from connectors.base import epoch_to_datetime
from connectors.files import RawRecord
from pipeline.model import BadRecord, Event

_LOG_KEYS = frozenset({"deploymentId", "projectId", "proxy", "requestId", "executionRegion", "buildId"})


def strip_query(path: Any) -> str | None:
    if not isinstance(path, str) or not path:
        return None
    for sep in ("?", "#"):
        cut = path.find(sep)
        if cut >= 0:
            path = path[:cut]
    return path or "/"


class VercelLogDrain:
    name = "vercel"

    def sniff(self, value: Any) -> bool:
        return isinstance(value, dict) and "schema" not in value and (
            len(_LOG_KEYS & value.keys()) >= 1 and ("source" in value or "message" in value or "proxy" in value)
        )

    def events(self, record: RawRecord) -> Iterator[Event | BadRecord]:
        value = record.value
        if not isinstance(value, dict):
            yield BadRecord(self.name, record.origin, f"expected a JSON object, got {type(value).__name__}",
                            record.size)
            return
        proxy = value.get("proxy") if isinstance(value.get("proxy"), dict) else {}
        rid = value.get("id")
        event_id = str(rid) if isinstance(rid, (str, int)) and str(rid) else record.origin
        project = value.get("projectName") or value.get("projectId")
        yield Event(
            source=self.name,
            event_id=event_id,
            origin=record.origin,
            payload=value,
            timestamp=epoch_to_datetime(value.get("timestamp")),
            project=str(project) if project is not None else None,
            route=strip_query(proxy.get("path")) or strip_query(value.get("path")),
            size=record.size,
        )
