"""The scan engine: events in, findings out. Used by batch scans, consumers and scrubbers alike.

For a batch of events it walks every string leaf, applies field selectors,
expands decoded views (URL-encoded text, JSON in strings, key/value pairs),
sends all texts of the batch to the analyzer at once (so NER is batched and
repeats are cached), maps every match back to a span of the raw field and makes
a `Finding` with a keyed fingerprint and a masked preview.
"""

from __future__ import annotations

import fnmatch
import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone

from detectors.analyzer import PresidioAnalyzer, Task, resolve_overlaps
from detectors.entities import SEVERITY
from detectors.keyhints import KeyHintDetector
from detectors.noise import is_machine_value
from pipeline.config import Config, Selector
from pipeline.fingerprint import Fingerprinter, preview
from pipeline.model import BadRecord, Event, Finding, Match
from pipeline.paths import LimitExceeded, iter_leaves, normalize_key
from pipeline.views import View, expand

_INDEX = re.compile(r"\[\d+\]")


def finding_id(source: str, event_id: str, field_path: str, start: int, end: int, entity_type: str) -> str:
    """Deterministic id: the same value in the same place of the same event is one finding."""
    key = "\x1f".join((source, event_id, field_path, str(start), str(end), entity_type))
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()[:32]


@dataclass(slots=True)
class ScanResult:
    findings: list[Finding] = field(default_factory=list)
    bad: list[BadRecord] = field(default_factory=list)
    events: int = 0


class SelectorIndex:
    """Field path -> profile, by the first matching selector glob; memoized per generic path."""

    def __init__(self, selectors: Sequence[Selector]):
        self._selectors = list(selectors)
        self._memo: dict[tuple[str, str], str] = {}

    def profile(self, source: str, path: str) -> str:
        generic = _INDEX.sub("[*]", path) if "[" in path else path
        memo_key = (source, generic)
        hit = self._memo.get(memo_key)
        if hit is None:
            hit = "full"
            for sel in self._selectors:
                if (sel.source is None or sel.source == source) and fnmatch.fnmatchcase(generic, sel.path):
                    hit = sel.profile
                    break
            if len(self._memo) < 100_000:
                self._memo[memo_key] = hit
        return hit


@dataclass(frozen=True, slots=True)
class _Slot:
    """Where a task's matches go: which event, which field, which view."""

    event: int
    path: str
    raw: str
    view: View


class ScanEngine:
    """Detection over batches of events. Build once per process (the model load is the cost)."""

    def __init__(self, config: Config, fingerprinter: Fingerprinter, analyzer: PresidioAnalyzer | None = None):
        det = config.detection
        self.config = config
        self.fingerprint = fingerprinter
        self.key_hints = KeyHintDetector()
        self.analyzer = analyzer or PresidioAnalyzer(
            model=det.model, entities=det.entities, score_threshold=det.score_threshold, ner=det.ner,
            key_hints=self.key_hints, cache_size=det.cache_size)
        self.selectors = SelectorIndex(det.selectors)
        self.numeric_keys = frozenset(normalize_key(k) for k in det.numeric_keys)
        self.allow_values = frozenset(v.casefold() for v in det.allow.values)
        self.allow_regexes = [re.compile(r) for r in det.allow.regexes]
        self.allow_paths = list(det.allow.field_paths)
        self.limits = config.limits

    def scan(self, events: Sequence[Event]) -> ScanResult:
        """Findings of a batch of events; an event past a limit becomes a `BadRecord` instead."""
        result = ScanResult(events=len(events))
        tasks: list[Task] = []
        slots: list[_Slot] = []
        for ei, event in enumerate(events):
            try:
                self._collect(ei, event, tasks, slots)
            except LimitExceeded as exc:
                result.bad.append(BadRecord(event.source, event.origin, f"limit exceeded: {exc}", event.size))
                tasks, slots = _drop_event(tasks, slots, {ei})
        matches = self.analyzer.analyze(tasks)
        scanned_at = datetime.now(timezone.utc)
        # Per field, every view's matches in raw coordinates; overlaps resolved across views.
        per_field: dict[tuple[int, str], list[tuple[Match, str, View]]] = {}
        for slot, found in zip(slots, matches):
            for m in found:
                value = slot.view.text[m.start:m.end]
                if self._allowed(value, slot.path):
                    continue
                rs, re_ = slot.view.raw_span(m.start, m.end)
                raw_match = Match(m.entity_type, rs, re_, m.score, m.detector)
                per_field.setdefault((slot.event, slot.path), []).append((raw_match, value, slot.view))
        for (ei, path), cands in per_field.items():
            event = events[ei]
            by_match = {id(m): (value, view) for m, value, view in cands}
            for m in resolve_overlaps([m for m, _, _ in cands]):
                value, view = by_match[id(m)]
                result.findings.append(Finding(
                    finding_id=finding_id(event.source, event.event_id, path, m.start, m.end, m.entity_type),
                    event_id=event.event_id, source=event.source, origin=event.origin,
                    event_time=event.timestamp, project=event.project, route=event.route,
                    field_path=path, start=m.start, end=m.end, entity_type=m.entity_type, score=m.score,
                    detector=m.detector, fingerprint=self.fingerprint(m.entity_type, value),
                    preview=preview(m.entity_type, value), scanned_at=scanned_at,
                    severity=SEVERITY.get(m.entity_type, "low"), field_key=view.key,
                ))
        return result

    def _collect(self, ei: int, event: Event, tasks: list[Task], slots: list[_Slot]) -> None:
        lim = self.limits
        max_views = self.config.detection.max_views_per_field
        for leaf in iter_leaves(event.payload, numeric_keys=self.numeric_keys,
                                max_depth=lim.max_depth, max_fields=lim.max_fields):
            profile = self.selectors.profile(event.source, leaf.path)
            if profile == "skip" or (is_machine_value(leaf.text) and not leaf.numeric):
                continue
            views = expand(leaf.text, leaf.key, max_views=max_views) if profile == "full" else [View(leaf.text, leaf.key)]
            raw_ner = not any(v.kind == "json" for v in views)
            for view in views:
                tasks.append(Task(view.text, normalize_key(view.key), view.key, profile,
                                  ner=raw_ner or view.kind != "raw"))
                slots.append(_Slot(ei, leaf.path, leaf.text, view))

    def _allowed(self, value: str, path: str) -> bool:
        if value.casefold() in self.allow_values:
            return True
        if any(r.fullmatch(value) for r in self.allow_regexes):
            return True
        return any(fnmatch.fnmatchcase(path, p) for p in self.allow_paths)


def _drop_event(tasks: list[Task], slots: list[_Slot], events: set[int]) -> tuple[list[Task], list[_Slot]]:
    keep = [i for i, s in enumerate(slots) if s.event not in events]
    return [tasks[i] for i in keep], [slots[i] for i in keep]
