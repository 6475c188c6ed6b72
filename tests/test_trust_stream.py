"""The scrub stage on a real broker: values, keys and headers scrubbed, tombstones kept, poison quarantined.

Records with planted values in their value, key and headers, Kafka tombstones, and the
poison records the issue reproduced go through `phiscan scrub` over Tansu. The clean
topic must hold no planted value anywhere, every tombstone must pass as a tombstone,
poison must land in quarantine with a reason, and a restart over the same topic must
not crash (the committed offsets moved past the poison).
"""

from __future__ import annotations

import json

from kafka import KafkaProducer

from pipeline.config import Config
from pipeline.runtime.stream import run_kafka
from tests.kafka_broker import TEST_CONSUMER

DOMAIN = "canary-mail.org"


def _record(i: int) -> bytes:
    return json.dumps({"id": f"r{i}", "deploymentId": "dpl_1", "projectId": "prj_1", "source": "lambda",
                       "timestamp": 1764547200000 + i, "message": f"login p{i}.patient@{DOMAIN}"}).encode()


POISON = [
    json.dumps({"id": "y1", "deploymentId": "dpl_1", "source": "lambda", "message": "m",
                "timestamp": -62135596800000}).encode(),  # year 1: a valid record, an odd time (kept)
    json.dumps({"resourceSpans": [{"resource": "x", "scopeSpans": []}]}).encode(),
    b"\xff\xfe not text",
]


def _run(broker, group, out):
    config = Config.model_validate({"kafka": {"batch_max_events": 20, "batch_max_seconds": 0.5}})
    return run_kafka(config, bootstrap=broker.bootstrap, topics=["trust-raw"], group_id=group, fmt="vercel",
                     out_dir=str(out), consumer_cli=dict(TEST_CONSUMER), producer_cli={}, to_topic="trust-clean",
                     quarantine_topic="trust-q", scrub=True, handle_signals=False, idle_timeout=4)


def test_scrub_topic_keys_headers_tombstones_and_poison(broker, engine, tmp_path, monkeypatch):
    monkeypatch.setenv("PHISCAN_FINGERPRINT_KEY", "stream-test-key-not-a-secret")
    for t in ("trust-raw", "trust-clean", "trust-q"):
        broker.create_topic(t, 1)
    producer = KafkaProducer(bootstrap_servers=broker.bootstrap)
    for i in range(30):
        producer.send("trust-raw", value=_record(i), key=f"k{i}.patient@{DOMAIN}".encode(),
                      headers=[("x-user", f"h{i}.patient@{DOMAIN}".encode()), ("x-trace", b"abc123")])
    for i in range(3):
        producer.send("trust-raw", value=None, key=f"t{i}.patient@{DOMAIN}".encode())
    for p in POISON:
        producer.send("trust-raw", value=p)
    producer.flush()
    producer.close()

    stats = _run(broker, "g-trust", tmp_path / "out")
    assert stats.records_in == 36
    assert stats.quarantined == 2 and stats.records_out == 34
    clean = broker.read_all("trust-clean", 34)
    assert len(clean) == 34
    blob = b"".join((m.value or b"") + (m.key or b"") + b"".join(v for _, v in m.headers or []) for m in clean)
    assert DOMAIN.encode() not in blob and b"patient@" not in blob
    tombstones = [m for m in clean if m.value is None]
    assert len(tombstones) == 3 and all(m.key for m in tombstones)
    assert all(dict(m.headers).get("x-trace") == b"abc123" for m in clean if m.headers)
    quarantined = broker.read_all("trust-q", 2)
    assert all(dict(m.headers).get("phiscan-reason") for m in quarantined)

    again = _run(broker, "g-trust", tmp_path / "out")  # a restart: offsets were committed past the poison
    assert again.records_in == 0


def test_snappy_lz4_and_zstd_records_are_consumed(broker, engine, tmp_path, monkeypatch):
    """The most common Kafka codecs: a consumer without them crashes on the first compressed batch."""
    monkeypatch.setenv("PHISCAN_FINGERPRINT_KEY", "stream-test-key-not-a-secret")
    broker.create_topic("trust-codecs", 1)
    for codec in ("snappy", "lz4", "zstd", "gzip"):
        producer = KafkaProducer(bootstrap_servers=broker.bootstrap, compression_type=codec)
        for i in range(5):
            producer.send("trust-codecs", value=_record(i))
        producer.flush()
        producer.close()
    config = Config.model_validate({"kafka": {"batch_max_events": 50, "batch_max_seconds": 0.5}})
    stats = run_kafka(config, bootstrap=broker.bootstrap, topics=["trust-codecs"], group_id="g-codecs",
                      fmt="vercel", out_dir=str(tmp_path / "out"), consumer_cli=dict(TEST_CONSUMER), producer_cli={},
                      engine=engine, handle_signals=False, idle_timeout=4)
    assert stats.records_in == 20 and stats.quarantined == 0
    assert stats.findings["EMAIL_ADDRESS"] == 20
