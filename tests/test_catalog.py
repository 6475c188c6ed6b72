"""findings.duckdb: LIMIT honoured over the de-duplicating views, busy databases retried, no database in
foreign directories, and the analyst side never loads the spaCy model."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import duckdb
import pytest
from click.testing import CliRunner

from pipeline.cli import main
from pipeline.storage import catalog
from tests.analyst_data import scanned_out


@pytest.fixture()
def out(engine, tmp_path, monkeypatch):
    return scanned_out(engine, tmp_path, monkeypatch)


def test_limit_is_honoured_over_the_deduplicating_views(out):
    con = catalog.connect(out)
    try:
        assert con.execute("SELECT count(*) FROM findings").fetchall()[0][0] == 6
        assert len(con.execute("SELECT * FROM findings LIMIT 3").fetchall()) == 3
        assert len(con.execute("SELECT * FROM flagged_events LIMIT 2").fetchall()) == 2
        assert len(con.execute("SELECT * FROM offenders LIMIT 1").fetchall()) == 1
        assert "_phiscan_rank" not in [d[0] for d in con.execute("SELECT * FROM findings LIMIT 1").description]
    finally:
        con.close()


def test_a_replayed_part_is_still_one_row_per_finding(out):
    part = next((out / "findings").rglob("*.parquet"))
    part.with_name("part-replay.parquet").write_bytes(part.read_bytes())
    con = catalog.connect(out)
    try:
        assert con.execute("SELECT count(*) - count(DISTINCT finding_id) FROM findings").fetchall()[0][0] == 0
    finally:
        con.close()


def test_the_distinct_count_grows_its_memory_only_when_it_must(out, monkeypatch):
    """The scan's own count starts in little memory, counts again with more when DuckDB runs out, and
    says "not counted" (None) rather than fail a scan whose findings are already written."""
    part = next((out / "findings").rglob("*.parquet"))
    part.with_name("part-replay.parquet").write_bytes(part.read_bytes())  # duplicates count once
    assert catalog.distinct_findings(out) == 6
    assert catalog.distinct_findings(out, limits=("256KB", "24MB")) == 6
    assert catalog.distinct_findings(out, limits=("256KB",)) is None
    assert catalog.distinct_findings(out / "nothing-here") == 0


def test_a_database_in_use_is_retried(out, monkeypatch):
    calls = []
    real = catalog._refresh

    def busy_twice(root, policy):
        calls.append(1)
        if len(calls) <= 2:
            raise duckdb.ResourceInUseException("Could not set lock on file: Conflicting lock is held")
        return real(root, policy)

    monkeypatch.setattr(catalog, "_refresh", busy_twice)
    monkeypatch.setattr(catalog.time, "sleep", lambda s: None)
    assert catalog.refresh(out) == out / catalog.DB_NAME
    assert len(calls) == 3


def test_analyst_commands_create_nothing_in_a_foreign_directory(tmp_path):
    foreign = tmp_path / "photos"
    foreign.mkdir()
    (foreign / "cat.jpg").write_bytes(b"\xff\xd8\xff")
    for args in (["query", "--out", str(foreign), "SELECT 1"], ["report", "--out", str(foreign), "--md", "r.md"],
                 ["triage", "--out", str(foreign)], ["baseline", "--out", str(foreign)],
                 ["purge", "--out", str(foreign), "--before", "2020-01-01"]):
        res = CliRunner().invoke(main, args)
        assert res.exit_code == 2, (args, res.output)
        assert "not a phiscan output directory" in res.output
    assert sorted(p.name for p in foreign.iterdir()) == ["cat.jpg"]


def test_analyst_commands_never_import_spacy(out, tmp_path):
    script = textwrap.dedent(f"""
        import sys
        from click.testing import CliRunner
        from pipeline.cli import main
        runner = CliRunner()
        for args in (["query", "--out", {str(out)!r}, "SELECT count(*) FROM findings"],
                     ["triage", "--out", {str(out)!r}, "--fixes"],
                     ["report", "--out", {str(out)!r}, "--html", {str(tmp_path / 'r.html')!r}],
                     ["baseline", "--out", {str(out)!r}, "--file", {str(tmp_path / 'b.yaml')!r}]):
            res = runner.invoke(main, args)
            assert res.exit_code == 0, (args, res.output, res.exception)
        heavy = sorted(m for m in ("spacy", "presidio_analyzer", "thinc", "torch") if m in sys.modules)
        print("HEAVY=" + ",".join(heavy))
    """)
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300,
                          cwd=str(tmp_path), env={"PYTHONPATH": str(catalog.Path(catalog.__file__).parents[2]),
                                                  "PATH": "/usr/bin:/bin"})
    assert proc.returncode == 0, proc.stderr
    assert "HEAVY=\n" in proc.stdout, proc.stdout
