"""Streaming against a real broker (Tansu): consume, consumer groups, kill -9, SIGTERM, scrub, quarantine."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import duckdb
import pytest

from pipeline.config import Config
from core.model import Event
from pipeline.runtime.stream import run_kafka
from samples.generate import generate
from tests.kafka_broker import TEST_CONSUMER

PHISCAN = str(Path(sys.executable).parent / "phiscan")


def drain_records(n: int, seed: int) -> tuple[list[dict], dict]:
    recs, labels = [], {}
    for rec, spans in generate(n, seed):
        recs.append(rec)
        labels[rec["id"]] = spans
    return recs, labels


def expected_ids(engine, recs) -> set[str]:
    events = [Event("vercel", r["id"], "x", r) for r in recs]
    return {f.finding_id for f in engine.scan(events).findings}


def findings_in(out: Path) -> tuple[set[str], int]:
    con = duckdb.connect(str(out / "findings.duckdb"))
    try:
        rows = con.execute("SELECT finding_id FROM findings").fetchall()
    finally:
        con.close()
    return {r[0] for r in rows}, len(rows)


def small_batches(tmp_path: Path, events: int = 25) -> Path:
    cfg = tmp_path / "stream.yaml"
    cfg.write_text(f"kafka:\n  batch_max_events: {events}\n  batch_max_seconds: 0.3\n")
    return cfg


def run(broker, topic, group, out, engine, **kw):
    return run_kafka(Config.model_validate({"kafka": {"batch_max_events": 50, "batch_max_seconds": 0.5}}),
                     bootstrap=broker.bootstrap, topics=[topic], group_id=group, fmt="vercel", out_dir=str(out),
                     consumer_cli=dict(TEST_CONSUMER), producer_cli={}, engine=engine, handle_signals=False, **kw)


def test_consume_writes_findings_and_commits(broker, engine, tmp_path):
    broker.create_topic("drains-a", 2)
    recs, _ = drain_records(300, 1)
    broker.produce("drains-a", [json.dumps(r).encode() for r in recs])
    stats = run(broker, "drains-a", "g-a", tmp_path / "out", engine, idle_timeout=4)
    assert stats.records_in == 300 and stats.quarantined == 0
    ids, rows = findings_in(tmp_path / "out")
    assert ids == expected_ids(engine, recs) and rows == len(ids)
    committed = broker.committed("g-a", "drains-a", 2)
    assert sum(committed.values()) == 300
    con = duckdb.connect(str(tmp_path / "out" / "findings.duckdb"))
    origins = [r[0] for r in con.execute("SELECT origin FROM findings LIMIT 5").fetchall()]
    assert all(o.startswith("kafka://drains-a/") for o in origins)


def test_two_consumers_split_partitions(broker, engine, tmp_path):
    broker.create_topic("drains-b", 4)
    recs, _ = drain_records(400, 2)
    broker.produce("drains-b", [json.dumps(r).encode() for r in recs], partition_of=lambda i: i % 4)
    out = tmp_path / "out"
    results = {}

    def worker(name):
        results[name] = run(broker, "drains-b", "g-b", out, engine, idle_timeout=6)

    threads = [threading.Thread(target=worker, args=(n,)) for n in ("c1", "c2")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(90)
    assert sum(s.records_in for s in results.values()) >= 400
    assert set(results) == {"c1", "c2"}, "a consumer thread failed (see its exception above)"
    assert all(s.records_in > 0 for s in results.values()), "both consumers got partitions"
    ids, rows = findings_in(out)
    assert ids == expected_ids(engine, recs) and rows == len(ids)


def _consume_cmd(broker, topic, group, out, cfg, idle):
    cmd = [PHISCAN, "consume", "--bootstrap-servers", broker.bootstrap, "--topic", topic, "--group-id", group,
           "--format", "vercel", "--out", str(out), "--config", str(cfg), "--idle-timeout", str(idle)]
    for k, v in TEST_CONSUMER.items():
        cmd += ["--consumer-config", f"{k}={v}"]
    return cmd


def _wait_for_parts(out: Path, n: int, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if len(list((out / "findings").rglob("part-*.parquet"))) >= n if (out / "findings").exists() else False:
            return
        time.sleep(0.05)
    raise AssertionError("consumer made no progress")


def test_kill_9_and_restart_loses_and_duplicates_nothing(broker, engine, tmp_path):
    broker.create_topic("drains-c", 2)
    recs, _ = drain_records(2000, 3)
    broker.produce("drains-c", [json.dumps(r).encode() for r in recs])
    out, cfg = tmp_path / "out", small_batches(tmp_path, 20)
    env = {**os.environ, "PHISCAN_FINGERPRINT_KEY": "test-key-not-secret"}
    proc = subprocess.Popen(_consume_cmd(broker, "drains-c", "g-c", out, cfg, 8), env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _wait_for_parts(out, 3)
    proc.send_signal(signal.SIGKILL)
    proc.wait(10)
    committed = broker.committed("g-c", "drains-c", 2)
    assert sum(v or 0 for v in committed.values()) < 2000, "killed mid-stream"
    done = subprocess.run(_consume_cmd(broker, "drains-c", "g-c", out, cfg, 8), env=env, capture_output=True,
                          text=True, timeout=180)
    assert done.returncode == 0, done.stderr[-2000:]
    ids, rows = findings_in(out)
    assert ids == expected_ids(engine, recs), "every planted value found"
    assert rows == len(ids), "no duplicate in the findings view"


def test_sigterm_leaves_offsets_consistent_with_findings(broker, engine, tmp_path):
    broker.create_topic("drains-d", 1)
    recs, _ = drain_records(1500, 4)
    broker.produce("drains-d", [json.dumps(r).encode() for r in recs])
    out, cfg = tmp_path / "out", small_batches(tmp_path, 20)
    env = {**os.environ, "PHISCAN_FINGERPRINT_KEY": "test-key-not-secret"}
    proc = subprocess.Popen(_consume_cmd(broker, "drains-d", "g-d", out, cfg, 30), env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    _wait_for_parts(out, 2)
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(30) == 0
    committed = broker.committed("g-d", "drains-d", 1)[0]
    assert committed and 0 < committed <= 1500
    # everything below the committed offset has its findings on disk
    ids, _ = findings_in(out)
    assert expected_ids(engine, recs[:committed]) <= ids


def test_scrub_topic_is_clean_and_poison_is_quarantined(broker, engine, tmp_path):
    from core.paths import resolve

    for t in ("raw-e", "clean-e", "quarantine-e"):
        broker.create_topic(t, 1)
    recs, labels = drain_records(200, 5)
    values = [json.dumps(r).encode() for r in recs]
    poison = [b'{"id": "p1", "message": "ssn 512-48-9921"', b"\x00\x01 not json", b"[1, 2, 3]"]
    broker.produce("raw-e", values[:100] + poison + values[100:])
    stats = run_kafka(Config.model_validate({"kafka": {"batch_max_events": 50, "batch_max_seconds": 0.5}}),
                      bootstrap=broker.bootstrap, topics=["raw-e"], group_id="g-e", fmt="vercel",
                      out_dir=str(tmp_path / "out"), consumer_cli=dict(TEST_CONSUMER), producer_cli={},
                      to_topic="clean-e", quarantine_topic="quarantine-e", scrub=True, engine=engine,
                      handle_signals=False, idle_timeout=4)
    assert stats.records_in == 203 and stats.quarantined == 3 and stats.records_out == 200
    clean = broker.read_all("clean-e", 200)
    assert len(clean) == 200
    planted = set()
    for r in recs:
        for path, s, e, _ in labels[r["id"]]:
            planted.add(resolve(r, path)[s:e])
    blob = b"\n".join(m.value for m in clean).decode()
    leaked = [v for v in planted if v in blob]
    assert not leaked, f"{len(leaked)} planted values in the clean topic"
    quarantined = broker.read_all("quarantine-e", 3)
    assert len(quarantined) == 3
    assert all(dict(m.headers).get("phiscan-reason") for m in quarantined)
    assert b"512-48-9921" not in b"".join(dict(m.headers)["phiscan-reason"] for m in quarantined)
