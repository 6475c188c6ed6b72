"""Segment Spec messages: track, identify, page, screen, group, alias; single, NDJSON, arrays, batches.

`event_id` is `messageId`; `route` the page path (`context.page.path`, else
`properties.path`). Identify traits (email, name, phone, birthday, address)
and page URLs, titles and search strings are where PHI hides.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from connectors.base import batch_items, file_position_id, iso_to_datetime, url_path
from connectors.files import RawRecord
from core.model import BadRecord, Event

SPEC_TYPES = frozenset({"track", "identify", "page", "screen", "group", "alias"})


_MESSAGE_KEYS = frozenset({"messageId", "anonymousId", "userId", "previousId", "groupId", "event", "properties",
                           "traits", "context"})


def is_message(value: Any) -> bool:
    return isinstance(value, dict) and value.get("type") in SPEC_TYPES and bool(_MESSAGE_KEYS & value.keys())


class Segment:
    name = "segment"
    documents = False

    def sniff(self, value: Any) -> bool:
        if isinstance(value, dict) and isinstance(value.get("batch"), list):
            return any(is_message(v) for v in value["batch"][:3])
        return is_message(value)

    def events(self, record: RawRecord) -> Iterator[Event | BadRecord]:
        items = batch_items(record) or [(record.origin, record.value)]
        for origin, msg in items:
            if not isinstance(msg, dict):
                yield BadRecord(self.name, origin, f"expected a Segment message object, got {type(msg).__name__}",
                                record.size)
                continue
            ctx = msg.get("context") if isinstance(msg.get("context"), dict) else {}
            page = ctx.get("page") if isinstance(ctx.get("page"), dict) else {}
            props = msg.get("properties") if isinstance(msg.get("properties"), dict) else {}
            mid = msg.get("messageId")
            fallback = file_position_id(record) if origin == record.origin else origin
            yield Event(source=self.name, event_id=str(mid) if mid else fallback, origin=origin, payload=msg,
                        timestamp=iso_to_datetime(msg.get("timestamp") or msg.get("originalTimestamp")
                                                  or msg.get("receivedAt") or msg.get("sentAt")),
                        project=None,
                        route=url_path(page.get("path") or props.get("path") or page.get("url") or props.get("url")),
                        size=record.size)
