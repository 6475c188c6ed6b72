"""Tabular exports (CSV and Parquet) as records: one row, one dict.

Analytics vendors export to object storage as CSV or Parquet (PostHog batch
exports, GA4 via BigQuery, Mixpanel JSON pipelines). Rows come out as plain
dicts; nested Parquet columns (lists of structs) as nested dicts and lists.
Origins are `<file>:<row>` with 1-based rows, so they read like line numbers.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from pathlib import Path

from connectors.files import DECODE_ERRORS, RawRecord, open_decompressed
from core.model import BadRecord

csv.field_size_limit(1 << 26)


def read_parquet_rows(path: Path, source: str, *, max_record_bytes: int,
                      batch_rows: int = 2048) -> Iterator[RawRecord | BadRecord]:
    import pyarrow.parquet as pq

    name = str(path)
    try:
        pf = pq.ParquetFile(path)
    except Exception as exc:  # pyarrow raises ArrowInvalid/OSError on junk
        yield BadRecord(source, name, f"unreadable Parquet file ({type(exc).__name__})", 0)
        return
    row = 0
    try:
        for batch in pf.iter_batches(batch_size=batch_rows):
            for values in batch.to_pylist():
                row += 1
                yield RawRecord(values, f"{name}:{row}", 0, name, row, "table")
    except Exception as exc:
        yield BadRecord(source, f"{name}:{row + 1}", f"corrupt Parquet data ({type(exc).__name__})", 0)


def read_csv_rows(path: Path, source: str, *, max_record_bytes: int) -> Iterator[RawRecord | BadRecord]:
    name = str(path)
    try:
        stream = open_decompressed(path)
    except OSError as exc:
        yield BadRecord(source, name, f"cannot open file ({exc.strerror or type(exc).__name__})", 0)
        return
    with stream:
        text = io.TextIOWrapper(stream, encoding="utf-8", errors="replace", newline="")
        reader = csv.DictReader(text)
        row = 0
        try:
            for values in reader:
                row += 1
                size = sum(len(v or "") for v in values.values() if isinstance(v, str))
                origin = f"{name}:{row}"
                if size > max_record_bytes:
                    yield BadRecord(source, origin, f"record over {max_record_bytes} bytes", size)
                    continue
                if None in values:  # more cells than header columns
                    yield BadRecord(source, origin, "row has more cells than the header", size)
                    continue
                yield RawRecord(dict(values), origin, size, name, row, "table")
        except (csv.Error, *DECODE_ERRORS) as exc:
            yield BadRecord(source, f"{name}:{row + 1}", f"malformed CSV ({type(exc).__name__})", 0)
