"""Scrubbing: every finding replaced in place by its entity's operator; anything unscannable quarantined.

Operators (per entity type, with a default): `replace` (`<EMAIL_ADDRESS>`),
`redact` (removed), `mask` (all but the last N characters as `*`), `hash`
(keyed HMAC-SHA256, so joins across systems still work without the value),
`remove` (the whole field is dropped). Span replacement is Presidio
Anonymizer's. The stage fails closed: bytes that cannot be parsed, events past
a limit, and any error while scanning or scrubbing send the input to
quarantine, never to the clean output.
"""

from __future__ import annotations

import gzip
import hashlib
import hmac
import logging
from collections import Counter, defaultdict
from pathlib import Path
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from presidio_anonymizer import AnonymizerEngine
from presidio_anonymizer.entities import OperatorConfig, RecognizerResult
import orjson

from connectors import documents
from connectors.files import open_decompressed
from pipeline.config import ScrubConfig
from pipeline.engine.scanner import ScanEngine
from pipeline.engine.fingerprint import normalize
from core.model import BadRecord, Event, Finding, FlaggedEvent
from core.paths import parse as parse_path

log = logging.getLogger("phiscan")


@dataclass
class Outcome:
    """What happened to one input body: clean bytes, or a quarantine reason."""

    clean: bytes | None
    findings: list[Finding] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)
    flagged: list[FlaggedEvent] = field(default_factory=list)
    reason: str | None = None


class Scrubber:
    def __init__(self, config: ScrubConfig, hmac_key: bytes):
        self.config = config
        self._anonymizer = AnonymizerEngine()
        self._base = hmac.new(hmac_key, digestmod=hashlib.sha256)

    def _hash(self, entity: str, value: str) -> str:
        h = self._base.copy()
        h.update(normalize(entity, value).encode("utf-8", "surrogatepass"))
        return f"<{entity}:{h.hexdigest()[:16]}>"

    def _operator(self, entity: str) -> OperatorConfig:
        op = self.config.operators.get(entity, self.config.default_operator)
        keep = self.config.mask_keep_last
        if op == "replace":
            return OperatorConfig("replace", {"new_value": f"<{entity}>"})
        if op == "redact":
            return OperatorConfig("redact", {})
        if op == "mask":
            return OperatorConfig("custom", {"lambda": lambda x: "*" * max(len(x) - keep, 0) + x[len(x) - keep:]
                                             if len(x) > keep else "*" * len(x)})
        return OperatorConfig("custom", {"lambda": lambda x, e=entity: self._hash(e, x)})

    def apply(self, events: Sequence[Event], findings: Sequence[Finding]) -> None:
        """Replace every finding in its event's payload, in place."""
        by_event = {(e.source, e.event_id, e.origin): e for e in events}
        grouped: dict[tuple, list[Finding]] = defaultdict(list)
        for f in findings:
            grouped[(f.source, f.event_id, f.origin, f.field_path)].append(f)
        for (source, event_id, origin, path), found in grouped.items():
            event = by_event[(source, event_id, origin)]
            parent, key = _locate(event.payload, path)
            value = parent[key]
            text = value if isinstance(value, str) else str(value)
            if any(self.config.operators.get(f.entity_type, self.config.default_operator) == "remove" for f in found):
                _remove(parent, key)
                continue
            results = [RecognizerResult(f.entity_type, f.start, f.end, f.score) for f in found]
            operators = {f.entity_type: self._operator(f.entity_type) for f in found}
            parent[key] = self._anonymizer.anonymize(text=text, analyzer_results=results, operators=operators).text


def _locate(payload: Any, path: str) -> tuple[Any, Any]:
    parts = parse_path(path)
    node = payload
    for part in parts[:-1]:
        node = node[part]
    return node, parts[-1]


def _remove(parent: Any, key: Any) -> None:
    if isinstance(parent, dict):
        parent.pop(key, None)
    else:
        parent[key] = None  # keep list positions: later paths still point where they did


def scrub_bytes(data: bytes, fmt: str, origin: str, engine: ScanEngine, scrubber: Scrubber,
                max_bytes: int = 1 << 20) -> Outcome:
    """Scan and scrub one body. Any failure gives `clean=None` and a reason (fail closed)."""
    try:
        doc = documents.parse(data, fmt, origin, max_bytes=max_bytes)
        items = list(documents.events(doc))
        bad = [i for i in items if isinstance(i, BadRecord)]
        if bad:
            return Outcome(None, reason=bad[0].reason)
        evs = [i for i in items if isinstance(i, Event)]
        result = engine.scan(evs)
        if result.bad:
            return Outcome(None, reason=result.bad[0].reason)
        scrubber.apply(evs, result.findings)
        return Outcome(documents.serialize(doc, keep_binary=scrubber.config.keep_binary_items),
                       result.findings, evs, result.flagged)
    except documents.DocumentError as exc:
        return Outcome(None, reason=str(exc))
    except Exception as exc:  # a detector or scrubber crash on one body must not stop the stream
        log.warning("scrub failed for %s: %s", origin, type(exc).__name__)
        return Outcome(None, reason=f"scan error ({type(exc).__name__})")


@dataclass
class FileScrubSummary:
    records: int = 0
    clean: int = 0
    quarantined: int = 0
    findings: list[Finding] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)
    flagged: list[FlaggedEvent] = field(default_factory=list)
    reasons: Counter = field(default_factory=Counter)


def scrub_file(src: Path, dst: Path, fmt: str, engine: ScanEngine, scrubber: Scrubber,
               max_record_bytes: int = 1 << 20) -> FileScrubSummary:
    """Scrub a file into `dst` in the same layout; unscannable records go to `dst.quarantine`.

    Line files (NDJSON, plain text) are scrubbed line by line, so one bad line is
    quarantined alone; JSON arrays, objects and envelopes are one document.
    `dst.quarantine` holds raw input (protect it like the input); its reasons are
    in `dst.quarantine.reasons.ndjson`, without content.
    """
    summary = FileScrubSummary()
    with open_decompressed(src) as stream:
        data = stream.read()
    head = data.lstrip()[:1]
    per_line = fmt == "lines" or (head == b"{" and _is_ndjson(data))
    units = [(f"{src}:{i}", line) for i, line in enumerate(data.split(b"\n"), 1) if line.strip()] if per_line \
        else [(str(src), data)]
    dst.parent.mkdir(parents=True, exist_ok=True)
    quarantine = dst.with_name(dst.name + ".quarantine")
    reasons = dst.with_name(dst.name + ".quarantine.reasons.ndjson")
    opener = gzip.open if dst.name.endswith(".gz") else open
    with opener(dst, "wb") as out:
        for origin, body in units:
            summary.records += 1
            outcome = scrub_bytes(body, fmt, origin, engine, scrubber, max_record_bytes)
            if outcome.clean is None:
                summary.quarantined += 1
                summary.reasons[outcome.reason or "unknown"] += 1
                with open(quarantine, "ab") as q:
                    q.write(body + (b"\n" if per_line else b""))
                with open(reasons, "ab") as r:
                    r.write(orjson.dumps({"origin": origin, "reason": outcome.reason, "size": len(body)}) + b"\n")
                continue
            summary.clean += 1
            out.write(outcome.clean if not per_line else outcome.clean.rstrip(b"\n") + b"\n")
            summary.findings.extend(outcome.findings)
            summary.events.extend(outcome.events)
            summary.flagged.extend(outcome.flagged)
    return summary


def _is_ndjson(data: bytes) -> bool:
    """One JSON object per line (a pretty-printed object's first line is no object on its own)."""
    first = data.lstrip().split(b"\n", 1)[0].strip()
    try:
        return isinstance(orjson.loads(first), dict)
    except orjson.JSONDecodeError:
        return False


def scrub_file_cli(src: Path, dst: Path, fmt: str, config, findings_dir: str | None) -> FileScrubSummary:
    """`phiscan scrub INPUT --out OUTPUT`: the engine and scrubber a config describes, findings optional."""
    from pipeline.storage import catalog
    from pipeline.storage.parquet import ParquetStore
    from connectors.registry import resolve_format
    from pipeline.engine.fingerprint import resolve_key
    from pipeline.runtime.scan import build_engine

    concrete = resolve_format(src, fmt)
    key_dir = Path(findings_dir) if findings_dir else dst.parent
    engine = build_engine(config, key_dir)
    scrubber = Scrubber(config.scrub, resolve_key(config.fingerprint.key, key_dir))
    summary = scrub_file(src, dst, concrete, engine, scrubber, config.limits.max_record_bytes)
    if findings_dir:
        store = ParquetStore(findings_dir)
        key = "scrub-" + hashlib.sha256(str(src).encode()).hexdigest()[:20]
        store.write_findings(summary.findings, key)
        store.write_flagged(summary.flagged, key)
        catalog.refresh(findings_dir)
    return summary
