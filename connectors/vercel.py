"""Vercel log drains: NDJSON, JSON arrays or single objects of drain log records.

`event_id` is the record's `id`; `project` its projectName (else projectId);
`route` the request path without its query string (`proxy.path`, else `path`),
so findings group by route without the query values that leak.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from connectors.base import epoch_to_datetime, wrong_shape
from connectors.files import RawRecord
from connectors.otlp import is_vercel_traces, span_events
from core.model import BadRecord, Event

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
    documents = False

    def sniff(self, value: Any) -> bool:
        return isinstance(value, dict) and "schema" not in value and (
            len(_LOG_KEYS & value.keys()) >= 1 and ("source" in value or "message" in value or "proxy" in value)
        )

    def events(self, record: RawRecord) -> Iterator[Event | BadRecord]:
        value = record.value
        if not isinstance(value, dict):
            yield wrong_shape(self.name, record, value, "a JSON object")
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


ANALYTICS_SCHEMA = "vercel.analytics.v1"
SPEED_SCHEMA = "vercel.speed_insights.v1"


class VercelDrains:
    """Every Vercel drain under one format: logs, Web Analytics, Speed Insights and OTLP/JSON traces.

    Sources differ so analysts can tell them apart: `vercel` (logs),
    `vercel-analytics`, `vercel-speed-insights`, `vercel-traces`. Analytics and
    speed records carry no id: `event_id` is `<file name>:<line or index>`.
    `eventData` and `flags` are JSON strings, decoded as views by the engine.
    Trace drains are OTLP/JSON, read by `connectors.otlp` (one event per span,
    `event_id` = `traceId:spanId`, project from `vercel.projectId`).
    """

    name = "vercel"
    documents = False

    def __init__(self) -> None:
        self.logs = VercelLogDrain()

    def sniff(self, value: Any) -> bool:
        if isinstance(value, dict) and value.get("schema") in (ANALYTICS_SCHEMA, SPEED_SCHEMA):
            return True
        return is_vercel_traces(value) or self.logs.sniff(value)

    def accepts(self, value: Any) -> bool:
        """With `--format vercel` asked for: any OTLP/JSON trace request too (read as a Vercel trace drain)."""
        return self.sniff(value) or (isinstance(value, dict) and isinstance(value.get("resourceSpans"), list))

    def events(self, record: RawRecord) -> Iterator[Event | BadRecord]:
        from connectors.base import epoch_to_datetime, file_position_id, iso_to_datetime, url_path

        value = record.value
        if isinstance(value, dict) and value.get("schema") in (ANALYTICS_SCHEMA, SPEED_SCHEMA):
            speed = value["schema"] == SPEED_SCHEMA
            when = iso_to_datetime(value.get("timestamp")) if speed else epoch_to_datetime(value.get("timestamp"))
            yield Event(source="vercel-speed-insights" if speed else "vercel-analytics",
                        event_id=file_position_id(record), origin=record.origin, payload=value, timestamp=when,
                        project=str(value["projectId"]) if value.get("projectId") else None,
                        route=value.get("route") or url_path(value.get("path")), size=record.size)
        elif isinstance(value, dict) and isinstance(value.get("resourceSpans"), list):
            yield from span_events(record, "vercel-traces")
        else:
            yield from self.logs.events(record)
