"""Scan records: what each scan ran with, so a report can state its provenance.

One small JSON file per scan under `DIR/scans/`, written atomically: the phiscan
version, hashes of the config and of the detection rules, the skip selectors,
the sources and event counts, and the files skipped with their reason. A record
holds names, hashes and counts, never a value.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path
from typing import Any

import orjson

SCANS_DIR = "scans"


def write_scan_record(out_dir: str | Path, record: dict[str, Any]) -> Path:
    """Write one scan record (`DIR/scans/<started>-<id>.json`) so that it appears whole or not at all."""
    base = Path(out_dir) / SCANS_DIR
    base.mkdir(parents=True, exist_ok=True)
    stamp = str(record.get("started", "")).replace(":", "").replace("-", "")[:15] or "scan"
    path = base / f"{stamp}-{uuid.uuid4().hex[:8]}.json"
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_bytes(orjson.dumps(record, option=orjson.OPT_SORT_KEYS | orjson.OPT_INDENT_2))
    os.replace(tmp, path)
    return path


def read_scan_records(out_dir: str | Path) -> list[dict[str, Any]]:
    """Every readable scan record, oldest first (a torn or foreign file is skipped)."""
    base = Path(out_dir) / SCANS_DIR
    records = []
    for path in sorted(base.glob("*.json")) if base.is_dir() else []:
        try:
            data = orjson.loads(path.read_bytes())
        except (OSError, orjson.JSONDecodeError):
            continue
        if isinstance(data, dict):
            records.append(data)
    return sorted(records, key=lambda r: str(r.get("started", "")))
