"""The analyst CLI in pipes and CI: whole values off a terminal, errors that list valid values, honest counts,
and `suppress` refusing what it would store wrong. Also the display helpers the runtime commands use."""

from __future__ import annotations

import io
import json
from collections import Counter
from types import SimpleNamespace

import pytest
import yaml
from click.testing import CliRunner
from rich.console import Console

from pipeline.cli import main
from pipeline.cli.display import (ScanProgress, print_new_offenders, print_summary, serve_address,
                                  total_input_bytes)
from tests.analyst_data import scanned_out


@pytest.fixture()
def out(engine, tmp_path, monkeypatch):
    return scanned_out(engine, tmp_path, monkeypatch)


def run(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def test_tables_off_a_terminal_are_whole_tsv(out):
    res = run("triage", "--out", out, "--fixes")
    assert res.exit_code == 0, res.output
    lines = res.stdout.splitlines()
    header = lines[0].split("\t")
    assert header[:5] == ["source", "project", "route", "field_path", "entity_type"] and header[-1] == "fix"
    assert all(len(line.split("\t")) == len(header) for line in lines[1:]) and len(lines) == 4
    assert "…" not in res.stdout and "│" not in res.stdout
    assert any(len(line) > 120 for line in lines), "fix text is printed whole, not cut at 80 columns"


def test_csv_has_no_carriage_returns_and_its_fingerprints_suppress_cleanly(out, tmp_path):
    res = run("query", "--out", out, "--format", "csv",
              "SELECT field_path, fingerprint FROM findings WHERE source = 'sentry'")
    assert "\r" not in res.stdout
    fp = res.stdout.splitlines()[1].split(",")[1]
    res = run("suppress", "--out", out, "--field-path", "user.email", "--entity", "EMAIL_ADDRESS",
              "--fingerprint", fp + "\r", "--kind", "false_positive", "--reason", "test account", "--author", "me")
    assert res.exit_code == 0, res.output
    stored = yaml.safe_load((tmp_path / "config" / "suppressions.yaml").read_text())["suppressions"]
    assert stored[0]["fingerprint"] == fp
    assert run("query", "--out", out, "--format", "json",
               "SELECT count(*) AS n FROM findings WHERE suppressed").stdout.count('"n": 1') == 1


def test_unknown_filter_values_are_errors_listing_the_valid_ones(out):
    res = run("triage", "--out", out, "--source", "vercell")
    assert res.exit_code == 2 and "unknown source 'vercell'" in res.output and "sentry, vercel" in res.output
    res = run("triage", "--out", out, "--entity", "PERSONN")
    assert res.exit_code == 2 and "EMAIL_ADDRESS" in res.output
    res = run("triage", "--out", out, "--project", "telecaer")
    assert res.exit_code == 2 and "billing, telecare" in res.output


def test_triage_says_how_many_it_shows(out):
    res = run("triage", "--out", out, "--limit", "2")
    assert res.exit_code == 0 and "showing 2 of 3 offender(s)" in res.stderr


def test_suppress_refuses_what_it_would_store_wrong(out, tmp_path):
    base = ["suppress", "--out", out, "--field-path", "message", "--kind", "accepted_risk", "--reason",
            "intake logs reviewed", "--author", "sec@acme"]
    res = run(*base, "--entity", "EMAIL_ADDRES")
    assert res.exit_code == 2 and "unknown entity type 'EMAIL_ADDRES'; valid:" in res.output
    assert "pydantic" not in res.output and "http" not in res.output
    res = run(*base, "--entity", "EMAIL_ADDRESS", "--fingerprint", "abc123")
    assert res.exit_code == 2 and "64 hex digits" in res.output
    res = run(*base, "--entity", "EMAIL_ADDRESS", "--expires", "2020-01-01")
    assert res.exit_code == 2 and "not in the future" in res.output
    res = run(*base, "--entity", "EMAIL_ADDRESS", "--source", "vercell")
    assert res.exit_code == 2 and "unknown source" in res.output
    assert not (tmp_path / "config" / "suppressions.yaml").exists()
    assert run(*base, "--entity", "EMAIL_ADDRESS", "--route", "/api/intake*").exit_code == 0
    res = run(*base, "--entity", "EMAIL_ADDRESS", "--route", "/api/intake*", "--expires", "2099-01-01")
    assert res.exit_code == 0 and "updated the suppression; 1 in" in res.output
    stored = yaml.safe_load((tmp_path / "config" / "suppressions.yaml").read_text())["suppressions"]
    assert len(stored) == 1 and stored[0]["expires"] == "2099-01-01"
    counts = json.loads(run("query", "--out", out, "--format", "json",
                            "SELECT route, count(*) FILTER (WHERE suppressed) AS s FROM findings "
                            "WHERE source = 'vercel' GROUP BY 1 ORDER BY 1").stdout)
    assert counts == [{"route": "/api/billing", "s": 0}, {"route": "/api/intake", "s": 4}], "route scope applies"
    res = run(*base, "--entity", "US_SSN", "--route", "/nowhere")
    assert res.exit_code == 0 and "matches no finding" in res.stderr


def test_suppress_needs_to_know_where_the_file_is(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    res = run("suppress", "--field-path", "x", "--entity", "US_SSN", "--kind", "false_positive", "--reason",
              "xyz", "--author", "me")
    assert res.exit_code == 2 and "--out DIR" in res.output


def _summary(findings=97):
    return SimpleNamespace(files=2, events=10, findings=findings, phi_events=1, by_entity=Counter(EMAIL=findings),
                           by_source=Counter(vercel=findings), formats=Counter(vercel=2), skipped=0,
                           skip_reasons=Counter({"labels.jsonl (labels file)": 1}), errors=0,
                           error_reasons=Counter(), seconds=1.0, events_per_second=10.0, db_path=None,
                           skipped_files=Counter())


def _console():
    buf = io.StringIO()
    return Console(file=buf, width=80, force_terminal=False), buf


def test_scan_summary_says_how_many_findings_are_new():
    console, buf = _console()
    print_summary(console, _summary(), new=0)
    assert "97 finding(s); none new against the baseline" in buf.getvalue()
    assert "skipped: labels.jsonl (labels file)" in buf.getvalue()
    console, buf = _console()
    print_summary(console, _summary(), new=3)
    assert "3 offender(s) not in the baseline" in buf.getvalue()


def test_fail_on_new_lists_the_offenders():
    console, buf = _console()
    rows = [("vercel", "/api/pay", "message", "CREDIT_CARD", 1, "high"),
            ("sentry", "/patients/[id]", "request.data.very.long.field.path.name", "EMAIL_ADDRESS", 2, "critical")]
    print_new_offenders(console, rows, ["no baseline file (looked for x): every offender counts as new"])
    text = buf.getvalue()
    assert "offenders not in the baseline: 2" in text and "note: no baseline file" in text
    assert "NEW high     CREDIT_CARD" in text and "/patients/[id] request.data.very.long.field.path.name" in text


def test_progress_off_a_terminal_names_its_phases_and_total(tmp_path):
    (tmp_path / "a.log").write_bytes(b"x" * 3000)
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / ".hidden.log").write_bytes(b"y" * 1000)
    total = total_input_bytes([tmp_path])
    assert total == 4000
    console, buf = _console()
    with ScanProgress(total, console) as progress:
        progress.preparing("en_core_web_sm")
        progress.scanning()
        progress.advance(4000, events=12)
    assert progress.events == 12
    assert buf.getvalue().splitlines()[0] == "preparing the detectors (spaCy model en_core_web_sm loads when a text needs it)"
    assert buf.getvalue().splitlines()[1].startswith("scanning 3.9 KB (detectors ready in")


def test_serve_address_line():
    assert serve_address("0.0.0.0", 8080, ["/ingest/vercel"]) == \
        "phiscan serve listening on http://0.0.0.0:8080 (routes: /ingest/vercel)"
    assert "http://[::1]:9000" in serve_address("::1", 9000, [])
