"""Mixpanel: raw-export JSONL (`{"event", "properties"}`), JSON-pipelines rows, and `/engage` (`/groups`)
profile updates (`{"$token", "$distinct_id", "$set": {...}}`), whose payload is the update itself.

`event_id` is `properties.$insert_id` (pipelines: `insert_id`); `route` the
path of `$current_url`; time is in seconds (or ms with `time_in_ms`). A profile
update (`{"$token", "$distinct_id", "$set": {...}}`, and the other `$` operations) is
one event whose payload is the update itself, `event_id` its position (the distinct
id can be an email), time `$time`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from typing import Any

import orjson

from connectors.base import epoch_to_datetime, url_path, wrong_shape
from connectors.files import RawRecord
from core.model import BadRecord, Event


def is_mixpanel(value: Any) -> bool:
    if not isinstance(value, dict):
        return False
    if is_profile_update(value):
        return True
    if "event" in value and isinstance(value.get("properties"), dict):
        props = value["properties"]
        return "time" in props and ("$insert_id" in props or "distinct_id" in props or "mp_lib" in props
                                    or "mp_processing_time_ms" in props or "token" in props)
    return "event_name" in value and ("insert_id" in value or "distinct_id" in value) and "properties" in value


PROFILE_OPERATIONS = frozenset({"$set", "$set_once", "$add", "$append", "$union", "$remove", "$unset", "$delete"})


def is_profile_update(value: Any) -> bool:
    """An `/engage` (user) or `/groups` (group) profile update: whose profile, and at least one operation
    (the `$token` is there on the wire, often not in exports)."""
    return (isinstance(value, dict) and ("$distinct_id" in value or "$group_id" in value)
            and not PROFILE_OPERATIONS.isdisjoint(value.keys()))


def mixpanel_event_id(ev: dict, fallback: str) -> str:
    """Mixpanel's own dedup key: `$insert_id` with event name, distinct_id and time.

    Two events may share an `$insert_id` when their names differ (Mixpanel keeps
    both), so the id adds a short hash of the rest; a hash, because event names
    and distinct ids can hold personal data and ids are written to findings.
    """
    props = ev.get("properties") if isinstance(ev.get("properties"), dict) else {}
    iid = props.get("$insert_id") or ev.get("insert_id")
    if not iid:
        return fallback
    rest = "\x1f".join(str(x) for x in (ev.get("event") or ev.get("event_name"), props.get("distinct_id")
                                         or ev.get("distinct_id"), props.get("time", ev.get("time"))))
    return f"{iid}-{hashlib.sha256(rest.encode()).hexdigest()[:8]}"


class Mixpanel:
    name = "mixpanel"
    documents = False

    def sniff(self, value: Any) -> bool:
        return is_mixpanel(value)

    def events(self, record: RawRecord) -> Iterator[Event | BadRecord]:
        ev = record.value
        if not isinstance(ev, dict):
            yield wrong_shape(self.name, record, ev, "a Mixpanel event object")
            return
        if is_profile_update(ev):  # no event id of its own: its origin; `$time` is in ms
            yield Event(source=self.name, event_id=record.origin, origin=record.origin, payload=ev,
                        timestamp=epoch_to_datetime(ev.get("$time")), size=record.size)
            return
        # `properties` as JSON text is read here for the event's metadata only: the payload stays the
        # record itself (the engine decodes the JSON view), so a scrub edits the text that is written back
        meta = ev
        if isinstance(ev.get("properties"), str):
            try:
                meta = {**ev, "properties": orjson.loads(ev["properties"])}
            except orjson.JSONDecodeError:
                pass
        props = meta.get("properties") if isinstance(meta.get("properties"), dict) else {}
        yield Event(source=self.name, event_id=mixpanel_event_id(meta, record.origin), origin=record.origin, payload=ev,
                    timestamp=epoch_to_datetime(props.get("time", ev.get("time"))),
                    project=str(props["mp_project_id"]) if "mp_project_id" in props else None,
                    route=url_path(props.get("$current_url")), size=record.size)
