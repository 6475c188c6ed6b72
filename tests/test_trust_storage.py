"""Nothing raw is stored: canaries in routes, keys, ids and messages never reach any column, view or report.

Values hide in the descriptive columns too: a request path (`/api/patients/<email>`), a
Sentry transaction name, a JSON key that is itself a value, a query parameter name, an
id field the selectors skip. Every one of them is planted here with a unique canary, a
real scan writes Parquet and DuckDB, and every row of every view, the HTML and Markdown
reports, triage (with fixes) and the errors table are searched for the canaries.
"""

from __future__ import annotations

import json

import duckdb
from click.testing import CliRunner

from pipeline.cli import main
from pipeline.runtime.scan import scan_paths

CANARIES = ["jane.roe@canary-mail.org", "tom.w@canary-mail.org", "maria.k@canary-mail.org", "536-90-4399",
            "ann.lee@canary-mail.org", "kid.one@canary-mail.org"]


def planted_inputs(tmp_path):
    vercel = {"id": "jane.roe@canary-mail.org", "deploymentId": "dpl_1", "projectId": "prj_1", "source": "lambda",
              "timestamp": 1764547200000, "level": "info", "host": "app.example.com",
              "proxy": {"path": "/api/patients/jane.roe@canary-mail.org/records?ssn=536-90-4399", "method": "GET",
                        "host": "app.example.com"},
              "message": json.dumps({"extra": {"maria.k@canary-mail.org": {"dob": "1984-03-12"}}})}
    sentry = {"event_id": "a" * 32, "level": "error", "platform": "javascript",
              "transaction": "/api/users/tom.w@canary-mail.org/settings",
              "request": {"url": "https://app.example.com/u?ann.lee@canary-mail.org=1"},
              "extra": {"tom.w@canary-mail.org": {"ssn": "536-90-4399"}, "note": "kid.one@canary-mail.org"},
              "message": "boom"}
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "drain.ndjson").write_text(json.dumps(vercel) + "\n")
    (tmp_path / "in" / "event.json").write_text(json.dumps(sentry))
    return tmp_path / "in"


def all_text(db) -> str:
    con = duckdb.connect(str(db), read_only=True)
    try:
        names = [r[0] for r in con.execute("SELECT view_name FROM duckdb_views() WHERE NOT internal").fetchall()]
        names += [r[0] for r in con.execute("SELECT table_name FROM duckdb_tables()").fetchall()]
        chunks = []
        for name in names:
            chunks.append(repr(con.execute(f'SELECT * FROM "{name}"').fetchall()))
        return "\n".join(chunks)
    finally:
        con.close()


def test_no_canary_in_any_stored_column_view_or_report(engine, tmp_path, monkeypatch):
    monkeypatch.setenv("PHISCAN_FINGERPRINT_KEY", "storage-test-key-not-a-secret")
    out = tmp_path / "out"
    summary = scan_paths([planted_inputs(tmp_path)], out, engine=engine)
    assert summary.findings >= 5 and summary.errors == 0
    text = all_text(out / "findings.duckdb")
    assert "[EMAIL_ADDRESS]" in text  # routes, keys and paths are there, templated
    leaked = [c for c in CANARIES if c in text]
    assert not leaked, f"raw values stored: {leaked}"
    runner = CliRunner()
    for args in (["report", "--out", str(out), "--md", str(tmp_path / "r.md"), "--html", str(tmp_path / "r.html")],
                 ["triage", "--out", str(out), "--fixes", "--format", "json"],
                 ["query", "--out", str(out), "SELECT * FROM flagged_events"]):
        res = runner.invoke(main, args)
        assert res.exit_code == 0, res.output
        leaked = [c for c in CANARIES if c in res.output]
        assert not leaked, (args[0], leaked)
    for report in (tmp_path / "r.md", tmp_path / "r.html"):
        body = report.read_text()
        assert not [c for c in CANARIES if c in body], report.name


def test_route_template_keeps_the_shape_of_the_route(engine, tmp_path, monkeypatch):
    monkeypatch.setenv("PHISCAN_FINGERPRINT_KEY", "storage-test-key-not-a-secret")
    out = tmp_path / "out"
    scan_paths([planted_inputs(tmp_path)], out, engine=engine)
    con = duckdb.connect(str(out / "findings.duckdb"), read_only=True)
    routes = {r[0] for r in con.execute("SELECT DISTINCT route FROM findings").fetchall()}
    paths = {r[0] for r in con.execute("SELECT DISTINCT field_path FROM findings").fetchall()}
    ids = {r[0] for r in con.execute("SELECT DISTINCT event_id FROM findings").fetchall()}
    con.close()
    assert "/api/patients/[EMAIL_ADDRESS]/records" in routes
    assert "/api/users/[EMAIL_ADDRESS]/settings" in routes
    assert 'extra["[EMAIL_ADDRESS]"].ssn' in paths
    assert any(i.startswith("id:") for i in ids)  # the drain id that held an email: a keyed hash
    assert "a" * 32 in ids  # a machine id stays as it is
