"""The one shared vocabulary of phiscan: events in, matches from detectors, findings out.

Every connector produces `Event`s, every detector produces `Match`es against a
text, and the engine turns matches into `Finding`s. A `Finding` never holds the
raw sensitive value: only where it is (field path and span), what it is, a keyed
fingerprint and a masked preview. `BadRecord` is what a connector emits instead
of an event when input cannot be parsed: origin, reason and size, never content.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

# Value types built many times an event are plain slotted dataclasses, hashable and never mutated by
# convention (VALUE), not frozen ones: a frozen dataclass's __init__ sets each field through
# object.__setattr__, 1.6 us for five fields against 0.3 us, and ~30 are built for each event.


@dataclass(slots=True, unsafe_hash=True)  # VALUE
class Event:
    """One telemetry record, parsed, with where it came from.

    `payload` is the parsed JSON-like value (dicts, lists, strings, numbers).
    `event_id` is stable across re-reads of the same input (the vendor's id, or a
    position-derived id), which is what makes finding ids deterministic.
    """

    source: str
    event_id: str
    origin: str
    payload: Any
    timestamp: datetime | None = None
    project: str | None = None
    route: str | None = None
    size: int = 0
    # ids of containers inside `payload` that other events of the same record cover: a record's
    # wrapper (batch body, webhook, envelope headers) is an event of its own whose walk skips them
    exclude: frozenset[int] = frozenset()
    wrapper: bool = False  # True: the record's fields outside its events (scanned, not counted as an event)


@dataclass(slots=True, unsafe_hash=True)  # VALUE
class Match:
    """A detector's answer for one text: an entity type at [start, end)."""

    entity_type: str
    start: int
    end: int
    score: float
    detector: str


@dataclass(slots=True, unsafe_hash=True)  # VALUE
class Finding:
    """One sensitive value found in one field of one event. Never holds the raw value."""

    finding_id: str
    event_id: str
    source: str
    origin: str
    event_time: datetime | None
    project: str | None
    route: str | None
    field_path: str
    start: int
    end: int
    entity_type: str
    score: float
    detector: str
    fingerprint: str
    preview: str
    scanned_at: datetime
    severity: str = "low"
    field_key: str | None = None
    # where the raw value is, for the scrubber only: (index of the event in the scanned batch, raw field
    # path, whether it is a key). Never stored: a key that is a value would be raw there; `field_path`
    # is the stored, templated form, and `event_id` may be a keyed hash of an id that held a value
    location: tuple[int, str, bool] | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class BadRecord:
    """Input that could not become an event: recorded with its reason, never its content."""

    source: str
    origin: str
    reason: str
    size: int
    seen_at: datetime = field(default_factory=lambda: datetime.now().astimezone())


@dataclass(frozen=True, slots=True)
class Skipped:
    """Input deliberately not scanned (a binary envelope item: attachment, replay): counted, not an error."""

    source: str
    origin: str
    reason: str
    size: int


@dataclass(slots=True, unsafe_hash=True)  # VALUE
class FlaggedEvent:
    """The verdict on one event with findings: is it PHI under HIPAA, and how severe."""

    event_id: str
    source: str
    origin: str
    event_time: datetime | None
    project: str | None
    route: str | None
    entity_types: tuple[str, ...]
    phi: bool
    severity: str
    reason: str
    findings: int
    scanned_at: datetime
    index: int = field(default=-1, compare=False, repr=False)  # the event's place in its scanned batch


ENTITY_TYPES: tuple[str, ...] = (
    "PERSON",
    "EMAIL_ADDRESS",
    "PHONE_NUMBER",
    "US_SSN",
    "DATE_OF_BIRTH",
    "STREET_ADDRESS",
    "IP_ADDRESS",
    "CREDIT_CARD",
    "MEDICAL_RECORD_NUMBER",
    "HEALTH_PLAN_ID",
    "US_NPI",
    "US_DEA",
    "MEDICAL_CONDITION",
    "MEDICATION",
    "ICD10_CODE",
    "API_KEY",
    "AUTH_TOKEN",
    "CREDENTIAL",
    "PRIVATE_KEY",
)
"""The canonical entity names. Detectors that speak other names are mapped onto these."""


SOURCES: tuple[str, ...] = (
    "vercel", "vercel-analytics", "vercel-speed-insights", "vercel-traces", "otlp-logs", "otlp-traces",
    "sentry", "segment", "posthog", "mixpanel", "ga4", "jsonlogs", "lines",
)
"""Every `source` a connector writes into findings (a format can emit several: Vercel drains are logs,
analytics, speed insights or traces). Analyst filters and policy files are checked against this list."""
