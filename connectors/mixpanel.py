"""Mixpanel: raw-export JSONL (`{"event", "properties"}`) and JSON-pipelines rows.

`event_id` is `properties.$insert_id` (pipelines: `insert_id`); `route` the
path of `$current_url`; time is in seconds (or ms with `time_in_ms`).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import orjson

from connectors.base import epoch_to_datetime, url_path
from connectors.files import RawRecord
from pipeline.model import BadRecord, Event


def is_mixpanel(value: Any) -> bool:
    if not isinstance(value, dict):
        return False
    if "event" in value and isinstance(value.get("properties"), dict):
        props = value["properties"]
        return "time" in props and ("$insert_id" in props or "distinct_id" in props or "mp_lib" in props
                                    or "mp_processing_time_ms" in props or "token" in props)
    return "event_name" in value and ("insert_id" in value or "distinct_id" in value) and "properties" in value


class Mixpanel:
    name = "mixpanel"
    documents = False

    def sniff(self, value: Any) -> bool:
        return is_mixpanel(value)

    def events(self, record: RawRecord) -> Iterator[Event | BadRecord]:
        ev = record.value
        if not isinstance(ev, dict):
            yield BadRecord(self.name, record.origin, f"expected a Mixpanel event object, got {type(ev).__name__}",
                            record.size)
            return
        if isinstance(ev.get("properties"), str):
            try:
                ev = {**ev, "properties": orjson.loads(ev["properties"])}
            except orjson.JSONDecodeError:
                pass
        props = ev.get("properties") if isinstance(ev.get("properties"), dict) else {}
        iid = props.get("$insert_id") or ev.get("insert_id")
        yield Event(source=self.name, event_id=str(iid) if iid else record.origin, origin=record.origin, payload=ev,
                    timestamp=epoch_to_datetime(props.get("time", ev.get("time"))),
                    project=str(props["mp_project_id"]) if "mp_project_id" in props else None,
                    route=url_path(props.get("$current_url")), size=record.size)
