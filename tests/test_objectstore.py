"""`s3://bucket/prefix` inputs through fsspec/s3fs, against moto's S3 server on loopback.

The client finds the server and its (fake) credentials through the ordinary AWS
chain (`AWS_ENDPOINT_URL`, `AWS_ACCESS_KEY_ID`, ...): phiscan takes no credentials.
"""

from __future__ import annotations

import json

import duckdb
import pytest

from tests.kafka_broker import free_port

DRAIN = {"id": "s1", "deploymentId": "dpl_1", "projectId": "p", "source": "lambda", "timestamp": 1764547200000,
         "message": "signup jane.doe@gmail.com"}


@pytest.fixture()
def s3(monkeypatch):
    pytest.importorskip("s3fs", reason="s3fs is the [cloud] extra")
    from moto.server import ThreadedMotoServer

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    url = f"http://127.0.0.1:{port}"
    for name, value in {"AWS_ENDPOINT_URL": url, "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                        "AWS_DEFAULT_REGION": "us-east-1"}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    import boto3
    import fsspec

    client = boto3.client("s3", endpoint_url=url)
    client.create_bucket(Bucket="drains")
    import s3fs

    s3fs.S3FileSystem.clear_instance_cache()  # a cached instance would still talk to the previous test's server
    fsspec.filesystem("s3").invalidate_cache()
    yield client
    server.stop()


def test_scan_an_s3_prefix(s3, engine, tmp_path):
    from pipeline.runtime.scan import scan_paths

    s3.put_object(Bucket="drains", Key="2026/12/01/a.ndjson", Body=json.dumps(DRAIN).encode() + b"\n")
    s3.put_object(Bucket="drains", Key="2026/12/01/b.json",
                  Body=json.dumps({"level": "info", "time": 1764547200000, "msg": "ssn 536-90-4399"}).encode())
    s3.put_object(Bucket="drains", Key="other/c.ndjson", Body=b"{}\n")
    out = tmp_path / "out"
    summary = scan_paths(["s3://drains/2026/"], out, engine=engine)
    assert summary.files == 2 and summary.formats == {"vercel": 1, "jsonlogs": 1}
    con = duckdb.connect(str(out / "findings.duckdb"), read_only=True)
    origins = {r[0] for r in con.execute("SELECT DISTINCT origin FROM findings").fetchall()}
    values = con.execute("SELECT * FROM findings").fetchall()
    con.close()
    assert origins == {"s3://drains/2026/12/01/a.ndjson:1", "s3://drains/2026/12/01/b.json:1"}
    assert "jane.doe@gmail.com" not in repr(values) and "536-90-4399" not in repr(values)
    assert not [p for p in out.iterdir() if p.name.startswith(".spool-")]


def test_a_missing_bucket_is_an_error_not_a_crash(s3, engine, tmp_path):
    from pipeline.runtime.scan import scan_paths

    summary = scan_paths(["s3://no-such-bucket/x/"], tmp_path / "out", engine=engine)
    assert summary.files == 0 and summary.errors == 1
    assert any("cannot list objects" in r or "cannot read object" in r for r in summary.error_reasons)


def test_scan_cli_takes_an_s3_url(s3, tmp_path, monkeypatch):
    from click.testing import CliRunner

    from pipeline.cli import main

    monkeypatch.setenv("PHISCAN_FINGERPRINT_KEY", "objectstore-test-key-not-a-secret")
    s3.put_object(Bucket="drains", Key="cli/a.ndjson", Body=json.dumps(DRAIN).encode() + b"\n")
    res = CliRunner().invoke(main, ["scan", "s3://drains/cli/", "--out", str(tmp_path / "out"), "--workers", "1"])
    assert res.exit_code == 0, res.output
    con = duckdb.connect(str(tmp_path / "out" / "findings.duckdb"), read_only=True)
    assert con.execute("SELECT count(*) FROM findings").fetchone()[0] >= 1
    con.close()
