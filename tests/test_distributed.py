"""`scan --dask`: a scan on a Dask cluster writes the parts a one-machine scan writes, row for row.

One LocalCluster (two single-threaded worker processes) serves the module: each worker loads
the model once (the runtime is cached per worker process), and the cluster is closed by its
context manager whatever happens. Parts are compared as files: the same relative paths and,
in each, the same rows (minus the scan's own timestamps).
"""

from __future__ import annotations

import gzip
import io
import json
import os
import zipfile
from pathlib import Path

import duckdb
import pyarrow.parquet as pq
import pytest

pytest.importorskip("distributed", reason="Dask scans need the dask extra: pip install 'phiscan[dask]'")
pytestmark = pytest.mark.slow

KEY = "dask-test-key-not-a-secret"  # the key of both sides of a comparison (the conftest engine has another)
UNIT = 16 << 10  # small units: the corpus's NDJSON file is cut into byte ranges
DRAIN = {"id": "x", "deploymentId": "dpl_1", "projectId": "p", "source": "lambda", "timestamp": 1764547200000,
         "message": "signup jane.doe@gmail.com"}
SECRET = "poison.value@example.org"  # what a failing reader's exception carries: it must reach no log
TIMES = {"scanned_at", "seen_at", "recorded_at"}


# -- fixtures ---------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def s3_url():
    """A moto S3 server for the module, its address in the environment *before* the workers start
    (they inherit it: the AWS chain is how they find the store). None without moto/s3fs."""
    try:
        import boto3  # noqa: F401
        import s3fs  # noqa: F401
        from moto.server import ThreadedMotoServer
    except ImportError:
        yield None
        return
    from tests.kafka_broker import free_port

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    url = f"http://127.0.0.1:{port}"
    with pytest.MonkeyPatch.context() as mp:
        for name, value in {"AWS_ENDPOINT_URL": url, "AWS_ACCESS_KEY_ID": "testing",
                            "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1"}.items():
            mp.setenv(name, value)
        mp.delenv("AWS_PROFILE", raising=False)
        s3fs.S3FileSystem.clear_instance_cache()  # an instance cached by an earlier module talks to its server
        try:
            yield url
        finally:
            server.stop()


@pytest.fixture(scope="module")
def cluster(s3_url):
    from distributed import Client, LocalCluster

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address="127.0.0.1:0") as lc, \
            Client(lc) as client:
        yield client


@pytest.fixture(scope="module")
def inputs(tmp_path_factory) -> Path:
    """The generated corpus (NDJSON cut into ranges, a JSON array, gzip) and the awkward cases."""
    from samples.generate import write_corpus

    root = tmp_path_factory.mktemp("dask-in")
    write_corpus(root, 150, seed=5)
    line = json.dumps(DRAIN)
    (root / "bad.ndjson").write_text(line + "\n{not json\n" + json.dumps(dict(DRAIN, id="b2")) + "\n[1, 2\n")
    (root / "app.log.gz").write_bytes(gzip.compress(b"".join(
        json.dumps({"level": "info", "time": 1764547200000, "msg": f"ssn 536-90-43{i:02d} call 415-555-01{i:02d}"})
        .encode() + b"\n" for i in range(30)), mtime=0))
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:  # a local archive: expanded by a worker, not on the client
        zf.writestr("logs/a.ndjson", line + "\n" + json.dumps(dict(DRAIN, id="z2", message="dob 1980-04-12")) + "\n")
        zf.writestr("logs/b.json", json.dumps({"level": "warn", "msg": "mrn MRN-00412231 for John Smith"}))
    (root / "export.zip").write_bytes(buf.getvalue())
    (root / "blob.bin").write_bytes(bytes(range(256)) * 8)  # no format: an error, not a crash
    return root


def _config():
    from pipeline.config import Config

    return Config(fingerprint={"key": KEY})


def _engine():
    from pipeline.engine.fingerprint import Fingerprinter
    from pipeline.engine.scanner import ScanEngine

    if "engine" not in _ENGINE:
        _ENGINE["engine"] = ScanEngine(_config(), Fingerprinter(KEY.encode()))
    return _ENGINE["engine"]


_ENGINE: dict = {}


def parts(out: Path) -> dict[str, list[tuple]]:
    """Every Parquet part under `out`, by relative path: its rows (time columns of the scan left out), sorted."""
    found = {}
    for path in sorted(out.rglob("*.parquet")):
        if any(p.startswith(".") for p in path.relative_to(out).parts):
            continue
        table = pq.read_table(path)
        cols = [c for c in table.column_names if c not in TIMES]
        rows = table.select(cols).to_pylist()
        found[str(path.relative_to(out))] = sorted(
            tuple((k, tuple(v) if isinstance(v, list) else v) for k, v in r.items()) for r in rows)
    return found


def finding_ids(out: Path) -> set[str]:
    con = duckdb.connect(str(out / "findings.duckdb"), read_only=True)
    try:
        return {r[0] for r in con.execute("SELECT DISTINCT finding_id FROM findings").fetchall()}
    finally:
        con.close()


def same_summary(a, b) -> None:
    for name in ("files", "bytes", "events", "findings", "phi_events", "errors", "skipped", "by_entity",
                 "by_source", "error_reasons", "skip_reasons", "skipped_files", "formats"):
        assert getattr(a, name) == getattr(b, name), name


@pytest.fixture(scope="module")
def one_machine(inputs, tmp_path_factory):
    from pipeline.runtime.scan import scan_paths

    out = tmp_path_factory.mktemp("one")
    summary = scan_paths([inputs], out, config=_config(), engine=_engine(), unit_bytes=UNIT)
    return out, summary


@pytest.fixture(scope="module")
def on_dask(inputs, cluster, tmp_path_factory):
    from pipeline.runtime.distributed import scan_paths_dask

    out = tmp_path_factory.mktemp("dask")
    summary = scan_paths_dask([inputs], out, scheduler=cluster, config=_config(), unit_bytes=UNIT)
    return out, summary


# -- the tests ------------------------------------------------------------------------------------
def test_dask_writes_the_parts_of_a_one_machine_scan(one_machine, on_dask):
    (out1, s1), (out2, s2) = one_machine, on_dask
    same_summary(s1, s2)
    assert s1.formats["vercel"] >= 3 and s1.errors >= 3 and s1.skipped_files  # the cases are really there
    assert any(k.startswith("findings/") for k in parts(out1))
    assert len([k for k in parts(out1) if k.startswith("coverage/")]) >= 6  # several ranges, the zip, the gzip
    p1, p2 = parts(out1), parts(out2)
    assert p1.keys() == p2.keys()
    for name in p1:
        assert p1[name] == p2[name], name
    assert finding_ids(out1) == finding_ids(out2) and s1.new_findings == s2.new_findings == len(finding_ids(out1))
    origins = {r[0] for r in duckdb.connect(str(out2 / "findings.duckdb"), read_only=True).execute(
        "SELECT DISTINCT origin FROM findings").fetchall()}
    assert any("export.zip!logs/" in o for o in origins)  # members expanded on a worker keep their names
    assert not [p for p in out2.iterdir() if p.name.startswith(".spool-")]


def test_a_second_dask_run_adds_nothing(inputs, cluster, on_dask):
    from pipeline.runtime.distributed import scan_paths_dask

    out, first = on_dask
    before_ids, before_parts = finding_ids(out), parts(out)
    again = scan_paths_dask([inputs], out, scheduler=cluster, config=_config(), unit_bytes=UNIT)
    assert again.findings == first.findings and again.new_findings == 0
    assert finding_ids(out) == before_ids
    assert parts(out).keys() == before_parts.keys()


def test_the_key_and_the_values_reach_no_log(cluster, on_dask):
    """The key travels in a plugin, never a task argument; workers log names and type names only."""
    logs = repr(cluster.get_worker_logs()) + repr(cluster.get_scheduler_logs())
    assert KEY not in logs and "jane.doe@gmail.com" not in logs
    assert not any(name.startswith("phiscan-scan-") for name in _worker_plugins(cluster))  # removed after the scan


def _worker_plugins(client) -> set[str]:
    return set().union(*client.run(_plugin_names).values())


def _plugin_names(dask_worker) -> set[str]:
    return set(dask_worker.plugins)


def _break_reader(name: str, marker: str | None, dask_worker=None) -> None:
    """On a worker: reading `name` raises an error that carries input bytes (or, with `marker`,
    kills the worker process, once: a restarted worker reads normally)."""
    import pipeline.runtime.scan as scan

    real = scan.__dict__.setdefault("_real_read_events", scan.read_events)

    def read_events(path, *args, **kwargs):
        if Path(os.fspath(path)).name == name:
            if marker is None:
                raise UnicodeDecodeError("utf-8", SECRET.encode(), 0, 1, "invalid start byte")
            if not os.path.exists(marker):
                Path(marker).touch()
                os._exit(1)
        return real(path, *args, **kwargs)

    scan.read_events = read_events


def _mend_reader(dask_worker) -> None:
    import pipeline.runtime.scan as scan

    if "_real_read_events" in scan.__dict__:
        scan.read_events = scan.__dict__.pop("_real_read_events")


def test_a_unit_that_fails_on_a_worker_is_quarantined_then_rescanned(inputs, cluster, one_machine, tmp_path):
    from pipeline.runtime.distributed import scan_paths_dask

    out = tmp_path / "out"
    cluster.run(_break_reader, "bad.ndjson", None)
    try:
        broken = scan_paths_dask([inputs], out, scheduler=cluster, config=_config(), unit_bytes=UNIT)
    finally:
        cluster.run(_mend_reader)
    reason = "scan failed on a worker (UnicodeDecodeError)"
    assert broken.error_reasons[reason] == 1
    con = duckdb.connect(str(out / "findings.duckdb"), read_only=True)
    rows = con.execute("SELECT origin, reason FROM errors WHERE reason = ?", [reason]).fetchall()
    con.close()
    assert rows == [(str(inputs / "bad.ndjson"), reason)]
    logs = repr(cluster.get_worker_logs())
    assert SECRET not in logs  # a type name may be said, never the bytes
    assert SECRET not in repr(list(out.rglob("*.parquet"))) and SECRET.encode() not in b"".join(
        p.read_bytes() for p in out.rglob("*.parquet"))
    fixed = scan_paths_dask([inputs], out, scheduler=cluster, config=_config(), unit_bytes=UNIT)
    assert reason not in fixed.error_reasons
    assert parts(out) == parts(one_machine[0])  # the old failure record went; nothing is doubled


def test_a_worker_that_dies_mid_unit_is_retried_without_duplicates(inputs, cluster, one_machine, tmp_path):
    from pipeline.runtime.distributed import scan_paths_dask

    out = tmp_path / "out"
    cluster.run(_break_reader, "app.log.gz", str(tmp_path / "died-once"))
    try:
        summary = scan_paths_dask([inputs], out, scheduler=cluster, config=_config(), unit_bytes=UNIT)
    finally:
        cluster.run(_mend_reader)
    assert (tmp_path / "died-once").exists()  # a worker really died on it
    same_summary(one_machine[1], summary)
    assert parts(out) == parts(one_machine[0])
    cluster.wait_for_workers(2, timeout=60)


def test_a_wrong_format_inside_an_archive_stops_the_scan_as_on_one_machine(inputs, cluster, tmp_path):
    """The archive is expanded and planned on a worker: its FormatError still reaches the caller."""
    from connectors.registry import FormatError
    from pipeline.runtime.distributed import scan_paths_dask
    from pipeline.runtime.scan import scan_paths

    with pytest.raises(FormatError) as one:
        scan_paths([inputs / "export.zip"], tmp_path / "one", fmt="sentry", config=_config(), engine=_engine())
    with pytest.raises(FormatError) as dask:
        scan_paths_dask([inputs / "export.zip"], tmp_path / "dask", fmt="sentry", scheduler=cluster,
                        config=_config())
    assert str(dask.value) == str(one.value)


def test_s3_objects_are_fetched_by_the_workers(s3_url, cluster, inputs, tmp_path):
    if s3_url is None:
        pytest.skip("the S3 case needs moto[server] and s3fs (the test extra)")
    import boto3

    from pipeline.runtime.distributed import scan_paths_dask
    from pipeline.runtime.scan import scan_paths

    s3 = boto3.client("s3", endpoint_url=s3_url)
    s3.create_bucket(Bucket="lake")
    for path in ["drains/lambda.ndjson", "drains/archive.ndjson.gz", "bad.ndjson", "export.zip", "app.log.gz"]:
        s3.put_object(Bucket="lake", Key=f"2026/{path}", Body=(inputs / path).read_bytes())
    s3.put_object(Bucket="lake", Key="2026/.hidden.ndjson", Body=(inputs / "bad.ndjson").read_bytes())
    urls = ["s3://lake/2026/", "s3://no-such-bucket/x/"]
    one = scan_paths(urls, tmp_path / "one", config=_config(), engine=_engine(), unit_bytes=UNIT)
    dask = scan_paths_dask(urls, tmp_path / "dask", scheduler=cluster, config=_config(), unit_bytes=UNIT)
    same_summary(one, dask)
    assert one.files == 6 and one.findings > 0
    assert any("cannot list objects" in r or "cannot read object" in r for r in one.error_reasons)  # the bucket
    assert parts(tmp_path / "one") == parts(tmp_path / "dask")
    origins = {r[0] for r in duckdb.connect(str(tmp_path / "dask" / "findings.duckdb"), read_only=True).execute(
        "SELECT DISTINCT origin FROM findings").fetchall()}
    assert any(o.startswith("s3://lake/2026/drains/lambda.ndjson:") for o in origins)
    assert any(o.startswith("s3://lake/2026/export.zip!logs/") for o in origins)


def test_cli_dask_local_2(inputs, one_machine, tmp_path, monkeypatch):
    """`phiscan scan --dask local:2`: its own cluster; the key is the output directory's key file."""
    from click.testing import CliRunner

    from pipeline.cli import main
    from pipeline.engine.fingerprint import KEY_FILE, Fingerprinter

    out = tmp_path / "out"
    src = tmp_path / "in"
    src.mkdir()
    (src / "d.ndjson").write_text(json.dumps(DRAIN) + "\n")
    res = CliRunner().invoke(main, ["scan", str(src), "--out", str(out), "--dask", "local:2"])
    assert res.exit_code == 0, res.output
    key = (out / KEY_FILE).read_bytes().strip()
    assert key.decode() not in res.output
    con = duckdb.connect(str(out / "findings.duckdb"), read_only=True)
    rows = con.execute("SELECT entity_type, fingerprint FROM findings").fetchall()
    con.close()
    assert ("EMAIL_ADDRESS", Fingerprinter(key)("EMAIL_ADDRESS", "jane.doe@gmail.com")) in rows  # the client's key


def test_cli_dask_usage_errors(tmp_path):
    from click.testing import CliRunner

    from pipeline.cli import main

    src = tmp_path / "d.ndjson"
    src.write_text(json.dumps(DRAIN) + "\n")
    for args, said in ([["--dask", "local:0"], "whole number"], [["--dask", "local", "--workers", "2"], "choose one"],
                       [["--dask", "nowhere"], "scheduler address"]):
        res = CliRunner().invoke(main, ["scan", str(src), "--out", str(tmp_path / "o"), *args])
        assert res.exit_code == 2 and said in res.output, res.output
