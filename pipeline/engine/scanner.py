"""The scan engine: events in, findings out. Used by batch scans, consumers and scrubbers alike.

For a batch of events it walks every string leaf and every key that is not a
plain name (a key can be a value), applies field selectors, expands decoded views
(URL-encoded text, JSON in strings, key/value pairs, URL path segments), sends
all texts of the batch to the analyzer at once (so NER is batched and repeats
are cached), maps every match back to a span of the raw field and makes a
`Finding` with a keyed fingerprint and a masked preview. Routes, ids, origins,
projects and keys are scanned too, and stored templated (`pipeline.engine.templates`).
Each finding keeps, in memory only, the raw location the scrubber edits.
"""

from __future__ import annotations

import atexit
import fnmatch
import gc
import hashlib
import re
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone

from detectors.analyzer import PresidioAnalyzer, Task, resolve_overlaps
from detectors.keyhints import DEFAULT_KEY_HINTS, KeyHintDetector, person_object_key
from detectors.registry import deny_recognizers
from detectors.noise import is_machine_value
from pipeline.config import Config
from pipeline.engine.fingerprint import Fingerprinter, preview
from core.model import BadRecord, Event, FlaggedEvent, Finding, Match
from pipeline.engine.verdict import Verdicts
from core.paths import IDENTIFIER, LimitExceeded, iter_leaves, normalize_key
from pipeline.engine.selectors import SelectorIndex
from pipeline.engine.templates import key_text, templated_path, template
from pipeline.engine.views import View, expand

_POSITION = re.compile(r"(?:(?:[:#/]|#item|\[)\d+\]?)+$")
# a position cut off an origin with no digit run longer than six (`:1204`, `/0/88123`, `#item3`): no detector
# can match it (phones need seven digits, IPv6 a `::` or eight groups), and it is new in every event
_SHORT_POSITION = re.compile(r"(?:(?:[:#/]|#item|\[)\d{1,6}\]?)+")


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
    bad_events: list[int] = field(default_factory=list)  # for each of `bad`, the event's place in the batch


@dataclass(slots=True, unsafe_hash=True)  # not frozen: see VALUE in core/model.py
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
            key_hints=self.key_hints, cache_size=det.cache_size, extra=deny_recognizers(det.deny),
            ip_policy=det.ip_policy)
        self.deny_paths = [(p, rule.entity) for rule in det.deny for p in rule.field_paths]
        # a user's deny values and patterns may match anything: with them, every position is analyzed
        self._short_positions_unscanned = not any(rule.values or rule.regexes for rule in det.deny)
        self.selectors = SelectorIndex(det.selectors)
        self.numeric_keys = frozenset(normalize_key(k) for k in det.numeric_keys)
        self.allow_values = frozenset(v.casefold() for v in det.allow.values)
        self.allow_regexes = [re.compile(r) for r in det.allow.regexes]
        self.allow_paths = list(det.allow.field_paths)
        self.limits = config.limits
        self.verdicts = Verdicts(det.health_routes)
        self._leaf_cache: OrderedDict[bytes, tuple[Hit, ...]] = OrderedDict()
        self._leaf_cache_size = max(det.cache_size, 1)
        self._plans: dict[str, dict[tuple[str, str | None], tuple[str, bool, str | None]]] = {}

    def scan(self, events: Sequence[Event]) -> ScanResult:
        """Findings of a batch of events; an event past a limit becomes a `BadRecord` instead.

        Work is per distinct leaf (profile, key, text): a value repeated across the batch,
        or seen in an earlier batch (bounded cache of `Hit`s, which hold no raw value), is
        expanded and analyzed once. Keys that are not plain names, routes, event ids and
        projects are scanned too, so the descriptive columns of a finding are stored in
        their templated form (`/api/users/[EMAIL_ADDRESS]`), never raw.
        """
        result = ScanResult(events=sum(1 for e in events if not e.wrapper))
        batch = _Batch()
        placed: list[tuple[int, str, bool, bytes]] = []  # (event, raw field path, is key, leaf digest)
        labels: list[dict[str, bytes]] = []  # per event: descriptive column -> digest of its text
        for ei, event in enumerate(events):
            mark = (len(placed), len(batch.tasks))
            try:
                self._collect(ei, event, placed, batch)
                labels.append(self._labels(event, batch))
            except LimitExceeded as exc:
                result.bad.append(BadRecord(event.source, event.origin, f"limit exceeded: {exc}", event.size))
                result.bad_events.append(ei)
                del placed[mark[0]:]
                batch.rollback(mark[1])
                labels.append({})
        self._analyze(batch)
        scanned_at = datetime.now(timezone.utc)
        by_event: dict[int, list[tuple[str, bool, Hit]]] = {}
        for ei, path, is_key, digest in placed:
            hits = batch.hits.get(digest, ())
            if hits and not (self.allow_paths and self._allowed_path(path)):
                by_event.setdefault(ei, []).extend((path, is_key, h) for h in hits)
        self._scan_keys({h.field_key for hits in by_event.values() for _, _, h in hits
                         if h.field_key and not IDENTIFIER.fullmatch(h.field_key)}, batch)
        for ei, hits in by_event.items():
            event = self._safe_event(events[ei], labels[ei], batch)
            key_templates = {path: template(key_text(path), [h for p, k, h in hits if p == path and k])
                             for path, is_key, _ in hits if is_key}
            types = {h.entity_type for _, _, h in hits}
            verdict = self.verdicts.decide(event, types)
            for path, is_key, h in hits:
                stored = templated_path(path, key_templates) if key_templates else path
                result.findings.append(Finding(
                    finding_id=finding_id(event.source, event.event_id, stored, h.start, h.end, h.entity_type),
                    event_id=event.event_id, source=event.source, origin=event.origin,
                    event_time=event.timestamp, project=event.project, route=event.route,
                    field_path=stored, start=h.start, end=h.end, entity_type=h.entity_type, score=h.score,
                    detector=h.detector, fingerprint=h.fingerprint, preview=h.preview, scanned_at=scanned_at,
                    severity=verdict.severity(h.entity_type),
                    field_key=_safe_key(h.field_key, batch), location=(ei, path, is_key),
                ))
            result.flagged.append(self.verdicts.flag(event, verdict, types, len(hits), scanned_at, index=ei))
        return result

    def _analyze(self, batch: _Batch) -> None:
        """Run the analyzer over the batch's fresh views; their hits join the batch and the cache."""
        matches = self.analyzer.analyze(batch.tasks)
        per_leaf: dict[bytes, list[tuple[Match, str, View]]] = {d: [] for d in batch.fresh}
        for (digest, view), found in zip(batch.owners, matches):
            for m in found:
                value = view.text[m.start:m.end]
                if self._allowed_value(value):
                    continue
                rs, re_ = view.raw_span(m.start, m.end)
                per_leaf[digest].append((Match(m.entity_type, rs, re_, m.score, m.detector), value, view))
        for digest, cands in per_leaf.items():
            hits = self._hits(cands)
            batch.hits[digest] = hits
            self._remember(digest, hits)
        batch.analyzed()

    def _labels(self, event: Event, batch: _Batch) -> dict[str, list[tuple[bytes | None, str]]]:
        """Route, event id, origin and project of an event, cut into pieces and submitted for scanning.

        A route is cut at `/` (a segment is a value a detector sees on its own: `/api/users/<email>`);
        a trailing position (`:12`, `#3`, `#item1`) is cut off the others, so the file part of
        position-derived ids repeats and is analyzed once. Returns column -> [(digest or None, piece)].
        """
        out = {}
        fresh = {}
        for column, text in (("route", event.route), ("event_id", event.event_id), ("origin", event.origin),
                             ("project", event.project)):
            if not text:
                continue
            known = batch.labels.get((column, text))
            if known is not None:  # the batch's events share files, projects and routes: pieces once a batch
                if known:
                    out[column] = known
                continue
            pieces_out = []
            if not is_machine_value(text):
                if column == "route":
                    pieces = text.split("/")
                else:
                    cut = _POSITION.search(text, max(0, len(text) - 40))  # bounded: the regex stays linear
                    pieces = [text[:cut.start()], text[cut.start():]] if cut else [text]
                # a route's segment is keyed by the segment before it, as a path view in a field is
                # (`/patients/maria-gonzalez` -> `patients`): the column is templated from what the field gives
                keys = _segment_keys(pieces) if column == "route" else [column] * len(pieces)
                pieces_out = [(self._submit(batch, "full", k, p) if p and self._label_piece_scanned(k, p) else None, p)
                              for k, p in zip(keys, pieces)]
                out[column] = pieces_out
            fresh[(column, text)] = pieces_out
        # remembered once the whole event was submitted: an event that fails a limit is rolled back
        # and leaves nothing here that points at views it no longer queues
        batch.labels.update(fresh)
        return out

    def _label_piece_scanned(self, key: str, piece: str) -> bool:
        """Ids and numbers are left alone unless their key says what they are (`/patients/mrn/00482913`),
        as in a field (`_collect`); short positions cut off ids never are."""
        if self._short_position(piece):
            return False
        return not is_machine_value(piece) or self.key_hints.entity_for(normalize_key(key)) is not None

    def _short_position(self, piece: str) -> bool:
        return self._short_positions_unscanned and _SHORT_POSITION.fullmatch(piece) is not None

    def _safe_event(self, event: Event, labels: dict[str, list[tuple[bytes | None, str]]], batch: _Batch) -> Event:
        """The event with every descriptive column that held a finding templated (event ids: keyed hash)."""
        changes = {}
        for column, pieces in labels.items():
            if not any(d is not None and batch.hits.get(d) for d, _ in pieces):
                continue
            if column == "event_id":
                changes[column] = "id:" + self.fingerprint("EVENT_ID", event.event_id)[:32]
                continue
            parts = [template(p, batch.hits.get(d, ())) if d is not None else p for d, p in pieces]
            changes[column] = ("/" if column == "route" else "").join(parts)
        return replace(event, **changes) if changes else event

    def _scan_keys(self, keys: set[str], batch: _Batch) -> None:
        """Scan keys named by findings that were not scanned as keys (keys inside decoded views)."""
        fresh = [k for k in keys if _leaf_digest("full", None, k) not in batch.hits]
        if fresh:
            for k in fresh:
                self._submit(batch, "full", None, k)
            self._analyze(batch)

    def _submit(self, batch: _Batch, profile: str, key: str | None, text: str, hint: str | None = None) -> bytes:
        """Queue a text for analysis once per batch (or take its cached hits); returns its digest.

        `hint` replaces the normalized key of the raw view for the key hints (a `name` in a person
        object: `detectors.keyhints.person_object_key`); decoded views keep their own keys.
        """
        digest = _leaf_digest(profile, key if hint is None else f"{key}\x00{hint}", text)
        if digest in batch.hits or digest in batch.fresh:
            return digest
        cached = self._leaf_cache.get(digest)
        if cached is not None:
            self._leaf_cache.move_to_end(digest)
            batch.hits[digest] = cached  # held for this batch: eviction can no longer drop it
            return digest
        views = expand(text, key, max_views=self.config.detection.max_views_per_field) if profile == "full" \
            else [View(text, key)]
        triggers = None
        if len(views) == 1:
            triggers = self.analyzer.triggered(text, hint or normalize_key(key), profile)
            if triggers is None:
                batch.hits[digest] = ()  # nothing can match: no task, and the answer is remembered like any other
                self._remember(digest, ())
                return digest
        batch.fresh[digest] = views
        has_json = any(v.kind == "json" for v in views)
        # a pino line: every value is in a JSON view, but its keys are not, and a key can be a value
        # (`{"jane@x.com": {...}}`): the raw text gets the pattern detectors only (no NER, no hints)
        pino = has_json and _all_json(text)
        raw_ner = not has_json
        for view in views:
            raw_pino = pino and view.kind == "raw"
            norm = hint if hint is not None and view.kind == "raw" else normalize_key(view.key)
            batch.tasks.append(Task(view.text, norm, view.key, "machine" if raw_pino else profile,
                                    ner=(raw_ner or view.kind != "raw") and not raw_pino, triggers=triggers,
                                    cache=triggers is None))
            batch.owners.append((digest, view))
        return digest

    def _hits(self, cands: list[tuple[Match, str, View]]) -> tuple[Hit, ...]:
        """One leaf's matches from all its views, overlaps resolved, as cacheable `Hit`s."""
        # an unquoted `key: value` view ends at the first space: where another view found more of the same
        # entity around it (`patient: Maria Gonzalez` -> `Maria`, and `Maria Gonzalez` in the raw text), the
        # cut one is only a part of it
        if any(c[2].kind == "kv" for c in cands):
            cands = [c for c in cands if c[2].kind != "kv" or not _inside_longer(c[0], cands)]
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

    def _collect(self, ei: int, event: Event, placed: list, batch: _Batch) -> None:
        lim = self.limits
        source = event.source
        plans = self._plans.get(source)
        if plans is None:
            plans = self._plans[source] = {}
        for leaf in iter_leaves(event.payload, numeric_keys=self.numeric_keys, max_depth=lim.max_depth,
                                max_fields=lim.max_fields, skip=self.selectors.exact_skips(source),
                                exclude=event.exclude):
            if leaf.is_key:
                # a key is named by no selector: what it holds may be skipped, it is not
                profile, keyed, hint = "full", False, None
            else:
                plan = plans.get((leaf.path, leaf.key))
                if plan is None:
                    plan = self._field_plan(source, leaf.path, leaf.key, plans)
                profile, keyed, hint = plan
                if profile == "skip":
                    continue
                if not keyed and not leaf.numeric and is_machine_value(leaf.text):
                    continue  # ids, hashes, numbers: unless the key says what they are (`mrn: "00482913"`)
            if len(leaf.text) > lim.max_text_chars:  # fail closed: the record, not a truncated text
                raise LimitExceeded(f"a field longer than {lim.max_text_chars} characters")
            if self.deny_paths and not leaf.is_key:
                entity = next((e for p, e in self.deny_paths if fnmatch.fnmatchcase(leaf.path, p)), None)
                if entity:  # a field the user says always holds `entity`: the whole value is one finding
                    digest = _leaf_digest(f"deny:{entity}", leaf.key, leaf.text)
                    batch.hits[digest] = (Hit(0, len(leaf.text), entity, 1.0, "deny_field", leaf.key,
                                              self.fingerprint(entity, leaf.text), preview(entity, leaf.text)),)
                    placed.append((ei, leaf.path, False, digest))
                    continue
            digest = self._submit(batch, profile, None if leaf.is_key else leaf.key, leaf.text, hint)
            placed.append((ei, leaf.path, leaf.is_key, digest))

    def _field_plan(self, source: str, path: str, key: str | None, plans: dict) -> tuple[str, bool, str | None]:
        """What a field's path and key decide before its value is read: its profile, whether a key hint
        names it, and the person-object hint of a bare `name`; remembered per source (paths repeat)."""
        norm = normalize_key(key)
        plan = (self.selectors.profile(source, path), bool(self.key_hints.entity_for(norm)),
                person_object_key(path, norm) if key else None)
        if len(plans) < 20_000:
            plans[(path, key)] = plan
        return plan

    def _allowed_value(self, value: str) -> bool:
        if self.allow_values and value.casefold() in self.allow_values:
            return True
        return bool(self.allow_regexes) and any(r.fullmatch(value) for r in self.allow_regexes)

    def _allowed_path(self, path: str) -> bool:
        return any(fnmatch.fnmatchcase(path, p) for p in self.allow_paths)


@dataclass(slots=True)
class _Batch:
    """The texts of one scan batch: fresh views to analyze, and the hits every placed digest resolves to.

    `hits` holds the batch's own answers (fresh and taken from the cache at collection time), so
    the bounded cache evicting an early leaf of a large batch can never drop its findings.
    """

    hits: dict[bytes, tuple[Hit, ...]] = field(default_factory=dict)
    fresh: dict[bytes, list[View]] = field(default_factory=dict)
    tasks: list[Task] = field(default_factory=list)
    owners: list[tuple[bytes, View]] = field(default_factory=list)
    # (column, text) -> its pieces and their digests, for the batch's life only (it holds raw texts, as `fresh`)
    labels: dict[tuple[str, str], list[tuple[bytes | None, str]]] = field(default_factory=dict)

    def analyzed(self) -> None:
        """The queued views have their hits: start a fresh queue (a second pass may follow)."""
        self.fresh.clear()
        self.tasks.clear()
        self.owners.clear()

    def rollback(self, mark: int) -> None:
        """Forget the views queued after `mark` (an event that hit a limit)."""
        for digest, _ in self.owners[mark:]:
            self.fresh.pop(digest, None)
        del self.tasks[mark:], self.owners[mark:]


def _safe_key(key: str | None, batch: _Batch) -> str | None:
    """The key that named a value, as stored: templated when the key itself held a finding."""
    if not key or IDENTIFIER.fullmatch(key):
        return key  # a plain name: never a value, and never scanned as one (see core.paths)
    hits = batch.hits.get(_leaf_digest("full", None, key))
    return template(key, hits) if hits else key


def _segment_keys(segments: list[str]) -> list[str]:
    """For each route segment, the alphabetic segment before it (`route` for the first ones)."""
    keys, prev = [], "route"
    for seg in segments:
        keys.append(prev)
        if seg.isalpha():
            prev = seg
    return keys


def _inside_longer(m: Match, cands: list[tuple[Match, str, View]]) -> bool:
    """Another candidate of the same entity covers `m` and more."""
    return any(o.entity_type == m.entity_type and o.start <= m.start and m.end <= o.end
               and o.end - o.start > m.end - m.start for o, _, _ in cands)


def _all_json(text: str) -> bool:
    stripped = text.strip()
    return bool(stripped) and stripped[0] in "{[" and stripped[-1] in "}]"


def _leaf_digest(profile: str, key: str | None, text: str) -> bytes:
    # collision-resistant (a crafted collision would hand a value another one's hits); one call: ~1 us
    return hashlib.blake2b(f"{profile}\x00{key or ''}\x00{text}".encode("utf-8", "surrogatepass"),
                           digest_size=16).digest()
