"""`.zip` archives: every member scanned as a file named `archive.zip!member`, within limits, spool removed."""

from __future__ import annotations

import json
import zipfile

import duckdb
import pytest

from connectors.archives import SpooledPath, expand_zip
from core.model import BadRecord
from pipeline.runtime.scan import scan_paths

DRAIN = {"id": "z1", "deploymentId": "dpl_1", "projectId": "p", "source": "lambda", "timestamp": 1764547200000,
         "message": "signup jane.doe@gmail.com"}
PINO = {"level": 30, "time": 1764547200000, "msg": "ssn 536-90-4399 for maria.k@gmail.com"}


def make_zip(path, members: dict[str, bytes], compression=zipfile.ZIP_DEFLATED):
    with zipfile.ZipFile(path, "w", compression) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return path


def test_members_are_scanned_as_files_named_by_the_archive(tmp_path, engine):
    src = tmp_path / "in"
    src.mkdir()
    inner = make_zip(tmp_path / "inner.zip", {"x.ndjson": json.dumps(DRAIN).encode()})
    make_zip(src / "logs.zip", {"vercel/drain.ndjson": json.dumps(DRAIN).encode() + b"\n",
                                "app/pino.log.json": json.dumps(PINO).encode() + b"\n",
                                "nested.zip": inner.read_bytes(), ".hidden": b"x", "README.md": b"# no"})
    out = tmp_path / "out"
    summary = scan_paths([src], out, engine=engine)
    assert summary.files == 2 and summary.formats == {"vercel": 1, "jsonlogs": 1}
    con = duckdb.connect(str(out / "findings.duckdb"), read_only=True)
    origins = {r[0] for r in con.execute("SELECT DISTINCT origin FROM findings").fetchall()}
    errors = con.execute("SELECT origin, reason FROM errors").fetchall()
    con.close()
    assert origins == {f"{src / 'logs.zip'}!vercel/drain.ndjson:1", f"{src / 'logs.zip'}!app/pino.log.json:1"}
    assert errors == [(f"{src / 'logs.zip'}!nested.zip", "nested archive not followed")]
    assert not [p for p in out.iterdir() if p.name.startswith(".spool-")]  # spooled raw input is gone
    again = scan_paths([src], out, engine=engine)  # the same archive again: the same ids, no duplicate
    con = duckdb.connect(str(out / "findings.duckdb"), read_only=True)
    assert con.execute("SELECT count(*) FROM findings").fetchone()[0] == summary.findings == again.findings
    con.close()


def test_inflation_and_member_limits_stop_a_zip_bomb(tmp_path):
    bomb = make_zip(tmp_path / "bomb.zip", {f"part{i}.log": b"a" * (1 << 20) for i in range(4)})
    assert bomb.stat().st_size < 64 << 10
    spool = tmp_path / "spool"
    out = list(expand_zip(bomb, spool, max_total_bytes=(2 << 20) + 10))
    assert [type(o) for o in out] == [SpooledPath, SpooledPath, BadRecord]
    assert "inflates past" in out[-1].reason and "a" * 10 not in out[-1].reason
    assert sum(p.stat().st_size for p in spool.rglob("*") if p.is_file()) <= 2 << 20
    many = list(expand_zip(bomb, tmp_path / "spool2", max_members=1))
    assert isinstance(many[0], BadRecord) and "only the first 1" in many[0].reason and len(many) == 2


@pytest.mark.parametrize("data", [b"PK\x03\x04 truncated", b"not a zip at all"])
def test_corrupt_archives_are_errors(tmp_path, data):
    path = tmp_path / "broken.zip"
    path.write_bytes(data)
    [bad] = list(expand_zip(path, tmp_path / "spool"))
    assert isinstance(bad, BadRecord) and bad.origin == str(path) and "zip" in bad.reason
