"""SQL over the findings database, and rendering results as a table, TSV, CSV or JSON.

A table is for a terminal. Piped into a file, `less` or a CI log, a table would
be cut to 80 columns (`│ ver… │`), so off a terminal `table` writes TSV: one
line per row, every value whole, tabs and newlines inside values escaped.
"""

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


def run_query(out_dir: str | Path, sql: str) -> tuple[list[str], list[tuple[Any, ...]]]:
    """Column names and rows of `sql` run against DIR/findings.duckdb (views refreshed first)."""
    from pipeline.analyst import policy

    con = policy.connect(Path(out_dir))
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


def _tsv_cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, (list, tuple)):
        value = ",".join("" if v is None else str(_plain(v)) for v in value)
    text = str(_plain(value))
    return text.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")


def render(console: Console, columns: list[str], rows: list[tuple[Any, ...]], fmt: str) -> None:
    """Write rows in `fmt`; `table` becomes TSV when the console is not a terminal."""
    if fmt == "table" and not console.is_terminal:
        fmt = "tsv"
    if fmt == "json":
        console.file.write(orjson.dumps([dict(zip(columns, map(_plain, r))) for r in rows],
                                        option=orjson.OPT_INDENT_2).decode() + "\n")
    elif fmt == "csv":
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\n")
        writer.writerow(columns)
        writer.writerows([[_plain(v) for v in r] for r in rows])
        console.file.write(buf.getvalue())
    elif fmt == "tsv":
        lines = ["\t".join(columns)] + ["\t".join(_tsv_cell(v) for v in r) for r in rows]
        console.file.write("\n".join(lines) + "\n")
    else:
        table = Table(*columns)
        for r in rows:  # Text, not markup: `/patients/[id]` must print as it is
            table.add_row(*(Text("" if v is None else str(_plain(v))) for v in r))
        console.print(table)
