"""Batch scans: files in, findings in Parquet + DuckDB out. The Python API under `phiscan scan`.

    from pipeline.scan import scan_paths
    summary = scan_paths(["logs/"], out_dir="out")

Work goes file by file in bounded batches; each batch's findings, bad records
and coverage are written under a key derived from the file and batch number,
so re-running the same scan rewrites the same parts rather than adding copies.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from pathlib import Path

from connectors import duckdb as catalog
from connectors.parquet import ParquetStore
from connectors.registry import FormatError, read_events
from connectors.files import iter_input_files
from pipeline.config import Config
from pipeline.engine import ScanEngine
from pipeline.fingerprint import Fingerprinter, resolve_key
from pipeline.model import BadRecord, Event

log = logging.getLogger("phiscan")


@dataclass
class ScanSummary:
    files: int = 0
    events: int = 0
    findings: int = 0
    errors: int = 0
    seconds: float = 0.0
    by_entity: Counter = field(default_factory=Counter)
    by_source: Counter = field(default_factory=Counter)
    error_reasons: Counter = field(default_factory=Counter)
    db_path: Path | None = None

    @property
    def events_per_second(self) -> float:
        return self.events / self.seconds if self.seconds > 0 else 0.0


def build_engine(config: Config, out_dir: str | Path | None) -> ScanEngine:
    """The runtime engine a config describes: fingerprint key resolved, model loaded once."""
    key = resolve_key(config.fingerprint.key, Path(out_dir) if out_dir else None)
    return ScanEngine(config, Fingerprinter(key))


def _batches(items: Iterable[Event | BadRecord], size: int) -> Iterator[tuple[list[Event], list[BadRecord]]]:
    events: list[Event] = []
    bad: list[BadRecord] = []
    for item in items:
        if isinstance(item, BadRecord):
            bad.append(item)
        else:
            events.append(item)
        if len(events) >= size:
            yield events, bad
            events, bad = [], []
    if events or bad:
        yield events, bad


def batch_key(path: Path, index: int) -> str:
    return hashlib.sha256(f"{path}\x1f{index}".encode()).hexdigest()[:24]


def scan_paths(
    paths: Sequence[str | Path],
    out_dir: str | Path,
    *,
    fmt: str = "auto",
    config: Config | None = None,
    engine: ScanEngine | None = None,
    explain: bool = False,
    on_file: Callable[[Path, int], None] | None = None,
) -> ScanSummary:
    """Scan files and directories into `out_dir`; returns what was scanned and found.

    Raises FormatError when `fmt` is explicit and a file is not in that format.
    """
    config = config or Config()
    out = Path(out_dir)
    engine = engine or build_engine(config, out)
    store = ParquetStore(out)
    summary = ScanSummary()
    started = time.perf_counter()
    for path in iter_input_files(paths):
        summary.files += 1
        coverage: Counter[tuple[str, str | None, date]] = Counter()
        records = read_events(path, fmt, max_record_bytes=config.limits.max_record_bytes, explain=explain)
        try:
            for index, (events, bad) in enumerate(_batches(records, config.scan.batch_size)):
                result = engine.scan(events)
                bad = bad + result.bad
                key = batch_key(path, index)
                store.write_findings(result.findings, key)
                store.write_errors(bad, key)
                for ev in events:
                    day = (ev.timestamp or datetime.now(timezone.utc)).astimezone(timezone.utc).date()
                    coverage[(ev.source, ev.project, day)] += 1
                summary.events += len(events)
                summary.findings += len(result.findings)
                summary.errors += len(bad)
                summary.by_entity.update(f.entity_type for f in result.findings)
                summary.by_source.update(f.source for f in result.findings)
                summary.error_reasons.update(b.reason for b in bad)
                if on_file:
                    on_file(path, len(events))
        except FormatError as exc:
            if fmt != "auto":
                raise
            log.warning("%s", exc)
            store.write_errors([BadRecord("unknown", str(path), "unrecognised format", 0)], batch_key(path, -1))
            summary.errors += 1
            summary.error_reasons["unrecognised format"] += 1
        store.write_coverage(dict(coverage), batch_key(path, 0))
    summary.seconds = time.perf_counter() - started
    summary.db_path = catalog.refresh(out)
    return summary
