"""Input that was lost or read as clean: every one of these gave wrong or missing findings before."""

from __future__ import annotations

import gzip
import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest
from click.testing import CliRunner

from pipeline.cli import main
from pipeline.config import Config
from pipeline.runtime.build import build
from pipeline.runtime.scan import scan_paths
from pipeline.runtime.scrub import scrub_file

PHISCAN = str(Path(sys.executable).parent / "phiscan")
KEY_ENV = {"PHISCAN_FINGERPRINT_KEY": "inputs-test-key-not-a-secret"}


def _rows(out: Path, sql: str) -> list[tuple]:
    con = duckdb.connect(str(out / "findings.duckdb"), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def test_same_file_name_in_two_folders_keeps_every_finding(engine, tmp_path):
    for folder in ("a", "b"):
        (tmp_path / "in" / folder).mkdir(parents=True)
        (tmp_path / "in" / folder / "app.log").write_text(
            "".join(f"user {folder}{i}.patient@example.org signed in\n" for i in range(10)))
    summary = scan_paths([tmp_path / "in"], tmp_path / "out", engine=engine)
    assert summary.findings == 20
    assert _rows(tmp_path / "out", "SELECT count(*) FROM findings")[0][0] == 20


def test_line_timestamps_date_the_events(engine, tmp_path):
    log = tmp_path / "app.log"
    log.write_text("2025-03-04T05:06:07Z user jane.patient@example.org\n"
                   "[Sun Dec 04 04:47:44 2005] [error] mail maria.patient@example.org\n")
    scan_paths([log], tmp_path / "out", engine=engine)
    days = sorted(str(r[0].date()) for r in _rows(tmp_path / "out", "SELECT event_time FROM findings"))
    assert days == ["2005-12-04", "2025-03-04"]
    cover = {str(r[0]) for r in _rows(tmp_path / "out", "SELECT day FROM coverage")}
    assert cover == {"2005-12-04", "2025-03-04"}


@pytest.mark.parametrize("name", ["-", "/dev/stdin"])
def test_standard_input_is_scanned(tmp_path, name):
    data = b"".join(json.dumps({"id": f"s{i}", "deploymentId": "dpl_1", "source": "lambda",
                                "message": f"login s{i}.patient@example.org"}).encode() + b"\n" for i in range(5))
    res = subprocess.run([PHISCAN, "scan", name, "--out", str(tmp_path / "out"), "--workers", "1"], input=data,
                         capture_output=True, env={**os.environ, **KEY_ENV}, timeout=300)
    assert res.returncode == 0, res.stderr.decode()[-2000:]
    assert _rows(tmp_path / "out", "SELECT count(*) FROM findings")[0][0] == 5
    again = subprocess.run([PHISCAN, "scan", name, "--out", str(tmp_path / "out"), "--workers", "1"], input=data,
                           capture_output=True, env={**os.environ, **KEY_ENV}, timeout=300)
    assert again.returncode == 0
    assert _rows(tmp_path / "out", "SELECT count(*) FROM findings")[0][0] == 5  # same input: no duplicates


def test_views_past_their_limits_fail_closed(tmp_path):
    """A message whose JSON has more keys or depth than views decode is quarantined, never passed unscanned."""
    runtime = build(Config())
    wide = {f"k{i}": f"w{i}.patient@example.org" for i in range(400)}
    deep: dict = {"email": "deep.patient@example.org"}
    for _ in range(40):
        deep = {"d": deep}
    for i, payload in enumerate((wide, deep)):
        rec = {"id": f"v{i}", "deploymentId": "dpl_1", "source": "lambda", "message": json.dumps(payload)}
        out = runtime.process(json.dumps(rec).encode(), "vercel", f"v{i}", scrub=True)
        assert out.quarantined or b"patient@example.org" not in out.clean


@pytest.mark.parametrize("first", ["[2026-10-17 12:04:41,718] INFO [Broker id=3] started (kafka.Server)",
                                   "[2026-04-04 13:43:09 +0200] notice/Process: running check",
                                   "[10.30 16:49:06] proxy.exe - open through proxy 10.1.2.3:443"])
def test_bracketed_timestamp_lines_are_text_not_a_json_array(engine, tmp_path, first):
    """A log whose lines open with `[date …]` was read as a JSON array: one parse error, every line lost."""
    from connectors.files import sniff_layout
    from connectors.registry import resolve_format

    log = tmp_path / "server.log"
    log.write_text(f"{first}\n[2026-10-17 12:04:42,001] WARN mail maria.patient@example.org bounced\n")
    assert resolve_format(log) == "lines"
    summary = scan_paths([log], tmp_path / "out", engine=engine)
    assert summary.events == 2 and summary.errors == 0 and summary.findings >= 1
    for doc in ("[1, 2, 3]", "[ -2.5e3 ]", "[true]", "[null, {}]", '[{"a": 1}]'):
        arr = tmp_path / "arr.json"
        arr.write_text(doc)
        assert sniff_layout(arr) == "json", doc  # JSON arrays still sniff as JSON

def test_format_detection_reads_a_bounded_prefix(tmp_path):
    """A small .gz that inflates to one huge line must not be read whole to detect its format."""
    path = tmp_path / "bomb.ndjson.gz"
    with gzip.open(path, "wb", compresslevel=1) as fh:
        fh.write(b'{"message": "')
        chunk = b"a" * (1 << 20)
        for _ in range(300):
            fh.write(chunk)
    assert path.stat().st_size < 2 << 20
    code = ("import sys; from connectors.registry import resolve_format, FormatError\n"
            "try: resolve_format(__import__('pathlib').Path(sys.argv[1]), 'auto')\n"
            "except FormatError: pass\n"
            # VmHWM, not ru_maxrss: the latter counts the forking parent (pytest with spaCy loaded)
            "print(next(l.split()[1] for l in open('/proc/self/status') if l.startswith('VmHWM')))")
    res = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True, text=True, timeout=300,
                         cwd=Path(__file__).resolve().parents[1])
    assert res.returncode == 0, res.stderr[-2000:]
    assert int(res.stdout.strip()) < 150_000  # KiB: far below the 300 MiB line


def test_default_selectors_do_not_exempt_lookalike_fields(engine):
    from core.model import Event

    payload = {"event_id": "c" * 32, "message": "m", "sdkDebug": {"user": "sdk.patient@example.org"},
               "fingerprint": ["{{ default }}", "fp.patient@example.org"],
               "contexts": {"trace": {"user_id": "ctx.patient@example.org", "trace_id": "d" * 32}}}
    found = {f.field_path for f in engine.scan([Event("sentry", "c" * 32, "x", payload)]).findings}
    assert {"sdkDebug.user", "fingerprint[1]", "contexts.trace.user_id"} <= found


def test_quarantine_is_rewritten_per_run_and_private(tmp_path):
    runtime = build(Config())
    src = tmp_path / "in.ndjson"
    src.write_text('{"id": "ok", "deploymentId": "dpl_1", "source": "lambda", "message": "fine"}\n'
                   '{"id": "bad", "deploymentId": "dpl_1", "source": "lambda", "message": \n')
    for _ in range(2):
        summary = scrub_file(src, tmp_path / "out.ndjson", "vercel", runtime)
    assert summary.quarantined == 1
    q = tmp_path / "out.ndjson.quarantine"
    assert q.read_bytes().count(b'"bad"') == 1  # not appended on the second run
    assert stat.S_IMODE(q.stat().st_mode) == 0o600
    assert stat.S_IMODE((tmp_path / "out.ndjson.quarantine.reasons.ndjson").stat().st_mode) == 0o600
    assert not (tmp_path / ".phiscan-key").exists()  # no key file next to clean output


def test_short_fingerprint_key_is_a_usage_error(tmp_path, monkeypatch):
    monkeypatch.setenv("PHISCAN_FINGERPRINT_KEY", "k")
    log = tmp_path / "a.log"
    log.write_text("hello\n")
    res = CliRunner().invoke(main, ["scan", str(log), "--out", str(tmp_path / "out")])
    assert res.exit_code == 2 and "at least 16 bytes" in res.output


def test_config_errors_never_echo_values(tmp_path):
    cfg = tmp_path / "bad.yaml"
    cfg.write_text("fingerprint:\n  key: hunter2-super-secret-value\n kafka: [\n")
    res = CliRunner().invoke(main, ["scan", str(cfg), "--out", str(tmp_path / "o"), "--config", str(cfg)])
    assert res.exit_code == 2 and "line" in res.output and "hunter2" not in res.output
    res = CliRunner().invoke(main, ["consume", "--topic", "t", "--group-id", "g", "--out", str(tmp_path / "o"),
                                    "--producer-config", "sasl_plain_password:hunter2-super-secret-value",
                                    "--bootstrap-servers", "127.0.0.1:1"])
    assert res.exit_code == 2 and "hunter2" not in res.output


def test_scrub_reads_standard_input(tmp_path):
    data = b"".join(json.dumps({"id": f"s{i}", "deploymentId": "dpl_1", "source": "lambda",
                                "message": f"login s{i}.patient@example.org"}).encode() + b"\n" for i in range(3))
    out = tmp_path / "clean.ndjson"
    res = subprocess.run([PHISCAN, "scrub", "-", "--out", str(out), "--format", "vercel"], input=data,
                         capture_output=True, env={**os.environ, **KEY_ENV}, timeout=300)
    assert res.returncode == 0, res.stderr.decode()[-2000:]
    assert len(out.read_text().splitlines()) == 3 and "patient@example.org" not in out.read_text()


def test_explain_names_every_file_left_out_and_why(tmp_path, monkeypatch):
    monkeypatch.setenv("PHISCAN_FINGERPRINT_KEY", "inputs-test-key-not-a-secret")
    src = tmp_path / "in"
    src.mkdir()
    (src / "app.log").write_text("user jane.patient@example.org\n")
    (src / ".hidden.log").write_text("user maria.patient@example.org\n")
    (src / "labels.jsonl").write_text("{}\n")
    (src / "NOTES.md").write_text("notes\n")
    (src / "empty.ndjson").write_text("")
    png = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 40
    (src / "logo.png").write_bytes(png)
    monkeypatch.chdir(tmp_path)  # short paths: the log lines are not wrapped
    res = CliRunner().invoke(main, ["scan", "in", "--out", "out", "--explain", "--workers", "1"])
    assert res.exit_code == 0, res.output
    out = res.output
    for name, reason in ((".hidden.log", "hidden file"), ("labels.jsonl", "a labels file"),
                         ("NOTES.md", "not telemetry (.md)")):
        assert name in out and reason in out, (name, out[-3000:])
    assert "logo.png: format" not in out and "empty.ndjson: format" not in out  # never "format vercel (detected)"
    errors = dict((r[0].rsplit("/", 1)[-1], (r[1], r[2])) for r in
                  _rows(tmp_path / "out", "SELECT origin, reason, size FROM errors"))
    assert errors["logo.png"] == ("a binary file (not text, JSON, CSV or Parquet)", len(png))  # size on disk
    assert errors["empty.ndjson"][0] == "an empty file"
    assert "files not read: hidden file" in out


def test_a_rescan_says_none_of_its_findings_are_new(engine, tmp_path):
    log = tmp_path / "app.log"
    log.write_text("".join(f"user n{i}.patient@example.org\n" for i in range(4)))
    first = scan_paths([log], tmp_path / "out", engine=engine)
    again = scan_paths([log], tmp_path / "out", engine=engine)
    assert (first.findings, first.new_findings) == (4, 4)
    assert (again.findings, again.new_findings) == (4, 0)


def test_scrub_of_a_csv_export_is_a_clear_error_not_an_empty_copy(tmp_path):
    src = tmp_path / "export.csv"
    src.write_text('uuid,event,properties\nu1,$pageview,"{""email"": ""jane@example.org""}"\n')
    res = CliRunner().invoke(main, ["scrub", str(src), "--out", str(tmp_path / "clean.csv")])
    assert res.exit_code == 2 and "not yet scrubbed" in res.output and "jane" not in res.output
    assert not (tmp_path / "clean.csv").exists()
