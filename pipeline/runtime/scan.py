"""Batch scans: files in, findings in Parquet + DuckDB out. The Python API under `phiscan scan`.

    from pipeline.runtime.scan import scan_paths
    summary = scan_paths(["logs/"], out_dir="out", workers=2)

Input is cut into units: whole files, and for large uncompressed line files,
byte ranges cut at line ends (`unit_size`: 1 to 4 MB, at least 16 per file where they fit). Units are the same whatever the
number of workers, and each unit is written under keys derived from the file, the
range and a part number, so one worker and N workers write the same findings, and
re-running a scan rewrites the same parts instead of adding copies. A unit is
written as one part per (source, day), not one per batch: a million events made
36,000 small files before, which the analysts' queries (and the scan's own count
at its end) paid for in time and memory.
"""

from __future__ import annotations

import hashlib
import logging
import multiprocessing
import os
import tempfile
import time
from collections import Counter
from datetime import datetime, timezone
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import orjson

from connectors.archives import expand_zip, is_archive, remove_spool
from connectors.objectstore import fetch, is_remote, list_objects
from connectors.files import GZIP_MAGIC, ZSTD_MAGIC, ByteRange, iter_input_files, split_lines_file
from pipeline.storage.parquet import ParquetStore
from connectors.registry import TEXT_FORMATS, FormatError, read_events, resolve_format
from pipeline.config import Config
from pipeline.engine.scanner import ScanEngine
from pipeline.runtime.build import Recorded, Runtime, build, coverage
from pipeline.storage.catalog import distinct_findings
from pipeline.storage.manifest import write_scan_record
from pipeline.storage.provenance import scan_record
from core.model import BadRecord, Event, Skipped

log = logging.getLogger("phiscan")
UNIT_BYTES = 4 << 20
# A file is cut into at least UNITS_PER_FILE units, none under MIN_UNIT_BYTES (nor over UNIT_BYTES):
# a 35 MB file in 4 MB units gave 9 units, 5 to one of 2 workers and 4 to the other (1.75x at
# best); sized by the file alone, so a re-scan of a file always plans the same units, whatever
# the worker count or the other inputs
UNITS_PER_FILE = 16
MIN_UNIT_BYTES = 1 << 20
# Findings a unit holds before it writes a part: a unit of UNIT_BYTES rarely reaches it, and a
# unit dense with findings is written in several parts instead of held whole.
PART_FINDINGS = 50_000


@dataclass
class ScanSummary:
    files: int = 0
    bytes: int = 0  # input bytes on disk covered so far
    new_findings: int | None = 0  # distinct findings this scan added to the output (a re-scan adds none); None: not counted
    events: int = 0
    findings: int = 0
    phi_events: int = 0
    errors: int = 0
    skipped: int = 0
    seconds: float = 0.0
    by_entity: Counter = field(default_factory=Counter)
    by_source: Counter = field(default_factory=Counter)
    error_reasons: Counter = field(default_factory=Counter)
    skip_reasons: Counter = field(default_factory=Counter)
    skipped_files: Counter = field(default_factory=Counter)  # files the walk left out, by reason
    formats: Counter = field(default_factory=Counter)
    db_path: Path | None = None

    @property
    def events_per_second(self) -> float:
        return self.events / self.seconds if self.seconds > 0 else 0.0

    def add(self, other: ScanSummary) -> None:
        self.files += other.files  # planning counts these; a unit planned on a worker (distributed) sends them
        self.formats.update(other.formats)
        self.skipped_files.update(other.skipped_files)
        self.bytes += other.bytes
        self.events += other.events
        self.findings += other.findings
        self.phi_events += other.phi_events
        self.skipped += other.skipped
        self.skip_reasons.update(other.skip_reasons)
        self.errors += other.errors
        self.by_entity.update(other.by_entity)
        self.by_source.update(other.by_source)
        self.error_reasons.update(other.error_reasons)


@dataclass(frozen=True)
class Unit:
    """One piece of scan work: a file (or a byte range of it) in a known format."""

    path: Path
    fmt: str
    byte_range: ByteRange | None = None

    @property
    def size(self) -> int:
        """Bytes of input this unit covers (on disk), for progress."""
        if self.byte_range is not None:
            return self.byte_range.end - self.byte_range.start
        return _size(self.path)

    @property
    def key(self) -> str:
        start = self.byte_range.start if self.byte_range else 0
        return hashlib.sha256(f"{self.path}\x1f{start}".encode()).hexdigest()[:20]


def build_engine(config: Config, out_dir: str | Path | None) -> ScanEngine:
    """The engine of the runtime a config describes (for benchmarks and tools that drive it directly)."""
    return build(config, out_dir=out_dir).engine


def _batches(items: Iterable[Event | BadRecord | Skipped], size: int
             ) -> Iterator[tuple[list[Event], list[BadRecord], list[Skipped]]]:
    events: list[Event] = []
    bad: list[BadRecord] = []
    skipped: list[Skipped] = []
    for item in items:
        if isinstance(item, Event):
            events.append(item)
        elif isinstance(item, BadRecord):
            bad.append(item)
        else:
            skipped.append(item)
        if len(events) >= size:
            yield events, bad, skipped
            events, bad, skipped = [], [], []
    if events or bad or skipped:
        yield events, bad, skipped


def _splittable(path: Path, fmt: str) -> bool:
    """Uncompressed, one record per line: safe to cut at line ends."""
    with open(path, "rb") as fh:
        head = fh.read(4)
        if head.startswith(GZIP_MAGIC) or head.startswith(ZSTD_MAGIC):
            return False
        if fmt in TEXT_FORMATS:
            return True
        fh.seek(0)
        first = fh.readline(1 << 20).strip()
    if not first.startswith(b"{"):
        return False
    try:
        return isinstance(orjson.loads(first), dict)
    except orjson.JSONDecodeError:
        return False


def plan_units(paths: Sequence[str | Path], fmt: str, summary: ScanSummary, store: ParquetStore,
               unit_bytes: int = UNIT_BYTES, max_record_bytes: int = 1 << 20, spool: Path | None = None,
               deferred: list[str] | None = None) -> list[Unit]:
    """The units of a scan. Files no connector recognises are recorded as errors (auto) or raise.

    Object-store URLs and `.zip` archives are spooled into `spool` (see `input_files`).
    With `deferred`, they are not read here: each object (listed, not fetched) and each
    archive is appended to it by name, for a worker to fetch or expand and plan itself
    (`pipeline.runtime.distributed`); it then gets the units this function would give.
    """
    units: list[Unit] = []
    for path in input_files(paths, spool, store, summary, deferred):
        summary.files += 1
        try:
            concrete = resolve_format(path, fmt, max_record_bytes)
        except FormatError as exc:
            if fmt != "auto":
                raise
            log.warning("%s", exc)
            _input_error(store, summary, BadRecord("unknown", str(path), exc.reason, _size(path)), "-format")
            continue
        except OSError as exc:
            units.append(Unit(path, fmt if fmt != "auto" else "vercel"))  # the reader reports it
            log.debug("%s: %s", path, exc)
            continue
        summary.formats[concrete] += 1
        size = path.stat().st_size
        cut = unit_size(size, unit_bytes)
        if size > cut and _splittable(path, concrete):
            units.extend(Unit(path, concrete, r) for r in split_lines_file(path, cut))
        else:
            units.append(Unit(path, concrete))
    return units


def unit_size(file_bytes: int, unit_bytes: int = UNIT_BYTES) -> int:
    """The bytes per unit of a file of `file_bytes`: `unit_bytes` at most, a sixteenth of the file where
    that is smaller, but not under MIN_UNIT_BYTES (unless `unit_bytes` itself is)."""
    return min(unit_bytes, max(MIN_UNIT_BYTES, file_bytes // UNITS_PER_FILE))


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def _skipped(summary: ScanSummary, path: Path, reason: str) -> None:
    """A file the walk left out on purpose: counted by reason and said at `--explain` (-v) level."""
    summary.skipped_files[reason] += 1
    log.info("%s: skipped (%s)", path, reason)


def _input_error(store: ParquetStore, summary: ScanSummary, bad: BadRecord, suffix: str) -> None:
    store.write_errors([bad], Unit(Path(bad.origin), "unknown").key + suffix)
    summary.errors += 1
    summary.error_reasons[bad.reason] += 1


def input_files(paths: Sequence[str | Path], spool: Path | None, store: ParquetStore,
                summary: ScanSummary, deferred: list[str] | None = None) -> Iterator[Path]:
    """Every file a scan reads: local files and directories walked, objects under URLs, members of zips.

    Objects and members are spooled copies named where they live (`s3://b/k`,
    `a.zip!member`); what cannot be listed or read is recorded as an error.
    With `deferred`, objects are only listed and archives not opened: their names go there.
    """
    def local_or_remote() -> Iterator[Path]:
        for p in paths:
            if not is_remote(p):
                yield from iter_input_files([p], on_skip=lambda path, why: _skipped(summary, path, why))
                continue
            if deferred is not None:
                for item in list_objects(str(p)):
                    if isinstance(item, BadRecord):
                        _input_error(store, summary, item, "-fetch")
                    else:
                        deferred.append(item)
                continue
            if spool is None:
                raise ValueError("object-store inputs need a spool directory")
            for item in fetch(str(p), spool):
                if isinstance(item, BadRecord):
                    _input_error(store, summary, item, "-fetch")
                else:
                    yield item

    for path in local_or_remote():
        if not is_archive(path):
            yield path
            continue
        if deferred is not None:
            deferred.append(str(path))
            continue
        if spool is None:
            raise ValueError("archive inputs need a spool directory")
        for item in expand_zip(path, spool):
            if isinstance(item, BadRecord):
                _input_error(store, summary, item, "-archive")
            else:
                yield item


def scan_unit(unit: Unit, runtime: Runtime, on_progress: Callable[[int, int], None] | None = None) -> ScanSummary:
    """Scan one unit and record its findings, flagged events, bad records and coverage.

    What the batches find is held and written when the unit ends (or every PART_FINDINGS
    findings), under `<unit key>-<part number>`: the parts depend on the input only.
    """
    config = runtime.config
    part = ScanSummary()
    pending, written = Recorded(), 0

    def write() -> None:
        nonlocal pending, written
        runtime.record(pending, f"{unit.key}-{written:06d}")
        pending, written = Recorded(), written + 1

    records = read_events(unit.path, unit.fmt, max_record_bytes=config.limits.max_record_bytes,
                          byte_range=unit.byte_range, checked=True)
    for events, bad, skipped in _batches(records, config.scan.batch_size):
        part.skipped += len(skipped)
        part.skip_reasons.update(s.reason for s in skipped)
        result = runtime.scan(events)
        counted = [e for e in events if not e.wrapper]
        done = Recorded(result.findings, result.flagged, bad + result.bad, skipped)
        pending.extend(done)
        pending.covered.update(coverage(counted))  # counts, not the events: a unit's payloads are not held
        part.events += len(counted)
        part.findings += len(result.findings)
        part.phi_events += sum(1 for f in result.flagged if f.phi)
        part.errors += len(done.bad)
        part.by_entity.update(f.entity_type for f in result.findings)
        part.by_source.update(f.source for f in result.findings)
        part.error_reasons.update(b.reason for b in done.bad)
        if len(pending.findings) >= PART_FINDINGS:
            write()
        if on_progress:
            on_progress(0, len(counted))
    write()
    part.bytes = unit.size
    if on_progress:
        on_progress(unit.size, 0)
    return part


def spool_stream(path: str | Path, out_dir: Path) -> Path:
    """`-` (standard input), a pipe or a device as a regular file the readers can sniff and re-read.

    It is kept under `DIR/.stdin/` named by a digest of its content, so scanning the same
    input again gives the same event ids (no duplicate findings) and different input
    never shares them.
    """
    p = Path(path)
    if str(path) != "-" and (not p.exists() or p.is_file() or p.is_dir()):
        return p
    import sys
    import tempfile

    spool = out_dir / ".stdin"
    spool.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256()
    with (sys.stdin.buffer if str(path) == "-" else open(p, "rb")) as src, \
            tempfile.NamedTemporaryFile(dir=spool, delete=False, prefix=".part-") as tmp:
        for chunk in iter(lambda: src.read(1 << 20), b""):
            digest.update(chunk)
            tmp.write(chunk)
    target = spool / f"stdin-{digest.hexdigest()[:16]}"
    os.replace(tmp.name, target)
    return target


# -- where units run: here (one process, or a fork pool), or elsewhere (pipeline.runtime.distributed) --
class Executor(Protocol):
    """Runs a scan's units and yields one summary per unit, after its batches were recorded in `runtime.store`.

    `defers`: plan object-store objects and archives as names (`deferred`) for the executor's
    workers to fetch or expand and plan themselves, instead of spooling them here.
    Executors report progress (`on_progress(bytes, events)`) themselves.
    """

    defers: bool

    def run(self, units: Sequence[Unit], deferred: Sequence[str], runtime: Runtime,
            on_progress: Callable[[int, int], None] | None) -> Iterator[ScanSummary]: ...


# workers: forked after the engine is built, so the loaded model is shared copy-on-write
_WORKER: dict = {}


def _work(unit: Unit) -> ScanSummary:
    return scan_unit(unit, _WORKER["runtime"])


@dataclass
class LocalExecutor:
    """This process, or `workers` processes forked from it (the engine is shared copy-on-write)."""

    workers: int = 1
    defers = False

    def run(self, units: Sequence[Unit], deferred: Sequence[str], runtime: Runtime,
            on_progress: Callable[[int, int], None] | None) -> Iterator[ScanSummary]:
        if deferred:
            raise ValueError("the local executor spools objects and archives while planning")
        # patterns and word lists before the first unit: one worker pays for them before its first
        # batch rather than inside it (0.2 s: a tenth of a 10,000-event scan, so its events/s moved
        # with the input's size), and forked workers share one copy
        runtime.warm(model=False)
        if self.workers <= 1 or len(units) <= 1:
            for unit in units:
                yield scan_unit(unit, runtime, on_progress)
            return
        _WORKER.update(runtime=runtime)
        try:
            ctx = multiprocessing.get_context("fork")
            with ctx.Pool(min(self.workers, len(units))) as pool:
                for part in pool.imap_unordered(_work, units):
                    if on_progress:
                        on_progress(part.bytes, part.events)
                    yield part
        finally:
            _WORKER.clear()


def default_workers() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def scan_paths(
    paths: Sequence[str | Path],
    out_dir: str | Path,
    *,
    fmt: str = "auto",
    config: Config | None = None,
    engine: ScanEngine | None = None,
    workers: int = 1,
    explain: bool = False,
    on_progress: Callable[[int, int], None] | None = None,
    runtime: Runtime | None = None,
    unit_bytes: int = UNIT_BYTES,
    executor: Executor | None = None,
) -> ScanSummary:
    """Scan files and directories into `out_dir`; returns what was scanned and found.

    `executor` runs the units (default: `LocalExecutor(workers)`; a Dask cluster:
    `pipeline.runtime.distributed.scan_paths_dask`). Planning, the summary, the catalog
    refresh and the scan record are the same whichever runs them.
    Raises FormatError when `fmt` is explicit and a file is not in that format.
    """
    config = config or Config()
    out = Path(out_dir)
    runtime = runtime or build(config, out_dir=out, engine=engine)
    executor = executor or LocalExecutor(workers)
    started_at = datetime.now(timezone.utc)
    summary = ScanSummary()
    out.mkdir(parents=True, exist_ok=True)
    spool = Path(tempfile.mkdtemp(prefix=".spool-", dir=out))  # 0700: archive members and objects, removed below
    try:
        return _scan_inputs(paths, out, fmt, config, runtime, summary, started_at, spool, executor, explain,
                            on_progress, unit_bytes)
    finally:
        remove_spool(spool)


def _scan_inputs(paths, out: Path, fmt: str, config: Config, runtime: Runtime, summary: ScanSummary,
                 started_at: datetime, spool: Path, executor: Executor, explain: bool,
                 on_progress: Callable[[int, int], None] | None, unit_bytes: int) -> ScanSummary:
    store = runtime.store
    known = distinct_findings(out)  # findings already recorded here: a re-scan says none of its own are new
    paths = [p if is_remote(p) else spool_stream(p, out) for p in paths]
    started = time.perf_counter()
    deferred: list[str] | None = [] if executor.defers else None
    units = plan_units(paths, fmt, summary, store, unit_bytes, config.limits.max_record_bytes, spool, deferred)
    if explain:
        for unit in units:
            if unit.byte_range is None or unit.byte_range.start == 0:
                log.info("%s: format %s%s", unit.path, unit.fmt, " (detected)" if fmt == "auto" else "")
        for name in deferred or ():
            log.info("%s: fetched or expanded, and planned, by a worker", name)
    for part in executor.run(units, deferred or [], runtime, on_progress):
        summary.add(part)
    summary.seconds = time.perf_counter() - started
    summary.db_path = runtime.refresh_catalog()
    after = distinct_findings(out)
    summary.new_findings = None if after is None or known is None else after - known
    write_scan_record(out, scan_record(config, summary, started_at))  # provenance for reports: names, hashes, counts
    return summary
