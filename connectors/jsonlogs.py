"""Generic JSON logs: NDJSON with no vendor shape (pino, winston, bunyan, structlog) and log-platform exports.

Every field of a record is scanned whatever its name; conventions only give an
event its metadata. The message is the first of `message_keys` (`msg`, `message`,
`@message`), the time the first of `time_keys` (`time`, `timestamp`, `@timestamp`,
`ts`, ...: ISO 8601 or epoch s/ms/µs/ns), the route the path of the first of
`ROUTE_KEYS`. A line's `event_id` is its origin (`<file>:<line>`, the file as named to
the scan; ids inside app logs are user or request ids, not unique per line); an export item's is its own id
(CloudWatch `eventId`, Datadog `id`), else its position. Both key lists are
configurable (`formats.jsonlogs` in the config, applied by `configure`).

Export shapes recognised, one event per log line, payload the very item:
- CloudWatch Logs: subscription payloads and `filter-log-events` / `get-log-events`
  output (`logEvents[]` or `events[]` of `{timestamp, message}`; the message is often
  JSON text, which the engine decodes as a view and a scrub edits in the text);
- Datadog: the Logs API (`{"data": [{"type": "log", "attributes": {...}}]}`) and log
  archives (rows with `attributes`, `date`, `message`);
- Axiom: query results (`{"matches": [{"_time", "data"}]}`) and exported rows (`_time`).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from connectors.base import iso_to_datetime, url_path, wrong_shape
from connectors.files import RawRecord
from core.model import BadRecord, Event

DEFAULT_MESSAGE_KEYS = ("msg", "message", "@message", "log", "event")
DEFAULT_TIME_KEYS = ("time", "timestamp", "@timestamp", "ts", "_time", "date", "datetime", "asctime", "@t")
LEVEL_KEYS = ("level", "severity", "lvl", "levelname", "log.level", "status", "@l")
ROUTE_KEYS = ("route", "http.route", "path", "url", "req.url", "request.url", "http.url", "request.path")
ID_KEYS = ("eventId", "id", "_id")  # export items only: CloudWatch and Datadog give each line its own id
# CloudWatch (`logEvents`: subscriptions; `events`: the CLI), Datadog API (`data`), Axiom queries (`matches`)
BATCH_KEYS = ("logEvents", "events", "data", "matches")


class _Keys:
    """The conventions in force (process-wide: connectors are built once, the config is applied once)."""

    message: tuple[str, ...] = DEFAULT_MESSAGE_KEYS
    time: tuple[str, ...] = DEFAULT_TIME_KEYS


def configure(message_keys: list[str] | None = None, time_keys: list[str] | None = None) -> None:
    """Apply `formats.jsonlogs` from the config (None keeps the defaults)."""
    _Keys.message = tuple(message_keys) if message_keys else DEFAULT_MESSAGE_KEYS
    _Keys.time = tuple(time_keys) if time_keys else DEFAULT_TIME_KEYS


def _get(value: dict, dotted: str) -> Any:
    """`value[dotted]`, else the nested `value[a][b]` for `a.b` (structlog and ECS use both)."""
    if dotted in value:
        return value[dotted]
    node: Any = value
    for part in dotted.split("."):
        if not isinstance(node, dict):
            return None
        node = node.get(part)
    return node


def _first(value: dict, keys: tuple[str, ...]) -> Any:
    for key in keys:
        found = _get(value, key)
        if found is not None and found != "":
            return found
    return None


def _is_log_line(value: Any) -> bool:
    """A log record: an object naming a message, a time or a level by one of the conventions."""
    return isinstance(value, dict) and any(_get(value, k) is not None for k in (*_Keys.message, *_Keys.time,
                                                                                  *LEVEL_KEYS))


def _batch(value: Any) -> tuple[str, list] | None:
    """(key, items) of an export that holds log lines in a list, else None."""
    if not isinstance(value, dict):
        return None
    for key in BATCH_KEYS:
        items = value.get(key)
        if isinstance(items, list) and items and all(isinstance(i, dict) for i in items[:3]):
            first = items[0]
            if key == "data" and first.get("type") != "log":
                continue  # a Datadog Logs API page is `type: log`; other `data` lists are not log exports
            if key == "matches" and "_time" not in first:
                continue
            if key in ("logEvents", "events") and "message" not in first:
                continue
            return key, items
    return None


def _meta(item: dict) -> dict:
    """An item's conventional fields, wherever the export keeps them (for metadata; the payload is the item).

    Datadog API items keep them under `attributes`, Axiom results under `data`, and
    Datadog's custom attributes (`http.url`, `path`) sit in a further `attributes`.
    """
    layers = [item]
    inner = item.get("attributes") if item.get("type") == "log" else item.get("data") if "_time" in item else None
    if isinstance(inner, dict):
        layers.append(inner)
    custom = layers[-1].get("attributes")
    if isinstance(custom, dict):
        layers.append(custom)
    merged: dict = {}
    for layer in reversed(layers):  # the outer layer wins
        merged.update(layer)
    return merged


class JsonLogs:
    """Any JSON log line; the fallback after every vendor shape."""

    name = "jsonlogs"
    documents = False

    def sniff(self, value: Any) -> bool:
        return _batch(value) is not None or _is_log_line(value)

    def accepts(self, value: Any) -> bool:
        """With `--format jsonlogs` asked for: any JSON object is a log line (every field is scanned)."""
        return isinstance(value, dict)

    def events(self, record: RawRecord) -> Iterator[Event | BadRecord]:
        value = record.value
        if not isinstance(value, dict):
            yield wrong_shape(self.name, record, value, "a JSON object")
            return
        batch = _batch(value)
        if batch is None:
            yield self._event(value, record.origin, record.origin, record.size, ids=False)
            return
        key, items = batch
        project = value.get("logGroup")
        for i, item in enumerate(items):
            origin = f"{record.origin}/{key}[{i}]"
            if not isinstance(item, dict):
                yield BadRecord(self.name, origin, f"expected a log object, got {type(item).__name__}", 0)
                continue
            yield self._event(item, origin, origin, 0, project)

    def _event(self, item: dict, origin: str, fallback_id: str, size: int, project: Any = None,
               ids: bool = True) -> Event:
        meta = _meta(item)
        ident = _first(meta, ID_KEYS) if ids else None
        service = project or _first(meta, ("service", "service.name", "logger"))
        return Event(source=self.name, event_id=str(ident) if isinstance(ident, (str, int)) else fallback_id,
                     origin=origin, payload=item, timestamp=iso_to_datetime(_first(meta, _Keys.time)),
                     project=str(service) if isinstance(service, (str, int)) else None,
                     route=url_path(_first(meta, ROUTE_KEYS)), size=size)
