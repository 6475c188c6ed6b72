"""The Kafka scrub stage with confluent-kafka (librdkafka) on both sides: the client most production apps run.

A librdkafka producer writes records with planted values in value, key and headers
(lz4, its usual codec); `phiscan scrub` reads them as a consumer group and writes the
clean topic; a librdkafka consumer reads the clean topic back. The consumer sees every
record, none holds a planted value, and the headers it did not need to change are intact.
"""

from __future__ import annotations

import json

import pytest

from pipeline.config import Config
from pipeline.runtime.stream import run_kafka
from tests.kafka_broker import TEST_CONSUMER

confluent_kafka = pytest.importorskip("confluent_kafka", reason="confluent-kafka is a test extra")
DOMAIN = "canary-mail.org"


def test_confluent_producer_to_phiscan_scrub_to_confluent_consumer(broker, engine, tmp_path, monkeypatch):
    monkeypatch.setenv("PHISCAN_FINGERPRINT_KEY", "kafka-client-test-key-not-a-secret")
    for t in ("cf-raw", "cf-clean"):
        broker.create_topic(t, 1)
    producer = confluent_kafka.Producer({"bootstrap.servers": broker.bootstrap, "compression.type": "lz4",
                                         "linger.ms": 5})
    for i in range(20):
        value = json.dumps({"id": f"c{i}", "deploymentId": "dpl_1", "projectId": "prj_1", "source": "lambda",
                            "timestamp": 1764547200000 + i, "message": f"intake for p{i}.patient@{DOMAIN}"})
        producer.produce("cf-raw", value=value.encode(), key=f"k{i}.patient@{DOMAIN}".encode(),
                         headers=[("x-user", f"h{i}.patient@{DOMAIN}".encode()), ("x-trace", b"t-1")])
    assert producer.flush(30) == 0
    config = Config.model_validate({"kafka": {"batch_max_events": 50, "batch_max_seconds": 0.5}})
    stats = run_kafka(config, bootstrap=broker.bootstrap, topics=["cf-raw"], group_id="g-cf", fmt="vercel",
                      out_dir=str(tmp_path / "out"), consumer_cli=dict(TEST_CONSUMER), producer_cli={},
                      to_topic="cf-clean", scrub=True, engine=engine, handle_signals=False, idle_timeout=4)
    assert stats.records_in == 20 and stats.records_out == 20 and stats.quarantined == 0

    consumer = confluent_kafka.Consumer({"bootstrap.servers": broker.bootstrap, "group.id": "g-cf-read",
                                         "auto.offset.reset": "earliest", "enable.auto.commit": False})
    consumer.subscribe(["cf-clean"])
    got = []
    for _ in range(200):  # bounded: at most ~100 s, stops as soon as all 20 arrived
        msg = consumer.poll(0.5)
        if msg is not None and msg.error() is None:
            got.append(msg)
        if len(got) == 20:
            break
    consumer.close()
    assert len(got) == 20
    blob = b"".join((m.value() or b"") + (m.key() or b"") + b"".join(v for _, v in (m.headers() or [])) for m in got)
    assert DOMAIN.encode() not in blob and b"patient@" not in blob
    assert all(dict(m.headers())["x-trace"] == b"t-1" for m in got)
