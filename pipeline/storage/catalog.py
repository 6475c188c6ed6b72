"""`findings.duckdb`: views over the Parquet files, the database analysts open.

The database holds no data of its own, only views over `DIR/findings`,
`DIR/errors` and `DIR/coverage`, so Parquet stays the one copy and any tool
that reads Parquet sees the same rows. `findings` keeps one row per
`finding_id`: a replay or re-scan can never show a duplicate.
"""

from __future__ import annotations

import logging
import random
import time
from pathlib import Path

import duckdb
import pyarrow as pa

from pipeline.storage.parquet import COVERAGE_SCHEMA, ERRORS_SCHEMA, FINDINGS_SCHEMA, FLAGGED_SCHEMA

log = logging.getLogger("phiscan")
DB_NAME = "findings.duckdb"

_DUCK_TYPES = {
    pa.string(): "VARCHAR", pa.int64(): "BIGINT", pa.float64(): "DOUBLE", pa.date32(): "DATE",
    pa.timestamp("us", tz="UTC"): "TIMESTAMPTZ", pa.bool_(): "BOOLEAN", pa.list_(pa.string()): "VARCHAR[]",
}


def _empty_select(schema: pa.Schema) -> str:
    cols = ", ".join(f'CAST(NULL AS {_DUCK_TYPES[f.type]}) AS "{f.name}"' for f in schema)
    return f"SELECT {cols} WHERE false"


def _scan(root: Path, kind: str, schema: pa.Schema) -> str:
    base = root.resolve() / kind
    if not base.exists() or not any(base.rglob("*.parquet")):
        return _empty_select(schema)
    glob = str(base / "**" / "*.parquet").replace("'", "''")
    return f"SELECT * FROM read_parquet('{glob}', hive_partitioning = false, union_by_name = true)"


def view_sql(root: Path) -> dict[str, str]:
    """The SQL of every view, keyed by name (in creation order)."""
    from pipeline.analyst.triage import analyst_views

    findings_raw = (f"SELECT * FROM ({_scan(root, 'findings', FINDINGS_SCHEMA)}) "
                    "QUALIFY row_number() OVER (PARTITION BY finding_id ORDER BY scanned_at, origin) = 1")
    return {
        **analyst_views(findings_raw),
        "flagged_events": (
            f"SELECT * FROM ({_scan(root, 'events', FLAGGED_SCHEMA)}) "
            "QUALIFY row_number() OVER (PARTITION BY source, event_id ORDER BY scanned_at DESC, origin) = 1"
        ),
        "errors": _scan(root, "errors", ERRORS_SCHEMA),
        "coverage": (
            "SELECT source, project, day, sum(events) AS events FROM ("
            f"SELECT DISTINCT batch, source, project, day, events FROM ({_scan(root, 'coverage', COVERAGE_SCHEMA)})"
            ") GROUP BY ALL"
        ),
    }


def refresh(out_dir: str | Path, suppressions: Path | None = None, baseline: Path | None = None,
            attempts: int = 8) -> Path:
    """Create or replace the views (and the suppression/baseline tables) in DIR/findings.duckdb.

    Several writers (consumers of one group sharing a directory, a scan and a
    reader) can race for the file: a conflict or a lock is retried with backoff.
    """
    for attempt in range(attempts):
        try:
            return _refresh(out_dir, suppressions, baseline)
        except (duckdb.TransactionException, duckdb.IOException, duckdb.CatalogException) as exc:
            if attempt == attempts - 1:
                raise
            log.debug("findings.duckdb busy (%s); retrying", type(exc).__name__)
            time.sleep(0.1 * (attempt + 1) + random.random() * 0.1)
    raise AssertionError("unreachable")


def _refresh(out_dir: str | Path, suppressions: Path | None, baseline: Path | None) -> Path:
    from pipeline.analyst.triage import load_baseline, load_suppressions, load_tables

    root = Path(out_dir)
    root.mkdir(parents=True, exist_ok=True)
    path = root / DB_NAME
    con = duckdb.connect(str(path))
    try:
        load_tables(con, load_suppressions(suppressions), load_baseline(baseline))
        for name, sql in view_sql(root).items():
            con.execute(f'CREATE OR REPLACE VIEW "{name}" AS {sql}')
    finally:
        con.close()
    return path


def connect(out_dir: str | Path, read_only: bool = False, suppressions: Path | None = None,
            baseline: Path | None = None) -> duckdb.DuckDBPyConnection:
    """A connection to DIR/findings.duckdb with fresh views."""
    path = Path(out_dir) / DB_NAME
    if not read_only or not path.exists():
        refresh(out_dir, suppressions, baseline)
    return duckdb.connect(str(path), read_only=read_only)
