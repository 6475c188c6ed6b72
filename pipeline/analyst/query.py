"""SQL over the findings database, and rendering results as a table, CSV or JSON."""

from __future__ import annotations

import csv
import io
from datetime import date, datetime
from pathlib import Path
from typing import Any

import orjson
from rich.console import Console
from rich.table import Table
from rich.text import Text

from pipeline.storage import catalog


def run_query(out_dir: str | Path, sql: str) -> tuple[list[str], list[tuple[Any, ...]]]:
    """Column names and rows of `sql` run against DIR/findings.duckdb (views refreshed first)."""
    con = catalog.connect(out_dir)
    try:
        cur = con.execute(sql)
        columns = [d[0] for d in cur.description] if cur.description else []
        return columns, cur.fetchall()
    finally:
        con.close()


def _plain(value: Any) -> Any:
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    return value


def render(console: Console, columns: list[str], rows: list[tuple[Any, ...]], fmt: str) -> None:
    if fmt == "json":
        console.print_json(orjson.dumps([dict(zip(columns, map(_plain, r))) for r in rows]).decode())
    elif fmt == "csv":
        buf = io.StringIO()
        writer = csv.writer(buf)
        writer.writerow(columns)
        writer.writerows([[_plain(v) for v in r] for r in rows])
        console.file.write(buf.getvalue())
    else:
        table = Table(*columns)
        for r in rows:  # Text, not markup: `/patients/[id]` must print as it is
            table.add_row(*(Text("" if v is None else str(_plain(v))) for v in r))
        console.print(table)
