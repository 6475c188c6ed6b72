"""Analyst views against hand-computed figures; suppressions, baselines, --fail-on-new; the HTML report."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import duckdb
import pytest
from click.testing import CliRunner

from pipeline.cli import main
from pipeline.analyst.fixes import suggest
from pipeline.runtime.scan import scan_paths

EMAILS = ["ann.lee@gmail.com", "bo.chen@yahoo.com", "cy.diaz@proton.me"]


def rec(i, day, message, project="telecare", path="/api/intake"):
    return {"id": f"e{i}", "deploymentId": "d", "source": "lambda", "projectId": "p", "projectName": project,
            "timestamp": 1763769600000 + day * 86400000 + i, "level": "info", "message": message,
            "proxy": {"timestamp": 1, "method": "POST", "host": "h", "path": path, "userAgent": ["UA"],
                      "region": "iad1"}}


@pytest.fixture()
def db(engine, tmp_path, monkeypatch):
    """Day 0: 3 emails (one twice) on /api/intake; day 1: an SSN on /api/billing (project 'billing');
    day 1: a Sentry event with one of the same emails. Cross-source: 1 email seen in 2 sources."""
    monkeypatch.chdir(tmp_path)
    src = tmp_path / "in"
    src.mkdir()
    lines = [rec(1, 0, f"signup {EMAILS[0]}"), rec(2, 0, f"signup {EMAILS[1]}"), rec(3, 0, f"signup {EMAILS[0]}"),
             rec(4, 0, f"signup {EMAILS[2]}"), rec(5, 1, "ssn 512-48-9921 on file", "billing", "/api/billing"),
             rec(6, 1, "GET /api/health 200 in 3ms")]
    (src / "drain.ndjson").write_text("".join(json.dumps(r) + "\n" for r in lines))
    sentry = {"event_id": "a" * 32, "timestamp": "2025-11-23T10:00:00Z", "platform": "node", "level": "error",
              "user": {"email": EMAILS[1]}, "transaction": "/api/intake"}
    (src / "sentry.json").write_text(json.dumps(sentry))
    out = tmp_path / "out"
    scan_paths([src], out, engine=engine)
    return out


def q(out, sql):
    con = duckdb.connect(str(out / "findings.duckdb"))
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def test_views_match_hand_computed_figures(db):
    assert q(db, "SELECT source, route, field_path, entity_type, findings, distinct_values, max_severity "
                 "FROM offenders ORDER BY source, findings DESC") == [
        ("sentry", "/api/intake", "user.email", "EMAIL_ADDRESS", 1, 1, "critical"),  # health route too
        ("vercel", "/api/intake", "message", "EMAIL_ADDRESS", 4, 3, "critical"),  # intake is a health route
        ("vercel", "/api/billing", "message", "US_SSN", 1, 1, "high"),
    ]
    assert q(db, "SELECT day, source, entity_type, findings FROM daily_trend ORDER BY 1, 2, 3") == [
        (__import__("datetime").date(2025, 11, 22), "vercel", "EMAIL_ADDRESS", 4),
        (__import__("datetime").date(2025, 11, 23), "sentry", "EMAIL_ADDRESS", 1),
        (__import__("datetime").date(2025, 11, 23), "vercel", "US_SSN", 1),
    ]
    total = dict((r[0], r[1:3]) for r in q(db, "SELECT entity_type, individuals, seen_in_several_sources "
                                               "FROM affected_individuals_total"))
    assert total == {"EMAIL_ADDRESS": (3, 1), "US_SSN": (1, 0)}
    per_day = q(db, "SELECT project, day, individuals FROM affected_individuals WHERE project = 'telecare'")
    assert [(p, n) for p, _, n in per_day] == [("telecare", 3)]
    cov = dict(((s, p), n) for s, p, n in q(db, "SELECT source, project, sum(events) FROM coverage GROUP BY 1, 2"))
    assert cov == {("vercel", "telecare"): 5, ("vercel", "billing"): 1, ("sentry", None): 1}
    assert q(db, "SELECT count(*) FROM new_findings")[0][0] == 3  # no baseline yet


def test_suppression_and_baseline_round_trip(db):
    runner = CliRunner()
    res = runner.invoke(main, ["suppress", "--field-path", "user.*", "--entity", "EMAIL_ADDRESS", "--kind",
                               "accepted_risk", "--reason", "support tooling; BAA signed", "--author", "sec@acme",
                               "--expires", "2099-01-01"])
    assert res.exit_code == 0, res.output
    assert Path("config/suppressions.yaml").exists()
    res = runner.invoke(main, ["triage", "--out", str(db), "--format", "json"])
    rows = json.loads(res.output)
    assert {r["field_path"] for r in rows} == {"message"}, "suppressed offender hidden from triage"
    assert q(db, "SELECT count(*) FROM findings WHERE suppressed")[0][0] == 1  # kept, flagged
    assert q(db, "SELECT suppression_reason FROM findings WHERE suppressed")[0][0] == "support tooling; BAA signed"
    res = runner.invoke(main, ["baseline", "--out", str(db)])
    assert res.exit_code == 0 and Path("config/baseline.yaml").exists()
    assert q(db, "SELECT count(*) FROM new_findings")[0][0] == 0


def test_fail_on_new(db, engine, tmp_path):
    runner = CliRunner()
    assert runner.invoke(main, ["baseline", "--out", str(db)]).exit_code == 0
    again = runner.invoke(main, ["scan", str(tmp_path / "in"), "--out", str(db), "--fail-on-new"])
    assert again.exit_code == 0, again.output
    new = tmp_path / "new.ndjson"
    new.write_text(json.dumps(rec(9, 2, "card 4242 4242 4242 4242 declined", path="/api/pay")) + "\n")
    res = runner.invoke(main, ["scan", str(new), "--out", str(db), "--fail-on-new"])
    assert res.exit_code == 1 and "not in the baseline: 1" in res.output


def test_fixes_name_paths_never_values(db):
    res = CliRunner().invoke(main, ["triage", "--out", str(db), "--fixes", "--format", "json"])
    rows = json.loads(res.output)
    assert all(r["fix"] for r in rows)
    blob = res.output
    assert not any(e in blob for e in EMAILS) and "512-48-9921" not in blob
    assert "Advanced Data Scrubbing" in suggest("sentry", "request.data.email", "EMAIL_ADDRESS")
    assert "redact" in suggest("vercel", "message", "EMAIL_ADDRESS", "email")
    assert "property" in suggest("segment", "traits.email", "EMAIL_ADDRESS")


def test_purge_removes_old_partitions(db):
    res = CliRunner().invoke(main, ["purge", "--out", str(db), "--before", "2025-11-23"])
    assert res.exit_code == 0
    assert q(db, "SELECT min(CAST(event_time AS DATE)) FROM findings")[0][0].isoformat() == "2025-11-23"
    assert q(db, "SELECT count(*) FROM findings")[0][0] == 2


def test_html_report_renders_in_chromium(db, tmp_path):
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if not chromium:
        pytest.skip("Debian's chromium is not installed (make test installs it when run as root)")
    html_path, md_path = tmp_path / "report.html", tmp_path / "report.md"
    res = CliRunner().invoke(main, ["report", "--out", str(db), "--html", str(html_path), "--md", str(md_path)])
    assert res.exit_code == 0, res.output
    page = html_path.read_text()
    assert "<svg" in page and "<script" not in page and "http" not in page.replace("http://www.w3.org/2000/svg", "")
    for needle in ("CC6.1", "CC6.7", "CC7.2", "C1.1", "P4.x", "164.312(b)", "164.514"):
        assert needle in page
    assert not any(e in page for e in EMAILS) and "512-48-9921" not in page
    assert "164.514" in md_path.read_text()
    shot = tmp_path / "report.png"
    proc = subprocess.run([chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                           "--disable-component-update", "--disable-sync", "--no-first-run",
                           f"--user-data-dir={tmp_path / 'chrome'}", "--window-size=1100,1800",
                           f"--screenshot={shot}", html_path.as_uri()], capture_output=True, timeout=120)
    assert proc.returncode == 0 and shot.exists()
    png = shot.read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 20_000  # a rendered page, not a blank one

