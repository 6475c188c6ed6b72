"""PostHog: batch exports (CSV, JSONL, Parquet) and capture bodies (`{"api_key", "batch": [...]}`).

In CSV and Parquet exports `properties`, `person_properties`, `set`,
`set_once` and `elements_chain` hold JSON text: it is parsed, so paths read
`properties.$current_url` as they do in JSONL. `event_id` is `uuid`; `route`
the `$pathname` (else the path of `$current_url`).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import orjson

from connectors.base import batch_items, iso_to_datetime, url_path
from connectors.files import RawRecord
from core.model import BadRecord, Event

JSON_TEXT_COLUMNS = ("properties", "person_properties", "set", "set_once", "elements_chain", "$set", "$set_once")


def is_posthog_event(value: Any) -> bool:
    if not isinstance(value, dict) or "event" not in value:
        return False
    props = value.get("properties")
    if isinstance(props, str):
        return "uuid" in value or "distinct_id" in value
    if {"uuid", "distinct_id", "person_id", "elements_chain"} & value.keys():
        return True
    # a capture event: `$lib` and friends in properties; Mixpanel events carry `time` there instead
    return (isinstance(props, dict) and "time" not in props
            and bool({"$lib", "$session_id", "$window_id", "$current_url"} & props.keys()))


def parse_json_columns(row: dict) -> dict:
    """Export rows with JSON-text columns turned into the objects they hold (text kept if not JSON).

    In place: the row is the record (a table row read for us), so the event's payload stays the record.
    """
    out = row
    for col in JSON_TEXT_COLUMNS:
        val = out.get(col)
        if isinstance(val, str) and val[:1] in ("{", "["):
            try:
                out[col] = orjson.loads(val)
            except orjson.JSONDecodeError:
                pass
    return out


class PostHog:
    name = "posthog"
    documents = False

    def sniff(self, value: Any) -> bool:
        if isinstance(value, dict) and isinstance(value.get("batch"), list):
            return any(is_posthog_event(v) for v in value["batch"][:3])
        return is_posthog_event(value)

    def events(self, record: RawRecord) -> Iterator[Event | BadRecord]:
        items = batch_items(record)
        project = record.value.get("api_key") if items is not None and isinstance(record.value, dict) else None
        for origin, ev in items or [(record.origin, record.value)]:
            if not isinstance(ev, dict):
                yield BadRecord(self.name, origin, f"expected a PostHog event object, got {type(ev).__name__}",
                                record.size)
                continue
            if record.layout == "table":
                ev = parse_json_columns(ev)
            props = ev.get("properties") if isinstance(ev.get("properties"), dict) else {}
            uid = ev.get("uuid") or props.get("$insert_id")
            proj = project or ev.get("team_id") or props.get("token")
            yield Event(source=self.name, event_id=str(uid) if uid else origin, origin=origin, payload=ev,
                        timestamp=iso_to_datetime(ev.get("timestamp") or ev.get("created_at")),
                        project=str(proj) if proj is not None else None,
                        route=url_path(props.get("$pathname") or props.get("$current_url")), size=record.size)
