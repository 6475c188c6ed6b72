"""End to end: a generated corpus scanned with the real engine into real Parquet and DuckDB."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from urllib.parse import unquote_plus

import duckdb
import orjson
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from connectors.files import iter_input_files
from connectors.registry import read_events
from pipeline.cli import main
from pipeline.analyst.evaluate import evaluate
from core.model import Event
from core.paths import resolve
from pipeline.runtime.scan import scan_paths

FINDINGS_COLUMNS = ["finding_id", "event_id", "source", "origin", "event_time", "project", "route", "field_path",
                    "start", "end", "entity_type", "score", "detector", "fingerprint", "preview", "scanned_at"]


def planted_values(corpus: Path) -> set[str]:
    events = {}
    for f in iter_input_files([corpus]):
        for ev in read_events(f):
            if isinstance(ev, Event):
                events[ev.event_id] = ev.payload
    values = set()
    for line in (corpus / "labels.jsonl").read_bytes().splitlines():
        lab = orjson.loads(line)
        if lab["kind"] != "label":
            continue
        raw = resolve(events[lab["event_id"]], lab["field_path"])[lab["start"]:lab["end"]]
        values.add(raw)
        values.add(unquote_plus(raw))
    return {v for v in values if len(v) >= 4}


def all_text_in(out: Path) -> list[tuple[str, str]]:
    """(file, text) for every file written under `out`; Parquet read column by column."""
    texts = []
    for path in out.rglob("*"):
        if not path.is_file():
            continue
        if path.suffix == ".parquet":
            table = pq.read_table(path)
            for col in table.column_names:
                texts.append((f"{path}:{col}", "\n".join(str(v) for v in table.column(col).to_pylist())))
        else:
            texts.append((str(path), path.read_bytes().decode("utf-8", "replace")))
    return texts


def test_findings_schema(scanned):
    out, summary = scanned
    assert summary.findings > 0 and summary.errors == 0
    con = duckdb.connect(str(out / "findings.duckdb"), read_only=True)
    cols = [r[0] for r in con.execute("DESCRIBE findings").fetchall()]
    assert cols[: len(FINDINGS_COLUMNS)] == FINDINGS_COLUMNS
    assert {"severity", "field_key"} <= set(cols)
    row = con.execute("SELECT * FROM findings WHERE entity_type = 'EMAIL_ADDRESS' LIMIT 1").fetchone()
    rec = dict(zip(cols, row))
    assert len(rec["fingerprint"]) == 64 and "***@" in rec["preview"] and rec["source"] == "vercel"
    assert con.execute("SELECT count(*) FROM findings WHERE route LIKE '%?%'").fetchone()[0] == 0
    parts = list((out / "findings").rglob("*.parquet"))
    assert parts and all(p.parent.name.startswith("date=") and p.parent.parent.name == "source=vercel" for p in parts)


def test_quality_on_development_corpus(scanned, corpus):
    out, _ = scanned
    report = evaluate(corpus / "labels.jsonl", out)
    assert report.overall.recall >= 0.97, report.overall
    assert report.overall.precision >= 0.97, report.overall
    for family, score in report.by_family.items():
        assert score.recall >= 0.90, (family, score)
    assert report.false_per_1000_benign <= 2.0


def test_no_planted_value_anywhere_in_output(scanned, corpus):
    out, _ = scanned
    values = planted_values(corpus)
    assert len(values) > 100
    for where, text in all_text_in(out):
        leaked = [v for v in values if v in text]
        assert not leaked, f"{where} holds a planted value"


def test_rescan_adds_no_duplicates_and_ids_are_stable(corpus, engine, tmp_path):
    out = tmp_path / "out"
    scan_paths([corpus], out, engine=engine)
    con = duckdb.connect(str(out / "findings.duckdb"))
    first = set(r[0] for r in con.execute("SELECT finding_id FROM findings").fetchall())
    con.close()
    files_before = sorted(p.name for p in (out / "findings").rglob("*.parquet"))
    scan_paths([corpus], out, engine=engine)
    con = duckdb.connect(str(out / "findings.duckdb"))
    rows = con.execute("SELECT finding_id FROM findings").fetchall()
    dupes = con.execute("SELECT count(*) - count(DISTINCT finding_id) FROM findings").fetchone()[0]
    con.close()
    assert set(r[0] for r in rows) == first and dupes == 0
    assert sorted(p.name for p in (out / "findings").rglob("*.parquet")) == files_before


def test_a_unit_is_one_part_per_source_and_day_and_a_dense_unit_is_split(engine, tmp_path, monkeypatch):
    """Parts follow the unit, not the batch (a million events made 36,000 files); PART_FINDINGS bounds a part."""
    import pipeline.runtime.scan as scan_mod
    from pipeline.config import Config, ScanConfig

    src = tmp_path / "in.ndjson"
    day = 86_400_000
    src.write_text("".join(json.dumps({"id": f"e{i}", "deploymentId": "dpl_x", "source": "lambda", "projectId": "p",
                                       "timestamp": 1763800000000 + (i % 2) * day, "level": "info",
                                       "message": f"patient email jane.doe{i}@gmail.com"}) + "\n" for i in range(40)))
    config = Config(scan=ScanConfig(batch_size=4))  # ten batches in the one unit
    out = tmp_path / "out"
    s = scan_paths([src], out, engine=engine, config=config)
    parts = sorted((out / "findings").rglob("*.parquet"))
    assert s.findings == s.new_findings == 40 and len(parts) == 2  # two days, one part each
    assert sorted(p.parent.name for p in parts) == ["date=2025-11-22", "date=2025-11-23"]
    assert [pq.read_metadata(p).num_rows for p in parts] == [20, 20]
    assert len(list((out / "coverage").rglob("*.parquet"))) == 2 and len(list((out / "events").rglob("*.parquet"))) == 2

    monkeypatch.setattr(scan_mod, "PART_FINDINGS", 8)  # a dense unit: written every 8 findings (2 batches)
    dense = tmp_path / "dense"
    scan_paths([src], dense, engine=engine, config=config)
    again = sorted(p.relative_to(dense) for p in (dense / "findings").rglob("*.parquet"))
    assert len(again) == 10 and sum(pq.read_metadata(dense / p).num_rows for p in again) == 40
    s = scan_paths([src], dense, engine=engine, config=config)  # a re-scan rewrites the same parts
    assert s.new_findings == 0 and sorted(p.relative_to(dense) for p in (dense / "findings").rglob("*.parquet")) == again


def test_appending_new_input_and_errors_table(engine, tmp_path):
    out = tmp_path / "out"
    a = tmp_path / "a.ndjson"
    rec = {"id": "e1", "deploymentId": "dpl_x", "source": "lambda", "projectId": "p", "timestamp": 1763800000000,
           "level": "info", "message": "patient email jane.doe@gmail.com"}
    a.write_text(json.dumps(rec) + "\n")
    scan_paths([a], out, engine=engine)
    b = tmp_path / "b.ndjson"
    b.write_text(json.dumps(dict(rec, id="e2")) + "\n" + '{"id": "e3", "message": "ssn 512-48-9921"\n')
    s = scan_paths([b], out, engine=engine)
    assert s.errors == 1
    con = duckdb.connect(str(out / "findings.duckdb"))
    assert con.execute("SELECT count(*) FROM findings").fetchone()[0] == 2
    origin, reason, size = con.execute("SELECT origin, reason, size FROM errors").fetchone()
    assert origin == f"{b}:2" and "invalid JSON" in reason and size > 0
    assert con.execute("SELECT sum(events) FROM coverage").fetchone()[0] == 2
    con.close()
    for _, text in all_text_in(out):
        assert "512-48-9921" not in text and "jane.doe@gmail.com" not in text


def test_cli_exit_codes(corpus, tmp_path, monkeypatch):
    monkeypatch.setenv("PHISCAN_FINGERPRINT_KEY", "cli-test-key-not-a-secret")
    small = tmp_path / "one.ndjson"
    small.write_text((corpus / "drains" / "lambda.ndjson").read_text().splitlines()[0] + "\n")
    runner = CliRunner()
    ok = runner.invoke(main, ["scan", str(small), "--out", str(tmp_path / "o1")])
    assert ok.exit_code == 0, ok.output
    assert "events" in ok.output and "events/s" in ok.output
    bad_cfg = tmp_path / "bad.yaml"
    bad_cfg.write_text("detection:\n  modle: x\n")
    res = runner.invoke(main, ["scan", str(small), "--out", str(tmp_path / "o2"), "--config", str(bad_cfg)])
    assert res.exit_code == 2 and "detection.modle" in res.output
    res = runner.invoke(main, ["scan", str(small), "--out", str(tmp_path / "o3"), "--format", "segment"])
    assert res.exit_code == 2
    phi = tmp_path / "phi.ndjson"
    phi.write_text(json.dumps({"id": "x1", "deploymentId": "d", "source": "lambda", "projectId": "p",
                               "message": "email jane.doe@gmail.com"}) + "\n")
    res = runner.invoke(main, ["scan", str(phi), "--out", str(tmp_path / "o4"), "--fail-on-findings"])
    assert res.exit_code == 1
    res = runner.invoke(main, ["query", "--out", str(tmp_path / "o4"), "--format", "json",
                               "SELECT entity_type, preview FROM findings"])
    assert res.exit_code == 0 and "EMAIL_ADDRESS" in res.output and "jane.doe@gmail.com" not in res.output


def test_real_command_and_generated_key_message(tmp_path):
    small = tmp_path / "one.ndjson"
    small.write_text(json.dumps({"id": "x1", "deploymentId": "d", "source": "lambda", "projectId": "p",
                                 "message": "ok"}) + "\n")
    env = {k: v for k, v in os.environ.items() if k != "PHISCAN_FINGERPRINT_KEY"}
    exe = Path(sys.executable).parent / "phiscan"
    proc = subprocess.run([str(exe), "scan", str(small), "--out", str(tmp_path / "o")], capture_output=True,
                          text=True, env=env, timeout=120)
    assert proc.returncode == 0, proc.stderr
    key = (tmp_path / "o" / ".phiscan-key").read_text().strip()
    assert "generated a fingerprint key" in proc.stderr
    assert key not in proc.stderr and key not in proc.stdout


def test_concurrent_view_refreshes_do_not_fail(scanned):
    """Consumers of one group sharing an output directory refresh the views at the same time."""
    import threading

    from pipeline.storage import catalog

    out, _ = scanned
    errors = []

    def refresh():
        try:
            for _ in range(5):
                catalog.refresh(out)
        except Exception as exc:  # noqa: BLE001 - the test reports any failure
            errors.append(exc)

    threads = [threading.Thread(target=refresh) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
