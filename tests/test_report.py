"""The compliance report as audit evidence: scope, summary, control statuses, honest empty state, rendered in
headless Chromium (screen and print), and never a planted value in any report, triage or fix output."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner

from pipeline.cli import main
from pipeline.runtime.scan import scan_paths
from tests.analyst_data import CANARIES, EMAILS, SSN, scanned_out, write_canaries


@pytest.fixture()
def out(engine, tmp_path, monkeypatch):
    return scanned_out(engine, tmp_path, monkeypatch)


def chromium_or_skip() -> str:
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if not chromium:
        pytest.skip("Debian's chromium is not installed (make test installs it when run as root)")
    return chromium


def chromium(tmp_path: Path, page: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([chromium_or_skip(), "--headless", "--no-sandbox", "--disable-gpu",
                           "--disable-background-networking", "--disable-component-update", "--disable-sync",
                           "--no-first-run", f"--user-data-dir={tmp_path / 'chrome'}", *args, page.as_uri()],
                          capture_output=True, timeout=180)


def report(out: Path, tmp_path: Path, *extra: str):
    html_path, md_path = tmp_path / "report.html", tmp_path / "report.md"
    res = CliRunner().invoke(main, ["report", "--out", str(out), "--html", str(html_path), "--md", str(md_path),
                                    *extra])
    return res, html_path.read_text() if html_path.exists() else "", md_path.read_text() if md_path.exists() else ""


def test_report_is_audit_evidence_and_renders_in_chromium(out, tmp_path):
    res, page, md = report(out, tmp_path)
    assert res.exit_code == 0, res.output
    assert "<svg" in page and "<script" not in page and "http" not in page.replace("http://www.w3.org/2000/svg", "")
    for needle in ("Scope of this report", "phiscan version", "config hash / rules hash", "fields skipped by selectors",
                   "days missing", "vercel: 6 events on 2 day(s)", "sentry: 1 events on 1 day(s)",
                   "Methodology", "Known limits", "Summary.", "@media print"):
        assert needle in page, needle
    assert re.search(r"From 2025-11-22 to 2025-11-23, phiscan \S+ scanned 7 events from vercel, sentry\. Every day",
                     page)
    statuses = dict(re.findall(r"<td>(SOC 2 CC6\.1|SOC 2 CC7\.2|HIPAA §164\.514\(b\))</td>.*?"
                               r'<td class="status \w+">([a-z ]+)</td>', page))
    assert statuses == {"SOC 2 CC6.1": "evidence present", "SOC 2 CC7.2": "evidence present",
                        "HIPAA §164.514(b)": "exceptions"}
    assert "about 4 individual(s) (estimated from 4 distinct identifiers" in page
    assert "no baseline" in page and "New against the accepted baseline (" not in page, "no red count without one"
    assert "Scope" in md and "evidence present" in md and "Methodology" in md
    shot = tmp_path / "report.png"
    proc = chromium(tmp_path, tmp_path / "report.html", "--window-size=1100,2400", f"--screenshot={shot}")
    assert proc.returncode == 0 and shot.exists(), proc.stderr[-2000:]
    png = shot.read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 20_000  # a rendered page, not a blank one
    pdf = tmp_path / "report.pdf"
    proc = chromium(tmp_path, tmp_path / "report.html", f"--print-to-pdf={pdf}", "--no-pdf-header-footer")
    assert proc.returncode == 0 and pdf.read_bytes()[:5] == b"%PDF-", proc.stderr[-2000:]
    assert pdf.read_bytes().count(b"/Type /Page") >= 2 or pdf.read_bytes().count(b"/Type/Page") >= 2


def test_trend_has_full_dates_and_the_header_covers_every_plotted_day(out, tmp_path):
    _, page, _ = report(out, tmp_path)
    labels = re.findall(r'<text [^>]*text-anchor="middle"[^>]*>([^<]+)</text>', page)
    assert labels == ["2025-11-22", "2025-11-23"]
    assert "period 2025-11-22 to 2025-11-23" in page


def test_a_report_over_nothing_says_so_and_fails(tmp_path, engine):
    empty_in = tmp_path / "empty-in"
    empty_in.mkdir()
    (empty_in / "blank.log").write_text("")
    out = tmp_path / "out"
    scan_paths([empty_in], out, engine=engine)
    res, page, md = report(out, tmp_path)
    assert res.exit_code == 1 and "nothing was scanned" in res.output
    assert "NOTHING WAS SCANNED" in page and "NOTHING WAS SCANNED" in md
    assert "No new offenders" not in page and "everything found is in the baseline" not in page
    assert "evidence missing" in page and "evidence present" not in page
    shot = tmp_path / "empty.png"
    proc = chromium(tmp_path, tmp_path / "report.html", "--window-size=1100,1200", f"--screenshot={shot}")
    assert proc.returncode == 0 and shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_no_planted_value_reaches_report_triage_or_fixes(out, engine, tmp_path):
    scan_paths([write_canaries(tmp_path / "canary")], out, engine=engine)
    runner = CliRunner()
    found = runner.invoke(main, ["query", "--out", str(out), "--format", "csv",
                                 "SELECT entity_type, count(*) FROM findings WHERE origin LIKE '%canary%' GROUP BY 1"])
    planted = {line.split(",")[0] for line in found.stdout.splitlines()[1:]}
    assert {"EMAIL_ADDRESS", "MEDICAL_RECORD_NUMBER"} <= planted, "the canaries were detected (else this proves nothing)"
    assert planted & {"API_KEY", "AUTH_TOKEN", "CREDENTIAL"}
    outputs = [report(out, tmp_path)[1], report(out, tmp_path)[2]]
    for fmt in ("table", "json", "csv", "tsv"):
        res = runner.invoke(main, ["triage", "--out", str(out), "--fixes", "--include-suppressed", "--limit", "500",
                                   "--format", fmt])
        assert res.exit_code == 0, res.output
        outputs.append(res.output)
    blob = "\n".join(outputs)
    for value in [*CANARIES, *EMAILS, SSN, "qv.canary.7731%40gmail.com"]:
        assert value not in blob, f"a planted value leaked: {value[:3]}…"
