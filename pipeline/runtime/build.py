"""The one composition root: a config in, a `Runtime` out (Vector's config -> build() -> topology).

`scan`, `consume`, `scrub` and `serve` are thin drivers of the same runtime, so the
fingerprint key, the engine, the scrubber, what gets recorded (findings, flagged
events, errors, coverage) and the quarantine policy are decided once, here, and
cannot drift between entry points. The runtime is safe to share between threads:
one lock serializes the engine and the scrubber (the HTTP routes call it from a
thread pool), and a test proves concurrent callers get what sequential ones get.
"""

from __future__ import annotations

import logging
import secrets
import threading
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from connectors import documents, jsonlogs
from core.model import BadRecord, Event, Finding, FlaggedEvent, Skipped
from pipeline.config import Config, ConfigError
from pipeline.engine.fingerprint import Fingerprinter, resolve_key
from pipeline.engine.redact import RedactionError, Scrubber
from pipeline.engine.scanner import ScanEngine, ScanResult, tune_gc
from pipeline.storage.parquet import ParquetStore, utc_day

log = logging.getLogger("phiscan")


@dataclass
class Recorded:
    """What one unit of work leaves behind for the store."""

    findings: list[Finding] = field(default_factory=list)
    flagged: list[FlaggedEvent] = field(default_factory=list)
    bad: list[BadRecord] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)  # events scanned (wrappers not counted), for coverage
    covered: Counter = field(default_factory=Counter)  # coverage already counted, of events not kept

    def extend(self, other: Recorded) -> None:
        self.findings.extend(other.findings)
        self.flagged.extend(other.flagged)
        self.bad.extend(other.bad)
        self.skipped.extend(other.skipped)
        self.events.extend(other.events)
        self.covered.update(other.covered)


@dataclass(frozen=True)
class Body:
    """One document to process: its bytes (None for a Kafka tombstone), origin, and a record's key/headers."""

    data: bytes | None
    origin: str
    key: bytes | None = None
    headers: list[tuple[str, bytes]] = field(default_factory=list)


@dataclass
class Outcome(Recorded):
    """One document processed: clean bytes (scrub) or a quarantine reason, and what to record."""

    clean: bytes | None = None
    reason: str | None = None
    key: bytes | None = None  # a Kafka record's scrubbed key and headers
    headers: list[tuple[str, bytes]] = field(default_factory=list)

    @property
    def quarantined(self) -> bool:
        return self.reason is not None


class Runtime:
    """Engine, scrubber, store and key of one process, built once from a config."""

    def __init__(self, config: Config, engine: ScanEngine, scrubber: Scrubber, store: ParquetStore | None):
        self.config = config
        self.engine = engine
        self.scrubber = scrubber
        self.store = store
        self._lock = threading.Lock()

    # -- detection ------------------------------------------------------------------------
    def scan(self, events: Sequence[Event]) -> ScanResult:
        with self._lock:
            return self.engine.scan(events)

    def process(self, data: bytes | None, fmt: str, origin: str, *, scrub: bool, key: bytes | None = None,
                headers: list[tuple[str, bytes]] | None = None) -> Outcome:
        """One document: see `process_many`."""
        return self.process_many([Body(data, origin, key, headers or [])], fmt, scrub=scrub)[0]

    def process_many(self, bodies: Sequence[Body], fmt: str, *, scrub: bool) -> list[Outcome]:
        """Scan documents in one engine batch (and scrub each, re-encoded in its own layout). Never raises.

        Fails closed per document: one that cannot be parsed, holds a bad record, hits a limit,
        or fails while being scanned or scrubbed gives no clean bytes, only a reason (no content),
        and its neighbours in the batch are not affected. A Kafka tombstone (no value) is no
        document: its key and headers are still scanned, and it passes as a tombstone.
        """
        max_bytes = self.config.limits.max_record_bytes
        outcomes: list[Outcome] = []
        docs: list[documents.Document | None] = []
        events: list[Event] = []
        owner: list[int] = []  # for each event of the batch, its document
        for i, body in enumerate(bodies):
            out = Outcome()
            outcomes.append(out)
            try:
                doc = documents.parse(body.data, fmt, body.origin, max_bytes=max_bytes, key=body.key,
                                      headers=body.headers)
            except documents.DocumentError as exc:
                self._fail(out, fmt, body, str(exc))
                docs.append(None)
                continue
            except Exception as exc:  # noqa: BLE001 - a parser crash on one body is bad input, not a dead stream
                self._fail(out, fmt, body, f"cannot parse ({type(exc).__name__})")
                docs.append(None)
                continue
            docs.append(doc)
            out.skipped, out.bad = doc.skipped, doc.bad
            for ev in doc.events:
                events.append(ev)
                owner.append(i)
                if not ev.wrapper:
                    out.events.append(ev)
        try:
            with self._lock:
                result = self.engine.scan(events)
        except Exception as exc:  # noqa: BLE001 - a detector crash quarantines a document, never the process
            if len(bodies) > 1:  # find the document that fails: one at a time, so its neighbours still pass
                return [self.process_many([b], fmt, scrub=scrub)[0] for b in bodies]
            log.warning("scan failed for %s: %s", bodies[0].origin, type(exc).__name__)
            for body, out, doc in zip(bodies, outcomes, docs):
                if doc is not None:
                    self._fail(out, fmt, body, f"scan error ({type(exc).__name__})")
            return outcomes
        for bad, ei in zip(result.bad, result.bad_events):
            outcomes[owner[ei]].bad.append(bad)
        for f in result.findings:
            outcomes[owner[f.location[0]]].findings.append(f)
        for flag in result.flagged:
            outcomes[owner[flag.index]].flagged.append(flag)
        for body, out, doc in zip(bodies, outcomes, docs):
            if doc is None:
                continue
            if out.bad:
                if scrub:
                    out.reason = out.bad[0].reason
                continue
            if scrub:
                self._scrub(body, out, doc, events, fmt)
        return outcomes

    def _scrub(self, body: Body, out: Outcome, doc: documents.Document, events: list[Event], fmt: str) -> None:
        try:
            with self._lock:
                self.scrubber.apply(events, out.findings)
            out.clean = documents.encode(doc, keep_binary=self.scrubber.config.keep_binary_items)
            out.key, out.headers = documents.meta_out(doc)
        except RedactionError as exc:
            self._fail(out, doc.fmt, body, str(exc))
        except Exception as exc:  # noqa: BLE001 - an encoder crash fails closed
            log.warning("scrub failed for %s: %s", body.origin, type(exc).__name__)
            self._fail(out, doc.fmt, body, f"scrub error ({type(exc).__name__})")

    @staticmethod
    def _fail(out: Outcome, fmt: str, body: Body, reason: str) -> None:
        out.clean = None
        out.reason = reason
        out.bad = [*out.bad, BadRecord(fmt, body.origin, reason, len(body.data or b""))]

    # -- recording ------------------------------------------------------------------------
    def record(self, done: Recorded, batch_key: str) -> None:
        """Findings, flagged events, errors and coverage of one batch, each part fsynced and renamed."""
        if self.store is None:
            return
        self.store.write_findings(done.findings, batch_key)
        self.store.write_flagged(done.flagged, batch_key)
        self.store.write_errors(done.bad, batch_key)
        self.store.write_coverage(dict(coverage(done.events) + done.covered), batch_key)

    def warm(self, model: bool = True) -> None:
        """Load what loads lazily now (patterns, word lists and, with `model`, the spaCy model): services
        answer their first request at full speed, and forked workers share one copy. A batch scan loads
        the model only where a text needs NER (`model=False` before forking: each worker then loads it
        itself if its texts need it, in parallel, instead of the parent for all of them before they start)."""
        self.engine.analyzer.prepare()
        if model:
            self.engine.analyzer.load_model()

    def refresh_catalog(self) -> Path | None:
        if self.store is None:
            return None
        from pipeline.storage import catalog

        return catalog.refresh(self.store.root)


def coverage(events: Sequence[Event]) -> Counter:
    """Events scanned per (source, project, UTC day)."""
    now = datetime.now(timezone.utc)
    counts: Counter = Counter()
    for ev in events:
        if not ev.wrapper:
            counts[(ev.source, ev.project, utc_day(ev.timestamp, now))] += 1
    return counts


MIN_KEY_BYTES = 16


def fingerprint_key(config: Config, out_dir: Path | None) -> bytes:
    """The HMAC key: `PHISCAN_FINGERPRINT_KEY`, `fingerprint.key`, else a 0600 key file in `out_dir`.

    With no key and no output directory (a scrub that records nothing), a random key for
    this process only: fingerprints and `hash` values are then not comparable across runs,
    which is said once. The key file never goes next to clean output.
    """
    try:
        key = resolve_key(config.fingerprint.key, out_dir)
    except ValueError:
        log.warning("no fingerprint key and no output directory: using a key for this run only "
                    "(set PHISCAN_FINGERPRINT_KEY so hashes and fingerprints join across runs)")
        return secrets.token_hex(32).encode()
    if len(key) < MIN_KEY_BYTES:
        raise ConfigError(f"fingerprint key: at least {MIN_KEY_BYTES} bytes are needed (PHISCAN_FINGERPRINT_KEY "
                          "or fingerprint.key); a short key makes fingerprints guessable")
    return key


def build(config: Config | None = None, *, out_dir: str | Path | None = None,
          engine: ScanEngine | None = None) -> Runtime:
    """The runtime a config describes. Raises ConfigError (exit 2 at the CLI) for a bad key."""
    config = config or Config()
    out = Path(out_dir) if out_dir else None
    jsonlogs.configure(config.formats.jsonlogs.message_keys, config.formats.jsonlogs.time_keys)
    key = fingerprint_key(config, out)
    engine = engine or ScanEngine(config, Fingerprinter(key))
    tune_gc()
    return Runtime(config, engine, Scrubber(config.scrub, key), ParquetStore(out) if out else None)
