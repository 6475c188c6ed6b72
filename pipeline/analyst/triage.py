"""Triage for analysts: offender queries, the baseline, new offenders and retention (purge).

Suppressed findings stay in the database, flagged with the reason; nothing is
dropped. Filters are checked against what the data holds, so a typo
(`--source vercell`) is an error that lists the valid values instead of an
empty table that looks like a clean bill of health.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from core.model import ENTITY_TYPES
from pipeline.analyst import policy
from pipeline.storage.catalog import SECRET_TYPES, SEVERITY_NAME_SQL, SEVERITY_SQL

SEVERITIES = ("low", "medium", "high", "critical")
# Within one severity, secrets first: a live key outranks a client IP however often the IP shows up.
TYPE_PRIORITY_SQL = f"max(CASE WHEN entity_type IN ({', '.join(repr(s) for s in SECRET_TYPES)}) THEN 1 ELSE 0 END)"


class TriageError(ValueError):
    """A filter or an argument names something that does not exist; the message lists what does."""


@dataclass
class Offenders:
    columns: list[str]
    rows: list[tuple]
    total: int  # offenders matching the filters, before --limit
    notes: list[str] = field(default_factory=list)


def _check_filter(con, column: str, value: str | None) -> None:
    if value is None:
        return
    if column == "entity_type":
        valid = list(ENTITY_TYPES)
    else:
        valid = [r[0] for r in con.execute(f"SELECT DISTINCT {column} FROM findings WHERE {column} IS NOT NULL "
                                           f"ORDER BY 1").fetchall()]
    if value not in valid:
        shown = ", ".join(valid) if valid else "none (no findings yet)"
        raise TriageError(f"unknown {column.replace('_type', '')} {value!r}; valid: {shown}")


def top_offenders(out_dir: Path, *, source: str | None = None, project: str | None = None,
                  since: date | None = None, entity: str | None = None, severity: str | None = None,
                  include_suppressed: bool = False, limit: int = 25,
                  files: policy.PolicyFiles | None = None) -> Offenders:
    """Offenders (with the field keys seen) filtered like the CLI flags, worst first; secrets lead a severity."""
    files = files or policy.resolve(out_dir)
    if severity is not None and severity not in SEVERITIES:
        raise TriageError(f"unknown severity {severity!r}; valid: {', '.join(SEVERITIES)}")
    where, params = ["true"], []
    for col, val in (("source", source), ("project", project), ("entity_type", entity)):
        if val:
            where.append(f"{col} = ?")
            params.append(val)
    if since:
        where.append("coalesce(event_time, scanned_at) >= ?")
        params.append(since)
    if not include_suppressed:
        where.append("NOT suppressed")
    rank = SEVERITY_SQL.format(c="severity")
    having = f"HAVING max({rank}) >= {SEVERITY_SQL.format(c='?')}" if severity else ""
    if severity:
        params.append(severity)
    grouped = (f"SELECT source, project, route, field_path, entity_type, count(*) AS findings, "
               f"count(DISTINCT fingerprint) AS distinct_values, min(event_time) AS first_seen, "
               f"max(event_time) AS last_seen, {SEVERITY_NAME_SQL.format(rank=f'max({rank})')} AS max_severity, "
               f"list(DISTINCT field_key) FILTER (WHERE field_key IS NOT NULL) AS field_keys, "
               f"max({rank}) AS _rank, {TYPE_PRIORITY_SQL} AS _secret "
               f"FROM findings WHERE {' AND '.join(where)} GROUP BY ALL {having}")
    con = policy.connect(out_dir, files)
    try:
        for col, val in (("source", source), ("project", project), ("entity_type", entity)):
            _check_filter(con, col, val)
        total = con.execute(f"SELECT count(*) FROM ({grouped})", params).fetchall()[0][0]
        cur = con.execute(f"SELECT * EXCLUDE (_rank, _secret) FROM ({grouped}) "
                          f"ORDER BY _rank DESC, _secret DESC, findings DESC, source, route, field_path, entity_type "
                          f"LIMIT {int(limit)}", params)
        return Offenders([d[0] for d in cur.description], cur.fetchall(), total, files.notes())
    finally:
        con.close()


def take_baseline(out_dir: Path, files: policy.PolicyFiles) -> int:
    """Snapshot today's offenders as accepted: later only new ones fail `--fail-on-new`."""
    from pipeline.analyst.policy import OFFENDER_KEY

    con = policy.connect(out_dir, files)
    try:
        rows = con.execute(f"SELECT {', '.join(OFFENDER_KEY)}, findings FROM offenders ORDER BY 1, 2, 3, 4, 5"
                           ).fetchall()
    finally:
        con.close()
    policy.save_baseline(files.baseline, [dict(zip((*OFFENDER_KEY, "findings"), r)) for r in rows])
    policy.connect(out_dir, files).close()  # reload the tables so the views see the new baseline
    return len(rows)


NEW_OFFENDERS_SQL = ("SELECT source, coalesce(route, '-') AS route, field_path, entity_type, findings, max_severity "
                     f"FROM new_findings WHERE NOT suppressed ORDER BY {SEVERITY_SQL.format(c='max_severity')} DESC, "
                     "findings DESC, source, route, field_path")


def new_offenders(out_dir: Path, suppressions: Path | None = None, baseline: Path | None = None
                  ) -> tuple[list[tuple], list[str]]:
    """Unsuppressed offenders not in the baseline (source, route, field path, entity, findings, severity),
    worst first, and the notes on absent policy files (`scan --fail-on-new` lists both)."""
    files = policy.resolve(Path(out_dir), suppressions, baseline)
    con = policy.connect(Path(out_dir), files)
    try:
        return con.execute(NEW_OFFENDERS_SQL).fetchall(), files.notes()
    finally:
        con.close()


def count_new(out_dir: Path, suppressions: Path | None = None, baseline: Path | None = None) -> int:
    return len(new_offenders(out_dir, suppressions, baseline)[0])


@dataclass
class PurgePlan:
    """What `purge` deletes: the day partitions older than the cut-off, per kind of data."""

    before: date
    partitions: dict[str, list[Path]]

    @property
    def days(self) -> list[date]:
        return sorted({date.fromisoformat(p.name.split("=", 1)[1]) for ps in self.partitions.values() for p in ps})

    def describe(self) -> str:
        if not self.days:
            return f"nothing older than {self.before.isoformat()}"
        kinds = ", ".join(f"{k} {len(v)} partition(s)" for k, v in self.partitions.items() if v)
        return (f"{len(self.days)} day(s) from {self.days[0].isoformat()} to {self.days[-1].isoformat()} "
                f"({kinds})")


def plan_purge(out_dir: Path, before: date) -> PurgePlan:
    """Every date partition older than `before` (findings, events, errors, coverage); nothing is deleted."""
    parts: dict[str, list[Path]] = {}
    for kind in ("findings", "events", "errors", "coverage"):
        base = Path(out_dir) / kind
        found = []
        for part in sorted(base.rglob("date=*")) if base.exists() else []:
            try:
                day = date.fromisoformat(part.name.split("=", 1)[1])
            except ValueError:
                continue
            if part.is_dir() and day < before:
                found.append(part)
        parts[kind] = found
    return PurgePlan(before, parts)


def purge(out_dir: Path, plan: PurgePlan) -> None:
    """Delete the partitions of `plan` and refresh the views."""
    import shutil

    from pipeline.storage import catalog

    for parts in plan.partitions.values():
        for part in parts:
            shutil.rmtree(part)
    catalog.refresh(out_dir)


def suppression_matches(out_dir: Path, item: policy.Suppression) -> int:
    """How many findings in DIR a suppression would match (0: probably a typo in its scope)."""
    where, params = ["entity_type = ?", "regexp_full_match(field_path, ?)"], [item.entity_type,
                                                                             policy.glob_regex(item.field_path)]
    for col, val in (("fingerprint", item.fingerprint), ("source", item.source)):
        if val:
            where.append(f"{col} = ?")
            params.append(val)
    if item.route:
        where.append("regexp_full_match(coalesce(route, ''), ?)")
        params.append(policy.glob_regex(item.route))
    con = policy.connect(out_dir)
    try:
        return con.execute(f"SELECT count(*) FROM findings WHERE {' AND '.join(where)}", params).fetchall()[0][0]
    finally:
        con.close()
