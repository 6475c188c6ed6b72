"""Triage for analysts: suppressions, baselines, the analyst views, and offender queries.

Suppressions and the baseline are YAML files meant to live in git next to the
code they describe (`config/suppressions.yaml`, `config/baseline.yaml`), so a
false positive or an accepted risk is reviewed like any change. Suppressed
findings stay in the database, flagged with the reason; nothing is dropped.
"""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from core.model import ENTITY_TYPES

DEFAULT_SUPPRESSIONS = Path("config/suppressions.yaml")
DEFAULT_BASELINE = Path("config/baseline.yaml")
OFFENDER_KEY = ("source", "project", "route", "field_path", "entity_type")


class Suppression(BaseModel):
    """A (field_path, entity_type[, fingerprint]) pattern marked as a false positive or an accepted risk."""

    model_config = ConfigDict(extra="forbid")
    field_path: str = Field(description="glob over field paths; brackets are literal")
    entity_type: str
    fingerprint: str | None = None
    source: str | None = None
    kind: Literal["false_positive", "accepted_risk"]
    reason: str = Field(min_length=3)
    author: str = Field(min_length=1)
    created: date = Field(default_factory=date.today)
    expires: date | None = None

    @field_validator("entity_type")
    @classmethod
    def _entity(cls, v: str) -> str:
        if v not in ENTITY_TYPES:
            raise ValueError(f"unknown entity type {v!r}")
        return v

    def regex(self) -> str:
        return _glob_regex(self.field_path)


def _glob_regex(glob: str) -> str:
    """A field-path glob as a regex: `*` any run, `?` one character, everything else literal."""
    out = []
    for ch in glob:
        out.append(".*" if ch == "*" else "." if ch == "?" else re.escape(ch))
    return "".join(out)


class TriageError(ValueError):
    pass


def load_suppressions(path: Path | None) -> list[Suppression]:
    path = path or DEFAULT_SUPPRESSIONS
    if not path.exists():
        return []
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    try:
        return [Suppression.model_validate(s) for s in (data.get("suppressions") or [])]
    except ValidationError as exc:
        raise TriageError(f"invalid suppressions file {path}: {exc}") from None


def save_suppressions(path: Path, items: list[Suppression]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    body = {"suppressions": [s.model_dump(mode="json", exclude_none=True) for s in items]}
    path.write_text("# phiscan suppressions: review changes like code (phiscan suppress adds entries)\n"
                    + yaml.safe_dump(body, sort_keys=False), encoding="utf-8")


def load_baseline(path: Path | None) -> list[dict[str, Any]]:
    path = path or DEFAULT_BASELINE
    if not path.exists():
        return []
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    return [dict(o) for o in data.get("offenders") or []]


def save_baseline(path: Path, offenders: list[dict[str, Any]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    body = {"created": date.today().isoformat(), "offenders": offenders}
    path.write_text("# phiscan baseline: accepted offenders; only new ones fail `phiscan scan --fail-on-new`\n"
                    + yaml.safe_dump(body, sort_keys=False, default_flow_style=False), encoding="utf-8")


def load_tables(con, suppressions: list[Suppression], baseline: list[dict[str, Any]]) -> None:
    """(Re)create the `suppressions` and `baseline` tables the views read."""
    con.execute("CREATE OR REPLACE TABLE suppressions (field_path VARCHAR, path_regex VARCHAR, entity_type VARCHAR, "
                "fingerprint VARCHAR, source VARCHAR, kind VARCHAR, reason VARCHAR, author VARCHAR, created DATE, "
                "expires DATE)")
    if suppressions:
        con.executemany("INSERT INTO suppressions VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", [
            (s.field_path, _glob_regex(s.field_path), s.entity_type, s.fingerprint, s.source, s.kind, s.reason,
             s.author, s.created, s.expires) for s in suppressions])
    con.execute("CREATE OR REPLACE TABLE baseline (source VARCHAR, project VARCHAR, route VARCHAR, "
                "field_path VARCHAR, entity_type VARCHAR)")
    if baseline:
        con.executemany("INSERT INTO baseline VALUES (?, ?, ?, ?, ?)",
                        [tuple(o.get(k) for k in OFFENDER_KEY) for o in baseline])


SEVERITY_SQL = "CASE {c} WHEN 'critical' THEN 3 WHEN 'high' THEN 2 WHEN 'medium' THEN 1 ELSE 0 END"
PERSON_IDENTIFIERS = ("EMAIL_ADDRESS", "PHONE_NUMBER", "US_SSN", "MEDICAL_RECORD_NUMBER", "HEALTH_PLAN_ID")


def analyst_views(findings_raw: str) -> dict[str, str]:
    """The analyst views over the de-duplicated findings (with suppressions applied)."""
    rank = SEVERITY_SQL.format(c="severity")
    ids = ", ".join(f"'{e}'" for e in PERSON_IDENTIFIERS)
    return {
        "findings": f"""
            SELECT f.*, s.kind IS NOT NULL AS suppressed, s.kind AS suppression_kind, s.reason AS suppression_reason
            FROM ({findings_raw}) f
            LEFT JOIN suppressions s ON f.entity_type = s.entity_type
                 AND regexp_full_match(f.field_path, s.path_regex)
                 AND (s.fingerprint IS NULL OR s.fingerprint = f.fingerprint)
                 AND (s.source IS NULL OR s.source = f.source)
                 AND (s.expires IS NULL OR s.expires >= current_date)
            QUALIFY row_number() OVER (PARTITION BY f.finding_id ORDER BY f.scanned_at, f.origin, s.kind) = 1""",
        "offenders": f"""
            SELECT source, project, route, field_path, entity_type, count(*) AS findings,
                   count(DISTINCT fingerprint) AS distinct_values, min(event_time) AS first_seen,
                   max(event_time) AS last_seen,
                   ['low', 'medium', 'high', 'critical'][max({rank}) + 1] AS max_severity,
                   bool_and(suppressed) AS suppressed
            FROM findings GROUP BY ALL""",
        "daily_trend": """
            SELECT CAST(coalesce(event_time, scanned_at) AS DATE) AS day, source, entity_type, count(*) AS findings,
                   count(*) FILTER (WHERE NOT suppressed) AS unsuppressed
            FROM findings GROUP BY ALL""",
        "affected_individuals": f"""
            SELECT project, CAST(coalesce(event_time, scanned_at) AS DATE) AS day,
                   count(DISTINCT entity_type || ':' || fingerprint) AS individuals,
                   list(DISTINCT source ORDER BY source) AS sources
            FROM findings WHERE entity_type IN ({ids}) AND NOT suppressed GROUP BY ALL""",
        "affected_individuals_total": f"""
            SELECT entity_type, count(DISTINCT fingerprint) AS individuals,
                   count(DISTINCT fingerprint) FILTER (WHERE n_sources > 1) AS seen_in_several_sources,
                   list(DISTINCT src ORDER BY src) AS sources
            FROM (SELECT entity_type, fingerprint, source AS src,
                         count(DISTINCT source) OVER (PARTITION BY entity_type, fingerprint) AS n_sources
                  FROM findings WHERE entity_type IN ({ids}) AND NOT suppressed)
            GROUP BY ALL""",
        "new_findings": """
            SELECT o.* FROM offenders o
            WHERE NOT EXISTS (SELECT 1 FROM baseline b
                              WHERE b.source IS NOT DISTINCT FROM o.source AND b.project IS NOT DISTINCT FROM o.project
                                AND b.route IS NOT DISTINCT FROM o.route AND b.field_path = o.field_path
                                AND b.entity_type = o.entity_type)""",
    }


# -- the Python API under `phiscan triage | suppress | baseline | purge` -------------------
def top_offenders(out_dir: Path, *, source: str | None = None, project: str | None = None,
                  since: date | None = None, entity: str | None = None, severity: str | None = None,
                  include_suppressed: bool = False, limit: int = 25,
                  suppressions: Path | None = None, baseline: Path | None = None) -> tuple[list[str], list[tuple]]:
    """Offenders (with the field keys seen) filtered like the CLI flags, worst first."""
    from pipeline.storage import catalog

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
    sql = (f"SELECT source, project, route, field_path, entity_type, count(*) AS findings, "
           f"count(DISTINCT fingerprint) AS distinct_values, min(event_time) AS first_seen, "
           f"max(event_time) AS last_seen, ['low','medium','high','critical'][max({rank}) + 1] AS max_severity, "
           f"list(DISTINCT field_key) FILTER (WHERE field_key IS NOT NULL) AS field_keys "
           f"FROM findings WHERE {' AND '.join(where)} GROUP BY ALL {having} "
           f"ORDER BY max({rank}) DESC, findings DESC LIMIT {int(limit)}")
    con = catalog.connect(out_dir, suppressions=suppressions, baseline=baseline)
    try:
        cur = con.execute(sql, params)
        return [d[0] for d in cur.description], cur.fetchall()
    finally:
        con.close()


def take_baseline(out_dir: Path, path: Path, suppressions: Path | None = None) -> int:
    """Snapshot today's offenders as accepted: later only new ones fail `--fail-on-new`."""
    from pipeline.storage import catalog

    con = catalog.connect(out_dir, suppressions=suppressions)
    try:
        rows = con.execute(f"SELECT {', '.join(OFFENDER_KEY)}, findings FROM offenders ORDER BY 1, 2, 3, 4, 5").fetchall()
    finally:
        con.close()
    save_baseline(path, [dict(zip((*OFFENDER_KEY, "findings"), r)) for r in rows])
    catalog.refresh(out_dir, suppressions, path)
    return len(rows)


def count_new(out_dir: Path, suppressions: Path | None = None, baseline: Path | None = None) -> int:
    from pipeline.storage import catalog

    con = catalog.connect(out_dir, suppressions=suppressions, baseline=baseline)
    try:
        return con.execute("SELECT count(*) FROM new_findings WHERE NOT suppressed").fetchone()[0]
    finally:
        con.close()


def purge(out_dir: Path, before: date) -> dict[str, int]:
    """Delete every date partition older than `before` (findings, events, errors, coverage)."""
    import shutil

    removed: dict[str, int] = {}
    for kind in ("findings", "events", "errors", "coverage"):
        base = Path(out_dir) / kind
        n = 0
        for part in sorted(base.rglob("date=*")) if base.exists() else []:
            try:
                day = date.fromisoformat(part.name.split("=", 1)[1])
            except ValueError:
                continue
            if part.is_dir() and day < before:
                shutil.rmtree(part)
                n += 1
        removed[kind] = n
    from pipeline.storage import catalog

    catalog.refresh(out_dir)
    return removed
