"""`--workers N` and byte-range units give exactly the findings of one worker."""

import duckdb

from pipeline.runtime.scan import scan_paths


def finding_ids(out):
    con = duckdb.connect(str(out / "findings.duckdb"))
    try:
        return {r[0] for r in con.execute("SELECT finding_id FROM findings").fetchall()}, \
            con.execute("SELECT sum(events) FROM coverage").fetchone()[0]
    finally:
        con.close()


def test_two_workers_and_ranges_match_one_worker(corpus, engine, tmp_path):
    one = scan_paths([corpus], tmp_path / "one", engine=engine, workers=1)
    # small units force the NDJSON file to be cut into byte ranges
    two = scan_paths([corpus], tmp_path / "two", engine=engine, workers=2, unit_bytes=64 << 10)
    assert one.events == two.events and one.findings == two.findings
    ids1, cov1 = finding_ids(tmp_path / "one")
    ids2, cov2 = finding_ids(tmp_path / "two")
    assert ids1 == ids2 and cov1 == cov2 == one.events


def test_range_origins_keep_true_line_numbers(engine, tmp_path):
    import json

    src = tmp_path / "d.ndjson"
    rec = {"id": "x", "deploymentId": "d", "source": "lambda", "projectId": "p", "message": "email a.b@gmail.com"}
    src.write_text("".join(json.dumps(dict(rec, id=f"e{i}")) + "\n" for i in range(300)))
    scan_paths([src], tmp_path / "o", engine=engine, workers=2, unit_bytes=4096)
    con = duckdb.connect(str(tmp_path / "o" / "findings.duckdb"))
    rows = con.execute("SELECT event_id, origin FROM findings").fetchall()
    assert len(rows) == 300
    assert all(origin == f"{src}:{int(eid[1:]) + 1}" for eid, origin in rows)



def test_workers_are_forked_without_loading_the_model_no_text_needs(config, tmp_path):
    """Before forking, the parent prepares patterns and word lists, not spaCy: machine logs never need it."""
    import json

    from connectors.files import split_lines_file
    from pipeline.engine.fingerprint import Fingerprinter
    from pipeline.engine.scanner import ScanEngine

    engine = ScanEngine(config, Fingerprinter(b"test-key-not-secret"))  # its own: no other test loaded its model
    before = dict(engine.analyzer.stats)
    engine.analyzer.prepare()
    assert engine.analyzer.stats == before and not engine.analyzer._cache  # nothing counted or kept
    src = tmp_path / "d.ndjson"
    rec = {"id": "x", "deploymentId": "d", "source": "lambda", "projectId": "p", "message": "GET /api/health 200 in 3ms"}
    src.write_text("".join(json.dumps(dict(rec, id=f"e{i}")) + "\n" for i in range(24_000)))  # 2.8 MB
    assert len(split_lines_file(src, 1 << 20)) > 1  # units for two workers (a range is at least 1 MB)
    summary = scan_paths([src], tmp_path / "o", engine=engine, workers=2, unit_bytes=1 << 20)
    assert summary.events == 24_000
    assert not engine.analyzer.model_loaded


def test_units_are_sized_by_the_file_alone(tmp_path):
    """At least 16 units a file where each keeps 1 MB (2 workers balance), never over the cap, and the
    same plan for the same file whatever else is scanned with it (a re-scan rewrites its own parts)."""
    from pipeline.runtime.build import build
    from pipeline.config import Config
    from pipeline.runtime.scan import MIN_UNIT_BYTES, UNIT_BYTES, ScanSummary, plan_units, unit_size

    assert unit_size(200 << 20) == UNIT_BYTES
    assert unit_size(35 << 20) == (35 << 20) // 16
    assert unit_size(10 << 20) == unit_size(1 << 10) == MIN_UNIT_BYTES
    assert unit_size(35 << 20, unit_bytes=4096) == 4096  # an explicit smaller cap wins
    line = b'{"id":"e","deploymentId":"d","source":"lambda","projectId":"p","message":"' + b"x" * 900 + b'"}\n'
    big, small = tmp_path / "big.ndjson", tmp_path / "small.ndjson"
    big.write_bytes(line * (24 * 1024))  # 22.6 MB
    small.write_bytes(line * 100)
    store = build(Config(), out_dir=tmp_path / "o").store

    def plan(*paths):
        return [(u.path.name, u.byte_range) for u in plan_units(list(paths), "auto", ScanSummary(), store)]

    alone = plan(big)
    assert len(alone) == 16 and all(r.end - r.start <= unit_size(big.stat().st_size) + len(line) for _, r in alone)
    assert [u for u in plan(big, small) if u[0] == "big.ndjson"] == alone
