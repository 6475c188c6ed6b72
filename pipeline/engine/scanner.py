"""The scan engine: events in, findings out. Used by batch scans, consumers and scrubbers alike.

For a batch of events it walks every string leaf, applies field selectors,
expands decoded views (URL-encoded text, JSON in strings, key/value pairs),
sends all texts of the batch to the analyzer at once (so NER is batched and
repeats are cached), maps every match back to a span of the raw field and makes
a `Finding` with a keyed fingerprint and a masked preview.
"""

from __future__ import annotations

import atexit
import fnmatch
import gc
import hashlib
import re
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone

from detectors.analyzer import PresidioAnalyzer, Task, resolve_overlaps
from detectors.keyhints import DEFAULT_KEY_HINTS, KeyHintDetector
from detectors.registry import deny_recognizers
from detectors.noise import is_machine_value
from pipeline.config import Config, Selector
from pipeline.engine.fingerprint import Fingerprinter, preview
from core.model import BadRecord, Event, FlaggedEvent, Finding, Match
from pipeline.engine.verdict import Verdicts
from core.paths import LimitExceeded, iter_leaves, normalize_key
from pipeline.engine.views import View, expand

_INDEX = re.compile(r"\[\d+\]")


def finding_id(source: str, event_id: str, field_path: str, start: int, end: int, entity_type: str) -> str:
    """Deterministic id: the same value in the same place of the same event is one finding."""
    key = "\x1f".join((source, event_id, field_path, str(start), str(end), entity_type))
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()[:32]


@dataclass(slots=True)
class ScanResult:
    findings: list[Finding] = field(default_factory=list)
    bad: list[BadRecord] = field(default_factory=list)
    flagged: list[FlaggedEvent] = field(default_factory=list)
    events: int = 0


class SelectorIndex:
    """Field path -> profile, by the first matching selector glob; memoized per generic path."""

    def __init__(self, selectors: Sequence[Selector]):
        self._selectors = list(selectors)
        # fnmatch reads `[...]` as a character class; in field paths brackets are literal, so
        # `proxy.userAgent[*]` must match `proxy.userAgent[*]` (indexes are generalised to [*]).
        self._globs = [sel.path.replace("[", "[[]") for sel in self._selectors]
        self._memo: dict[tuple[str, str], str] = {}
        self._skips: dict[str, frozenset[str]] = {}

    def exact_skips(self, source: str) -> frozenset[str]:
        """Paths skipped by a selector without wildcards: the walker need not enter them."""
        hit = self._skips.get(source)
        if hit is None:
            hit = frozenset(sel.path for sel in self._selectors
                            if sel.profile == "skip" and (sel.source is None or sel.source == source)
                            and not any(ch in sel.path for ch in "*?") and "[*]" not in sel.path
                            and self.profile(source, sel.path) == "skip")
            self._skips[source] = hit
        return hit

    def profile(self, source: str, path: str) -> str:
        generic = _INDEX.sub("[*]", path) if "[" in path else path
        memo_key = (source, generic)
        hit = self._memo.get(memo_key)
        if hit is None:
            hit = "full"
            for sel, glob in zip(self._selectors, self._globs):
                if (sel.source is None or sel.source == source) and fnmatch.fnmatchcase(generic, glob):
                    hit = sel.profile
                    break
            if len(self._memo) < 100_000:
                self._memo[memo_key] = hit
        return hit


@dataclass(frozen=True, slots=True)
class Hit:
    """A finding of one leaf value, independent of the event: safe to cache (no raw value)."""

    start: int
    end: int
    entity_type: str
    score: float
    detector: str
    field_key: str | None
    fingerprint: str
    preview: str


def tune_gc() -> None:
    """Collector settings for a long-running scan: the loaded model and recognizers are frozen out
    of collection and young collections run less often. The engine allocates many short-lived
    objects per batch and keeps large caches; default thresholds made scans ~10-15% slower and
    slower still as the caches filled. Frozen objects are released again at exit."""
    global _GC_TUNED
    if _GC_TUNED:
        return
    _GC_TUNED = True
    gc.collect()
    gc.freeze()
    gc.set_threshold(100_000, 50, 100)
    atexit.register(gc.unfreeze)


_GC_TUNED = False


class ScanEngine:
    """Detection over batches of events. Build once per process (the model load is the cost)."""

    def __init__(self, config: Config, fingerprinter: Fingerprinter, analyzer: PresidioAnalyzer | None = None):
        det = config.detection
        self.config = config
        self.fingerprint = fingerprinter
        self.key_hints = KeyHintDetector({**DEFAULT_KEY_HINTS, **det.key_hints})
        self.analyzer = analyzer or PresidioAnalyzer(
            model=det.model, entities=det.entities, score_threshold=det.score_threshold, ner=det.ner,
            key_hints=self.key_hints, cache_size=det.cache_size, extra=deny_recognizers(det.deny))
        self.deny_paths = [(p, rule.entity) for rule in det.deny for p in rule.field_paths]
        self.selectors = SelectorIndex(det.selectors)
        self.numeric_keys = frozenset(normalize_key(k) for k in det.numeric_keys)
        self.allow_values = frozenset(v.casefold() for v in det.allow.values)
        self.allow_regexes = [re.compile(r) for r in det.allow.regexes]
        self.allow_paths = list(det.allow.field_paths)
        self.limits = config.limits
        self.verdicts = Verdicts(det.health_routes)
        self._leaf_cache: OrderedDict[bytes, tuple[Hit, ...]] = OrderedDict()
        self._leaf_cache_size = max(det.cache_size, 1)

    def scan(self, events: Sequence[Event]) -> ScanResult:
        """Findings of a batch of events; an event past a limit becomes a `BadRecord` instead.

        Work is per distinct leaf (profile, key, text): a value repeated across the batch,
        or seen in an earlier batch (bounded cache of `Hit`s, which hold no raw value), is
        expanded and analyzed once.
        """
        result = ScanResult(events=len(events))
        placed: list[tuple[int, str, bytes]] = []  # (event, field path, leaf digest)
        fresh: dict[bytes, list[View]] = {}
        tasks: list[Task] = []
        owners: list[tuple[bytes, View]] = []
        for ei, event in enumerate(events):
            mark = (len(placed), len(tasks))
            try:
                self._collect(ei, event, placed, fresh, tasks, owners)
            except LimitExceeded as exc:
                result.bad.append(BadRecord(event.source, event.origin, f"limit exceeded: {exc}", event.size))
                del placed[mark[0]:]
                for digest, _ in owners[mark[1]:]:
                    fresh.pop(digest, None)
                del tasks[mark[1]:], owners[mark[1]:]
        matches = self.analyzer.analyze(tasks)
        per_leaf: dict[bytes, list[tuple[Match, str, View]]] = {d: [] for d in fresh}
        for (digest, view), found in zip(owners, matches):
            for m in found:
                value = view.text[m.start:m.end]
                if self._allowed_value(value):
                    continue
                rs, re_ = view.raw_span(m.start, m.end)
                per_leaf[digest].append((Match(m.entity_type, rs, re_, m.score, m.detector), value, view))
        for digest, cands in per_leaf.items():
            self._remember(digest, self._hits(cands))
        scanned_at = datetime.now(timezone.utc)
        by_event: dict[int, list[tuple[str, Hit]]] = {}
        for ei, path, digest in placed:
            hits = self._leaf_cache.get(digest) or ()
            if hits and not (self.allow_paths and self._allowed_path(path)):
                by_event.setdefault(ei, []).extend((path, h) for h in hits)
        for ei, hits in by_event.items():
            event = events[ei]
            types = {h.entity_type for _, h in hits}
            verdict = self.verdicts.decide(event, types)
            for path, h in hits:
                result.findings.append(Finding(
                    finding_id=finding_id(event.source, event.event_id, path, h.start, h.end, h.entity_type),
                    event_id=event.event_id, source=event.source, origin=event.origin,
                    event_time=event.timestamp, project=event.project, route=event.route,
                    field_path=path, start=h.start, end=h.end, entity_type=h.entity_type, score=h.score,
                    detector=h.detector, fingerprint=h.fingerprint, preview=h.preview, scanned_at=scanned_at,
                    severity=verdict.severity(h.entity_type), field_key=h.field_key,
                ))
            result.flagged.append(self.verdicts.flag(event, verdict, types, len(hits), scanned_at))
        return result

    def _hits(self, cands: list[tuple[Match, str, View]]) -> tuple[Hit, ...]:
        """One leaf's matches from all its views, overlaps resolved, as cacheable `Hit`s."""
        # decoded views first: on a tie their key (`email` inside a JSON message) names the value best
        cands = sorted(cands, key=lambda c: c[2].kind == "raw")
        by_match = {id(m): (value, view) for m, value, view in cands}
        hits = []
        for m in resolve_overlaps([m for m, _, _ in cands]):
            value, view = by_match[id(m)]
            hits.append(Hit(m.start, m.end, m.entity_type, m.score, m.detector, view.key,
                            self.fingerprint(m.entity_type, value), preview(m.entity_type, value)))
        return tuple(hits)

    def _remember(self, digest: bytes, hits: tuple[Hit, ...]) -> None:
        cache = self._leaf_cache
        cache[digest] = hits
        if len(cache) > self._leaf_cache_size:
            cache.popitem(last=False)

    def _collect(self, ei: int, event: Event, placed: list, fresh: dict, tasks: list[Task], owners: list) -> None:
        lim = self.limits
        max_views = self.config.detection.max_views_per_field
        cache = self._leaf_cache
        for leaf in iter_leaves(event.payload, numeric_keys=self.numeric_keys, max_depth=lim.max_depth,
                                max_fields=lim.max_fields, skip=self.selectors.exact_skips(event.source)):
            profile = self.selectors.profile(event.source, leaf.path)
            if profile == "skip":
                continue
            if len(leaf.text) > lim.max_text_chars:  # fail closed: the record, not a truncated text
                raise LimitExceeded(f"a field longer than {lim.max_text_chars} characters")
            if not leaf.numeric and is_machine_value(leaf.text) and not self.key_hints.entity_for(normalize_key(leaf.key)):
                continue  # ids, hashes, numbers: unless the key says what they are (`mrn: "00482913"`)
            if self.deny_paths:
                entity = next((e for p, e in self.deny_paths if fnmatch.fnmatchcase(leaf.path, p)), None)
                if entity:  # a field the user says always holds `entity`: the whole value is one finding
                    digest = _leaf_digest(f"deny:{entity}", leaf.key, leaf.text)
                    if digest not in cache:
                        self._remember(digest, (Hit(0, len(leaf.text), entity, 1.0, "deny_field", leaf.key,
                                                    self.fingerprint(entity, leaf.text), preview(entity, leaf.text)),))
                    placed.append((ei, leaf.path, digest))
                    continue
            digest = _leaf_digest(profile, leaf.key, leaf.text)
            placed.append((ei, leaf.path, digest))
            if digest in fresh:
                continue
            if digest in cache:
                cache.move_to_end(digest)
                continue
            views = expand(leaf.text, leaf.key, max_views=max_views) if profile == "full" else [View(leaf.text, leaf.key)]
            fresh[digest] = views
            has_json = any(v.kind == "json" for v in views)
            if has_json and _all_json(leaf.text):
                views = views[1:]  # a pino line: every value is in a JSON view; the raw text adds nothing
            raw_ner = not has_json
            for view in views:
                tasks.append(Task(view.text, normalize_key(view.key), view.key, profile,
                                  ner=raw_ner or view.kind != "raw"))
                owners.append((digest, view))

    def _allowed_value(self, value: str) -> bool:
        return value.casefold() in self.allow_values or any(r.fullmatch(value) for r in self.allow_regexes)

    def _allowed_path(self, path: str) -> bool:
        return any(fnmatch.fnmatchcase(path, p) for p in self.allow_paths)


def _all_json(text: str) -> bool:
    stripped = text.strip()
    return bool(stripped) and stripped[0] in "{[" and stripped[-1] in "}]"


def _leaf_digest(profile: str, key: str | None, text: str) -> bytes:
    h = hashlib.blake2b(digest_size=16)
    h.update(f"{profile}\x00{key or ''}\x00".encode("utf-8", "surrogatepass"))
    h.update(text.encode("utf-8", "surrogatepass"))
    return h.digest()
