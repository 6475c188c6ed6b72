"""Findings, bad records and coverage as Parquet under an output directory.

Layout:
  DIR/findings/source=<source>/date=<YYYY-MM-DD>/part-<key>.parquet
  DIR/errors/date=<YYYY-MM-DD>/part-<key>.parquet
  DIR/coverage/date=<YYYY-MM-DD>/part-<key>.parquet

`key` names the input batch (for a file scan: the file and batch number), so a
re-scan of the same input rewrites the same files instead of adding copies, and
the DuckDB views dedupe by `finding_id` for everything else (replays with other
batch boundaries). Every file is written to a temporary name, fsynced and
renamed: a reader never sees half a file, and a crash leaves no torn part.
"""

from __future__ import annotations

import os
import uuid
from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import date, datetime, timezone
from operator import attrgetter
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from core.model import BadRecord, Finding, FlaggedEvent

TS = pa.timestamp("us", tz="UTC")

FINDINGS_SCHEMA = pa.schema([
    ("finding_id", pa.string()), ("event_id", pa.string()), ("source", pa.string()), ("origin", pa.string()),
    ("event_time", TS), ("project", pa.string()), ("route", pa.string()), ("field_path", pa.string()),
    ("start", pa.int64()), ("end", pa.int64()), ("entity_type", pa.string()), ("score", pa.float64()),
    ("detector", pa.string()), ("fingerprint", pa.string()), ("preview", pa.string()), ("scanned_at", TS),
    ("severity", pa.string()), ("field_key", pa.string()),
])
ERRORS_SCHEMA = pa.schema([
    ("source", pa.string()), ("origin", pa.string()), ("reason", pa.string()), ("size", pa.int64()),
    ("seen_at", TS),
])
FLAGGED_SCHEMA = pa.schema([
    ("event_id", pa.string()), ("source", pa.string()), ("origin", pa.string()), ("event_time", TS),
    ("project", pa.string()), ("route", pa.string()), ("entity_types", pa.list_(pa.string())),
    ("phi", pa.bool_()), ("severity", pa.string()), ("reason", pa.string()), ("findings", pa.int64()),
    ("scanned_at", TS),
])
COVERAGE_SCHEMA = pa.schema([
    ("batch", pa.string()), ("source", pa.string()), ("project", pa.string()), ("day", pa.date32()),
    ("events", pa.int64()), ("recorded_at", TS),
])


def utc_day(ts: datetime | None, fallback: datetime | None = None) -> date:
    """The UTC day partition of a timestamp; one that cannot be placed (year 1 in another zone,
    naive values) falls back to the scan's day instead of failing the write."""
    fallback = fallback or datetime.now(timezone.utc)
    for candidate in (ts, fallback):
        if candidate is None:
            continue
        try:
            return candidate.astimezone(timezone.utc).date()
        except (OverflowError, ValueError, OSError):
            continue
    return datetime.now(timezone.utc).date()


def _day(ts: datetime | None, fallback: datetime) -> str:
    return utc_day(ts, fallback).isoformat()


def _safe(part: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in part) or "unknown"


def _columns(rows: Sequence, names: Sequence[str]) -> dict[str, list]:
    """Column lists of `names` from row objects: one attrgetter call a row, not one getattr a cell."""
    if not rows:
        return {name: [] for name in names}
    get = attrgetter(*names)
    cells = map(get, rows) if len(names) > 1 else ((get(r),) for r in rows)
    return dict(zip(names, map(list, zip(*cells))))


def write_atomic(table: pa.Table, path: Path) -> None:
    """Write `table` to `path` so that it appears whole or not at all, durably."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    pq.write_table(table, tmp, compression="zstd")
    fd = os.open(tmp, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)
    dfd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dfd)
    finally:
        os.close(dfd)


class ParquetStore:
    """Writes findings, bad records and coverage of one output directory."""

    def __init__(self, out_dir: str | Path):
        self.root = Path(out_dir)

    def write_findings(self, findings: Sequence[Finding], key: str) -> int:
        now = datetime.now(timezone.utc)
        groups: dict[tuple[str, str], list[Finding]] = defaultdict(list)
        for f in findings:
            groups[(f.source, _day(f.event_time, f.scanned_at or now))].append(f)
        for (source, day), rows in groups.items():
            table = pa.table(_columns(rows, FINDINGS_SCHEMA.names), schema=FINDINGS_SCHEMA)
            write_atomic(table, self.root / "findings" / f"source={_safe(source)}" / f"date={day}" / f"part-{key}.parquet")
        return len(findings)

    def write_flagged(self, flagged: Sequence[FlaggedEvent], key: str) -> int:
        """The event-level verdicts: `DIR/events/source=<source>/date=<day>/part-<key>.parquet`."""
        groups: dict[tuple[str, str], list[FlaggedEvent]] = defaultdict(list)
        for ev in flagged:
            groups[(ev.source, _day(ev.event_time, ev.scanned_at))].append(ev)
        for (source, day), rows in groups.items():
            cols = _columns(rows, FLAGGED_SCHEMA.names)
            cols["entity_types"] = [list(r.entity_types) for r in rows]
            write_atomic(pa.table(cols, schema=FLAGGED_SCHEMA),
                         self.root / "events" / f"source={_safe(source)}" / f"date={day}" / f"part-{key}.parquet")
        return len(flagged)

    def write_errors(self, bad: Sequence[BadRecord], key: str) -> int:
        groups: dict[str, list[BadRecord]] = defaultdict(list)
        for b in bad:
            groups[_day(b.seen_at, b.seen_at)].append(b)
        for day, rows in groups.items():
            cols = {name: [getattr(b, name) for b in rows] for name in ERRORS_SCHEMA.names}
            write_atomic(pa.table(cols, schema=ERRORS_SCHEMA), self.root / "errors" / f"date={day}" / f"part-{key}.parquet")
        return len(bad)

    def write_coverage(self, counts: dict[tuple[str, str | None, date], int], key: str) -> None:
        """Events scanned per (source, project, day): "no findings" is evidence, not silence."""
        if not counts:
            return
        now = datetime.now(timezone.utc)
        by_day: dict[date, list[tuple[str, str | None, int]]] = defaultdict(list)
        for (source, project, day), n in counts.items():
            by_day[day].append((source, project, n))
        for day, rows in by_day.items():
            table = pa.table({
                "batch": [key] * len(rows), "source": [r[0] for r in rows], "project": [r[1] for r in rows],
                "day": [day] * len(rows), "events": [r[2] for r in rows], "recorded_at": [now] * len(rows),
            }, schema=COVERAGE_SCHEMA)
            write_atomic(table, self.root / "coverage" / f"date={day.isoformat()}" / f"part-{key}.parquet")


def parquet_files(root: Path, kind: str) -> Iterable[Path]:
    base = root / kind
    return sorted(p for p in base.rglob("*.parquet") if not p.name.startswith(".")) if base.exists() else []
