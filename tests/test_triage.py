"""Analyst views against hand-computed figures; suppressions, baselines, --fail-on-new; fixes; purge."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from datetime import date
from pathlib import Path

import duckdb
import pytest
from click.testing import CliRunner

from pipeline.analyst.fixes import suggest
from pipeline.cli import main
from pipeline.runtime.scan import scan_paths
from tests.analyst_data import EMAILS, SSN, scanned_out, write_linked


@pytest.fixture()
def db(engine, tmp_path, monkeypatch):
    return scanned_out(engine, tmp_path, monkeypatch)


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
        (date(2025, 11, 22), "vercel", "EMAIL_ADDRESS", 4),
        (date(2025, 11, 23), "sentry", "EMAIL_ADDRESS", 1),
        (date(2025, 11, 23), "vercel", "US_SSN", 1),
    ]
    total = {r[0]: r[1:] for r in q(db, "SELECT entity_type, identifiers, estimated_individuals, "
                                        "seen_in_several_sources FROM affected_individuals_total")}
    assert total == {"EMAIL_ADDRESS": (3, 3, 1), "US_SSN": (1, 1, 0)}
    per_day = q(db, "SELECT project, day, identifiers FROM affected_individuals WHERE project = 'telecare'")
    assert [(p, n) for p, _, n in per_day] == [("telecare", 3)]
    cov = dict(((s, p), n) for s, p, n in q(db, "SELECT source, project, sum(events) FROM coverage GROUP BY 1, 2"))
    assert cov == {("vercel", "telecare"): 5, ("vercel", "billing"): 1, ("sentry", None): 1}
    assert q(db, "SELECT count(*) FROM new_findings")[0][0] == 3  # no baseline yet


def test_identifiers_seen_together_are_one_estimated_individual(db, engine, tmp_path):
    """4 emails + 1 SSN + 1 MRN + 1 phone = 7 identifiers, but the MRN and the phone appear with email 0:
    5 estimated individuals, not the 7 a sum across types gives."""
    scan_paths([write_linked(tmp_path / "more")], db, engine=engine)
    est, identifiers = q(db, "SELECT estimated_individuals, identifiers FROM individuals_estimate")[0]
    assert (est, identifiers) == (3 + 1, 3 + 1 + 2)
    groups = q(db, "SELECT individual, list(entity_type ORDER BY entity_type) FROM individual_groups "
                   "GROUP BY 1 HAVING count(*) > 1")
    assert [g[1] for g in groups] == [["EMAIL_ADDRESS", "MEDICAL_RECORD_NUMBER", "PHONE_NUMBER"]]


def test_staff_identifiers_are_not_counted_as_patients(db, tmp_path):
    fp = q(db, "SELECT DISTINCT fingerprint FROM findings WHERE source = 'sentry'")[0][0]
    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "staff.yaml").write_text(f"staff:\n  fingerprints: ['{fp}']\n"
                                                    "  email_domains: [proton.me]\n  entity_types: [US_NPI]\n")
    res = CliRunner().invoke(main, ["query", "--out", str(db), "--format", "json",
                                    "SELECT * FROM individuals_estimate"])
    assert res.exit_code == 0, res.output
    row = json.loads(res.stdout)[0]
    # 3 emails + 1 SSN; the Sentry email (bo.chen) by fingerprint and cy.diaz by its domain are staff
    assert (row["estimated_individuals"], row["staff_identifiers_excluded"]) == (2, 2)


def test_suppression_and_baseline_round_trip(db):
    runner = CliRunner()
    res = runner.invoke(main, ["suppress", "--out", str(db), "--field-path", "user.*", "--entity", "EMAIL_ADDRESS",
                               "--kind", "accepted_risk", "--reason", "support tooling; BAA signed", "--author",
                               "sec@acme", "--expires", "2099-01-01"])
    assert res.exit_code == 0, res.output
    assert Path("config/suppressions.yaml").exists()  # next to the output directory
    res = runner.invoke(main, ["triage", "--out", str(db), "--format", "json"])
    rows = json.loads(res.stdout)
    assert {r["field_path"] for r in rows} == {"message"}, "suppressed offender hidden from triage"
    assert q(db, "SELECT count(*) FROM findings WHERE suppressed")[0][0] == 1  # kept, flagged
    assert q(db, "SELECT suppression_reason FROM findings WHERE suppressed")[0][0] == "support tooling; BAA signed"
    res = runner.invoke(main, ["baseline", "--out", str(db)])
    assert res.exit_code == 0 and Path("config/baseline.yaml").exists()
    assert q(db, "SELECT count(*) FROM new_findings")[0][0] == 0


def test_policy_files_are_found_next_to_the_output_dir_not_the_cwd(db, tmp_path, monkeypatch):
    runner = CliRunner()
    assert runner.invoke(main, ["baseline", "--out", str(db)]).exit_code == 0
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    res = runner.invoke(main, ["triage", "--out", str(db)])
    assert res.exit_code == 0 and "no baseline file" not in res.stderr
    assert "no suppressions file" in res.stderr and str(tmp_path / "config") in res.stderr
    res = runner.invoke(main, ["triage", "--out", str(db), "--baseline", str(elsewhere / "none.yaml")])
    assert "no baseline file (given" in res.stderr


def test_fail_on_new(db, engine, tmp_path):
    runner = CliRunner()
    assert runner.invoke(main, ["baseline", "--out", str(db)]).exit_code == 0
    again = runner.invoke(main, ["scan", str(tmp_path / "in"), "--out", str(db), "--fail-on-new"])
    assert again.exit_code == 0, again.output
    new = tmp_path / "new.ndjson"
    new.write_text(json.dumps({"id": "n9", "projectName": "telecare", "timestamp": 1763942400000, "source": "lambda",
                               "message": "card 4242 4242 4242 4242 declined",
                               "proxy": {"path": "/api/pay", "method": "POST"}}) + "\n")
    res = runner.invoke(main, ["scan", str(new), "--out", str(db), "--fail-on-new"])
    assert res.exit_code == 1 and "not in the baseline: 1" in res.output


def test_secrets_rank_above_client_ips(db, engine, tmp_path):
    lines = [{"id": f"ip{i}", "projectName": "telecare", "timestamp": 1763769600000 + i, "source": "lambda",
              "message": "request done", "proxy": {"path": "/api/intake", "clientIp": f"73.22.19.{i}"}} for i in range(1, 9)]
    lines.append({"id": "key1", "projectName": "telecare", "timestamp": 1763769600000, "source": "lambda",
                  "message": "stripe sk_live_" + "4eC39HqLyjWDarjtT1zdp7dc9" + " loaded", "proxy": {"path": "/api/x"}})
    src = tmp_path / "ips.ndjson"
    src.write_text("".join(json.dumps(r) + "\n" for r in lines))
    scan_paths([src], db, engine=engine)
    res = CliRunner().invoke(main, ["triage", "--out", str(db), "--format", "json", "--fixes"])
    rows = json.loads(res.stdout)
    types = [r["entity_type"] for r in rows]
    assert "IP_ADDRESS" in types and "API_KEY" in types
    ip = next(r for r in rows if r["entity_type"] == "IP_ADDRESS")
    assert ip["findings"] > next(r for r in rows if r["entity_type"] == "API_KEY")["findings"]
    assert types.index("API_KEY") < types.index("IP_ADDRESS"), "a live key outranks more frequent client IPs"
    from pipeline.analyst.report import collect

    report_types = [r[3] for r in collect(db).offenders]
    assert report_types.index("API_KEY") < report_types.index("IP_ADDRESS"), "the report ranks by severity first"
    assert "ROTATE" in next(r["fix"] for r in rows if r["entity_type"] == "API_KEY")


def test_fixes_name_paths_never_values(db):
    res = CliRunner().invoke(main, ["triage", "--out", str(db), "--fixes", "--format", "json"])
    rows = json.loads(res.stdout)
    assert all(r["fix"] for r in rows)
    assert not any(e in res.output for e in EMAILS) and SSN not in res.output
    assert "Advanced Data Scrubbing" in suggest("sentry", "request.data.email", "EMAIL_ADDRESS")
    assert "redact" in suggest("vercel", "message", "EMAIL_ADDRESS", "email")
    assert "Protocols" in suggest("segment", "traits.email", "EMAIL_ADDRESS")


def test_fixes_are_right_for_the_source_and_field():
    db_url = suggest("vercel", "message", "CREDENTIAL", "DATABASE_URL")
    assert db_url.startswith("ROTATE") and "request bodies" not in db_url and "DATABASE_URL" in db_url
    stripe = suggest("vercel", "message", "API_KEY", "key", "/api/checkout")
    assert "ROTATE" in stripe and "/api/checkout" in stripe and "pino" not in stripe
    auth = suggest("sentry", "request.headers.Authorization", "AUTH_TOKEN", "Authorization")
    assert "Auth in URLs" not in auth and "[Remove] [Anything] from [request.headers.Authorization]" in auth
    assert "[Mask] [US social security numbers]" in suggest("sentry", "exception.values[0].value", "US_SSN")
    assert "[Mask] [Email addresses]" in suggest("sentry", "breadcrumbs.values[3].message", "EMAIL_ADDRESS")
    dob = suggest("vercel", "proxy.path", "DATE_OF_BIRTH", "dob")
    assert "IP" not in dob and "URL" in dob
    assert "IP Address" not in suggest("vercel", "proxy.path", "EMAIL_ADDRESS")
    assert "clientIp" in suggest("vercel", "proxy.clientIp", "IP_ADDRESS")
    span = suggest("vercel-traces", 'attributes["user.email"]', "EMAIL_ADDRESS")
    assert "OpenTelemetry" in span and "Web Analytics" not in span and "track()" not in span


def test_sentry_before_send_is_valid_javascript():
    node = shutil.which("node")
    if not node:
        pytest.skip("node is not installed: cannot execute the suggested beforeSend code")
    cases = [('request.cookies["__Secure-next-auth.session-token"]', "AUTH_TOKEN", None),
             ("exception.values[0].stacktrace.frames[2].vars.email", "EMAIL_ADDRESS", "email"),
             ("request.headers[1][1]", "AUTH_TOKEN", "Cookie"), ("user.email", "EMAIL_ADDRESS", "email")]
    statements = []
    for path, entity, key in cases:
        fix = suggest("sentry", path, entity, key)
        statements.append(re.search(r"`beforeSend\(event\)`: `(.+?)`; keep", fix).group(1))
    assert 'cookies?.["__Secure-next-auth.session-token"]' in statements[0]
    event = {"request": {"cookies": {"__Secure-next-auth.session-token": "t", "theme": "dark"},
                         "headers": [["Accept", "x"], ["Cookie", "c"]]},
             "exception": {"values": [{"stacktrace": {"frames": [{"vars": {"email": "e", "n": 1}}]}}]},
             "user": {"email": "e", "id": "1"}}
    script = f"const event = {json.dumps(event)};\n" + "\n".join(statements) + "\nconsole.log(JSON.stringify(event));"
    proc = subprocess.run([node, "-e", script], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == {
        "request": {"cookies": {"theme": "dark"}, "headers": [["Accept", "x"]]},
        "exception": {"values": [{"stacktrace": {"frames": [{"vars": {"n": 1}}]}}]}, "user": {"id": "1"}}


def test_purge_removes_old_partitions(db):
    res = CliRunner().invoke(main, ["purge", "--out", str(db), "--before", "2025-11-23", "--dry-run"])
    assert res.exit_code == 0 and "would delete 1 day(s)" in res.output
    assert q(db, "SELECT count(*) FROM findings")[0][0] == 6, "a dry run deletes nothing"
    res = CliRunner().invoke(main, ["purge", "--out", str(db), "--before", "2025-11-23"])
    assert res.exit_code == 2 and "--yes" in res.output, "no terminal to confirm on: refuse without --yes"
    res = CliRunner().invoke(main, ["purge", "--out", str(db), "--before", "2025-11-23", "--yes"])
    assert res.exit_code == 0 and "deleted 1 day(s) from 2025-11-22 to 2025-11-22" in res.output
    assert q(db, "SELECT min(CAST(event_time AS DATE)) FROM findings")[0][0].isoformat() == "2025-11-23"
    assert q(db, "SELECT count(*) FROM findings")[0][0] == 2


def test_purge_with_a_future_cutoff_needs_yes(db):
    res = CliRunner().invoke(main, ["purge", "--out", str(db), "--before", "2099-01-01"])
    assert res.exit_code == 2 and "in the future" in res.output
    assert q(db, "SELECT count(*) FROM findings")[0][0] == 6
    res = CliRunner().invoke(main, ["purge", "--out", str(db), "--before", "2099-01-01", "--dry-run"])
    assert "would delete 2 day(s)" in res.output  # two days across two sources, not "4 partitions"
