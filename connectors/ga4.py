"""GA4 BigQuery export rows: NDJSON, a single JSON row, Parquet.

`event_params` and `user_properties` are `{key, value{string_value,
int_value, ...}}` lists: findings keep the raw path
(`event_params[3].value.string_value`) and name the parameter in `field_key`
(`page_location`). Rows carry no id: `event_id` is `<file name>:<line or row>`.
INT64 values are strings, as in BigQuery's JSON export, whatever the file type.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from connectors.base import epoch_to_datetime, file_position_id, url_path, wrong_shape
from connectors.files import RawRecord
from core.model import BadRecord, Event


def is_ga4_row(value: Any) -> bool:
    return isinstance(value, dict) and "event_name" in value and ("event_params" in value or "event_timestamp" in value)


def _ints_as_strings(node: Any) -> Any:
    if isinstance(node, bool) or node is None:
        return node
    if isinstance(node, int):
        return str(node)
    if isinstance(node, dict):
        return {k: _ints_as_strings(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_ints_as_strings(v) for v in node]
    return node


def param(row: dict, name: str) -> Any:
    for p in row.get("event_params") or ():
        if isinstance(p, dict) and p.get("key") == name and isinstance(p.get("value"), dict):
            v = p["value"]
            return v.get("string_value") or v.get("int_value")
    return None


class GA4:
    name = "ga4"
    documents = False

    def sniff(self, value: Any) -> bool:
        return is_ga4_row(value)

    def events(self, record: RawRecord) -> Iterator[Event | BadRecord]:
        row = record.value
        if not isinstance(row, dict):
            yield wrong_shape(self.name, record, row, "a GA4 row object")
            return
        if record.layout == "table":  # in place: the payload must stay the record itself
            converted = _ints_as_strings(row)
            row.clear()
            row.update(converted)
        project = row.get("stream_id") or row.get("property_id")
        yield Event(source=self.name, event_id=file_position_id(record), origin=record.origin, payload=row,
                    timestamp=epoch_to_datetime(row.get("event_timestamp")),
                    project=str(project) if project else None, route=url_path(param(row, "page_location")),
                    size=record.size)
