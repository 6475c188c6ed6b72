"""`findings.duckdb`: views over the Parquet files, the database analysts open.

The database holds no findings of its own, only views over `DIR/findings`,
`DIR/events`, `DIR/errors` and `DIR/coverage`, so Parquet stays the one copy and
any tool that reads Parquet sees the same rows. The only tables are the analyst
policy (suppressions, baseline, staff identifiers), reloaded from their YAML
files by every analyst command. `findings` keeps one row per `finding_id`: a
replay or re-scan can never show a duplicate.

The de-duplicating views use `row_number()` in a subquery and a `WHERE`, not
`QUALIFY`: DuckDB 2.x has been seen to drop an outer `LIMIT` over a view with
`QUALIFY`, and `SELECT ... FROM findings LIMIT 3` must return three rows.
"""

from __future__ import annotations

import logging
import random
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

import duckdb
import pyarrow as pa

from pipeline.storage.parquet import COVERAGE_SCHEMA, ERRORS_SCHEMA, FINDINGS_SCHEMA, FLAGGED_SCHEMA, parquet_files

log = logging.getLogger("phiscan")
DB_NAME = "findings.duckdb"
OUTPUT_MARKERS = ("findings", "events", "errors", "coverage", DB_NAME)
T = TypeVar("T")

# Conflicts between writers of one database file: retried with backoff, never surfaced.
BUSY_ERRORS = (duckdb.TransactionException, duckdb.IOException, duckdb.CatalogException,
               duckdb.ResourceInUseException)

_DUCK_TYPES = {
    pa.string(): "VARCHAR", pa.int64(): "BIGINT", pa.float64(): "DOUBLE", pa.date32(): "DATE",
    pa.timestamp("us", tz="UTC"): "TIMESTAMPTZ", pa.bool_(): "BOOLEAN", pa.list_(pa.string()): "VARCHAR[]",
}

# The policy tables the views join; `phiscan` commands fill them from YAML (pipeline.analyst.policy).
POLICY_TABLES = {
    "suppressions": "field_path VARCHAR, path_regex VARCHAR, route VARCHAR, route_regex VARCHAR, "
                    "entity_type VARCHAR, fingerprint VARCHAR, source VARCHAR, kind VARCHAR, reason VARCHAR, "
                    "author VARCHAR, created DATE, expires DATE",
    "baseline": "source VARCHAR, project VARCHAR, route VARCHAR, field_path VARCHAR, entity_type VARCHAR",
    "staff_identifiers": "kind VARCHAR, entity_type VARCHAR, fingerprint VARCHAR, masked_domain VARCHAR, "
                         "note VARCHAR",
}
SEVERITY_SQL = "CASE {c} WHEN 'critical' THEN 3 WHEN 'high' THEN 2 WHEN 'medium' THEN 1 ELSE 0 END"
SEVERITY_NAME_SQL = "['low', 'medium', 'high', 'critical'][{rank} + 1]"
SECRET_TYPES = ("API_KEY", "AUTH_TOKEN", "CREDENTIAL", "PRIVATE_KEY")
# Identifiers that name one person; co-occurring ones are joined into one estimated individual.
PERSON_IDENTIFIERS = ("EMAIL_ADDRESS", "PHONE_NUMBER", "US_SSN", "MEDICAL_RECORD_NUMBER", "HEALTH_PLAN_ID")
INDIVIDUALS_METHOD = ("identifiers (email, phone, SSN, MRN, health plan id) seen together in one event belong to "
                      "one person; connected groups of co-occurring identifier fingerprints, across sources, are "
                      "counted once; identifiers marked as staff or provider and suppressed findings are left out")


class NotAnOutputDir(ValueError):
    """An analyst command was pointed at a directory phiscan never wrote."""


def _sql_list(values: tuple[str, ...]) -> str:
    return ", ".join(f"'{v}'" for v in values)


def _empty_select(schema: pa.Schema) -> str:
    cols = ", ".join(f'CAST(NULL AS {_DUCK_TYPES[f.type]}) AS "{f.name}"' for f in schema)
    return f"SELECT {cols} WHERE false"


def _scan(root: Path, kind: str, schema: pa.Schema) -> str:
    base = root.resolve() / kind
    if not base.exists() or not any(base.rglob("*.parquet")):
        return _empty_select(schema)
    glob = str(base / "**" / "*.parquet").replace("'", "''")
    # Every part of a kind has one schema (parquet.py's), so the columns come from one file's footer:
    # `union_by_name` read all of them to bind a view (36,000 parts of a 1M-event scan: 1.4 GB and 22 s).
    return f"SELECT * FROM read_parquet('{glob}', hive_partitioning = false)"


def _first_per(source_sql: str, key: str, order: str) -> str:
    """One row per `key` (the first by `order`), without QUALIFY (see the module docstring)."""
    return (f"SELECT * EXCLUDE (_phiscan_rank) FROM (SELECT *, row_number() OVER (PARTITION BY {key} "
            f"ORDER BY {order}) AS _phiscan_rank FROM ({source_sql})) WHERE _phiscan_rank = 1")


def _findings_sql(root: Path) -> str:
    dedup = _first_per(_scan(root, "findings", FINDINGS_SCHEMA), "finding_id", "scanned_at, origin")
    return f"""
        WITH dedup AS ({dedup}),
        matched AS (
            SELECT f.finding_id, min(s.kind) AS kind, arg_min(s.reason, s.kind) AS reason
            FROM dedup f JOIN suppressions s ON f.entity_type = s.entity_type
                 AND regexp_full_match(f.field_path, s.path_regex)
                 AND (s.route_regex IS NULL OR regexp_full_match(coalesce(f.route, ''), s.route_regex))
                 AND (s.fingerprint IS NULL OR s.fingerprint = f.fingerprint)
                 AND (s.source IS NULL OR s.source = f.source)
                 AND (s.expires IS NULL OR s.expires >= current_date)
            GROUP BY f.finding_id)
        SELECT d.*, m.kind IS NOT NULL AS suppressed, m.kind AS suppression_kind, m.reason AS suppression_reason,
               (d.fingerprint IN (SELECT fingerprint FROM staff_identifiers WHERE fingerprint IS NOT NULL)
                OR d.entity_type IN (SELECT entity_type FROM staff_identifiers WHERE kind = 'entity_type')
                OR (d.entity_type = 'EMAIL_ADDRESS' AND EXISTS (
                    SELECT 1 FROM staff_identifiers s WHERE s.masked_domain IS NOT NULL
                    AND ends_with(d.preview, '@' || s.masked_domain)))) AS staff
        FROM dedup d LEFT JOIN matched m ON m.finding_id = d.finding_id"""


def _individual_views() -> dict[str, str]:
    ids = _sql_list(PERSON_IDENTIFIERS)
    patient_ids = f"FROM findings WHERE entity_type IN ({ids}) AND NOT suppressed AND NOT staff"
    return {
        # node = one identifier; an estimated individual = a connected group of identifiers seen in one event
        "individual_groups": f"""
            WITH RECURSIVE nodes AS (
                SELECT DISTINCT source, event_id, entity_type, fingerprint, entity_type || ':' || fingerprint AS node
                {patient_ids}),
            edges AS (SELECT DISTINCT a.node AS a, b.node AS b FROM nodes a JOIN nodes b USING (source, event_id)),
            reach(node, label) AS (SELECT a, b FROM edges
                                   UNION SELECT r.node, e.b FROM reach r JOIN edges e ON e.a = r.label)
            SELECT n.entity_type, n.fingerprint, min(r.label) AS individual,
                   list(DISTINCT n.source ORDER BY n.source) AS sources
            FROM (SELECT DISTINCT entity_type, fingerprint, node, source FROM nodes) n
            JOIN reach r ON r.node = n.node GROUP BY ALL""",
        "affected_individuals": f"""
            SELECT project, CAST(coalesce(event_time, scanned_at) AS DATE) AS day,
                   count(DISTINCT entity_type || ':' || fingerprint) AS identifiers,
                   list(DISTINCT source ORDER BY source) AS sources
            {patient_ids} GROUP BY ALL""",
        "affected_individuals_total": """
            SELECT entity_type, count(*) AS identifiers, count(DISTINCT individual) AS estimated_individuals,
                   count(*) FILTER (WHERE len(sources) > 1) AS seen_in_several_sources,
                   list_sort(list_distinct(flatten(list(sources)))) AS sources
            FROM individual_groups GROUP BY ALL""",
        "individuals_estimate": f"""
            SELECT (SELECT count(DISTINCT individual) FROM individual_groups) AS estimated_individuals,
                   (SELECT count(*) FROM individual_groups) AS identifiers,
                   (SELECT count(DISTINCT entity_type || ':' || fingerprint) FROM findings
                    WHERE staff AND NOT suppressed) AS staff_identifiers_excluded,
                   '{INDIVIDUALS_METHOD}' AS method""",
    }


def view_sql(root: Path) -> dict[str, str]:
    """The SQL of every view, keyed by name (in creation order)."""
    rank = SEVERITY_SQL.format(c="severity")
    return {
        "findings": _findings_sql(root),
        "offenders": f"""
            SELECT source, project, route, field_path, entity_type, count(*) AS findings,
                   count(DISTINCT fingerprint) AS distinct_values, min(event_time) AS first_seen,
                   max(event_time) AS last_seen, {SEVERITY_NAME_SQL.format(rank=f"max({rank})")} AS max_severity,
                   bool_and(suppressed) AS suppressed
            FROM findings GROUP BY ALL""",
        "daily_trend": """
            SELECT CAST(coalesce(event_time, scanned_at) AS DATE) AS day, source, entity_type, count(*) AS findings,
                   count(*) FILTER (WHERE NOT suppressed) AS unsuppressed
            FROM findings GROUP BY ALL""",
        **_individual_views(),
        "new_findings": """
            SELECT o.* FROM offenders o
            WHERE NOT EXISTS (SELECT 1 FROM baseline b
                              WHERE b.source IS NOT DISTINCT FROM o.source AND b.project IS NOT DISTINCT FROM o.project
                                AND b.route IS NOT DISTINCT FROM o.route AND b.field_path = o.field_path
                                AND b.entity_type = o.entity_type)""",
        "flagged_events": _first_per(_scan(root, "events", FLAGGED_SCHEMA), "source, event_id",
                                     "scanned_at DESC, origin"),
        "errors": _scan(root, "errors", ERRORS_SCHEMA),
        "coverage": (
            "SELECT source, project, day, sum(events) AS events FROM ("
            f"SELECT DISTINCT batch, source, project, day, events FROM ({_scan(root, 'coverage', COVERAGE_SCHEMA)})"
            ") GROUP BY ALL"
        ),
    }


def _retry(action: Callable[[], T], attempts: int = 8) -> T:
    """Run `action`, retrying a busy database (another writer's lock or a write conflict) with backoff."""
    for attempt in range(attempts):
        try:
            return action()
        except BUSY_ERRORS as exc:
            if attempt == attempts - 1:
                raise
            log.debug("findings.duckdb busy (%s); retrying", type(exc).__name__)
            time.sleep(0.1 * (attempt + 1) + random.random() * 0.1)
    raise AssertionError("unreachable")


def refresh(out_dir: str | Path, policy: dict[str, list[tuple[Any, ...]]] | None = None,
            attempts: int = 8) -> Path:
    """Create or replace the views in DIR/findings.duckdb; with `policy`, replace those tables too.

    Without `policy` the policy tables are kept as the last analyst command left
    them (created empty when missing): a scan or a consumer never resets them.
    Several writers (consumers of one group sharing a directory, a scan and a
    reader) race for the file: conflicts and locks are retried with backoff.
    """
    return _retry(lambda: _refresh(Path(out_dir), policy), attempts)


# No progress bar (DuckDB draws one on stdout for long queries: it would land in `query` output and
# in the logs of a consumer).
# The scan's own count of distinct finding ids runs in little memory, one thread, spilling to the temp
# directory; an output too large for that limit is counted again with the next (DuckDB's aggregate
# cannot spill everything: 1.8M ids fit in 24 MB, 9.9M do not fit in 32 MB).
COUNT_MEMORY_LIMITS = ("24MB", "256MB", "2GB")


def _connect(path: str | Path | None = None, *, read_only: bool = False, memory_limit: str | None = None):
    config = {} if memory_limit is None else {
        "memory_limit": memory_limit, "threads": 1, "preserve_insertion_order": False,
        "temp_directory": tempfile.gettempdir()}
    con = duckdb.connect(str(path) if path is not None else ":memory:", read_only=read_only, config=config)
    con.execute("SET enable_progress_bar = false")
    return con


def _refresh(root: Path, policy: dict[str, list[tuple[Any, ...]]] | None) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    path = root / DB_NAME
    con = _connect(path)  # one configuration per file and process: DuckDB refuses two
    try:
        for name, columns in POLICY_TABLES.items():
            if policy is not None and name in policy:
                con.execute(f'CREATE OR REPLACE TABLE "{name}" ({columns})')
                rows = policy[name]
                if rows:
                    marks = ", ".join("?" for _ in columns.split(","))
                    con.executemany(f'INSERT INTO "{name}" VALUES ({marks})', rows)
            else:
                con.execute(f'CREATE TABLE IF NOT EXISTS "{name}" ({columns})')
        for name, sql in view_sql(root).items():
            con.execute(f'CREATE OR REPLACE VIEW "{name}" AS {sql}')
    finally:
        con.close()
    return path


def distinct_findings(out_dir: str | Path, limits: Sequence[str] = COUNT_MEMORY_LIMITS) -> int | None:
    """Distinct finding ids in an output directory's Parquet parts (0 for none), without the views:
    a scan counts before and after itself to say how many of its findings are new. None when the
    count does not fit in the largest of `limits` (the scan's findings are written all the same)."""
    files = [str(p) for p in parquet_files(Path(out_dir), "findings")]
    if not files:
        return 0
    for limit in limits:
        con = _connect(memory_limit=limit)
        try:
            return con.execute("SELECT count(*) FROM (SELECT finding_id FROM read_parquet(?) GROUP BY finding_id)",
                               [files]).fetchall()[0][0]
        except duckdb.OutOfMemoryException:
            log.info("counting distinct findings needs more than %s: counting again with more", limit)
        finally:
            con.close()
    return None


def require_output_dir(out_dir: str | Path) -> Path:
    """`out_dir` if phiscan wrote it; else NotAnOutputDir (and nothing is created inside it)."""
    root = Path(out_dir)
    if not root.is_dir():
        raise NotAnOutputDir(f"{root} does not exist: scan into it first (phiscan scan PATH --out {root})")
    if not any((root / m).exists() for m in OUTPUT_MARKERS):
        raise NotAnOutputDir(f"{root} is not a phiscan output directory (no findings/, coverage/ or {DB_NAME}): "
                             f"scan into it first (phiscan scan PATH --out {root})")
    return root


def connect(out_dir: str | Path, read_only: bool = False,
            policy: dict[str, list[tuple[Any, ...]]] | None = None) -> duckdb.DuckDBPyConnection:
    """A connection to DIR/findings.duckdb with fresh views (created when missing: the writers' side).

    Analyst commands go through `pipeline.analyst.policy.connect`, which first
    checks `require_output_dir` so a foreign directory gets no database.
    """
    root = Path(out_dir)
    path = root / DB_NAME
    if not read_only or not path.exists() or policy is not None:
        refresh(root, policy)
    return _retry(lambda: _connect(path, read_only=read_only))
