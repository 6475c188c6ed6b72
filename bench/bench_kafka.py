"""`phiscan consume` throughput against batch `scan` on the same events (Tansu broker on loopback).

    .venv/bin/python bench/bench_kafka.py --events 20000

Produces the events to a topic, times a consume run from its first partition
assignment to its last commit (the group join wait is excluded), and times a
one-worker `scan` of the same events written as NDJSON. Not a test.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import orjson  # noqa: E402

from pipeline.config import Config  # noqa: E402
from pipeline.runtime.scan import build_engine, scan_paths  # noqa: E402
from pipeline.runtime.stream import StreamRunner  # noqa: E402
from samples.generate import generate  # noqa: E402
from tests.kafka_broker import TEST_CONSUMER, Tansu, tansu_binary  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--events", type=int, default=20_000)
    args = ap.parse_args()
    os.environ.setdefault("PHISCAN_FINGERPRINT_KEY", "bench-key-not-a-secret")
    tmp = Path(tempfile.mkdtemp(prefix="phiscan-kafka-bench-"))
    values = [orjson.dumps(r) for r, _ in generate(args.events, 11)]
    (tmp / "events.ndjson").write_bytes(b"\n".join(values) + b"\n")
    config = Config()
    engine = build_engine(config, tmp)
    scan_paths([tmp / "events.ndjson"], tmp / "warm", engine=engine, unit_bytes=1 << 40)  # warm caches equally
    engine2 = build_engine(config, tmp)
    t0 = time.perf_counter()
    summary = scan_paths([tmp / "events.ndjson"], tmp / "scan-out", engine=engine2, unit_bytes=1 << 40)
    scan_eps = summary.events / (time.perf_counter() - t0)

    broker = Tansu(tansu_binary())
    try:
        broker.create_topic("bench", 2)
        broker.produce("bench", values)
        from kafka import KafkaConsumer

        from pipeline.runtime.build import build

        consumer = KafkaConsumer(bootstrap_servers=broker.bootstrap, group_id="bench", enable_auto_commit=False,
                                 auto_offset_reset="earliest", **TEST_CONSUMER)
        runner = StreamRunner(consumer, build(config, out_dir=tmp / "consume-out"), "vercel", topics=["bench"], batch_max_events=config.kafka.batch_max_events,
                              batch_max_seconds=config.kafka.batch_max_seconds, max_events=args.events)
        stats = runner.run()
        consume_s = time.monotonic() - runner.assigned_at
    finally:
        broker.stop()
    consume_eps = stats.events_in / consume_s
    print(f"events: {args.events:,} Vercel drain records, one worker")
    print(f"batch scan: {scan_eps:,.0f} events/s")
    print(f"consume:    {consume_eps:,.0f} events/s (from first assignment to last commit; "
          f"{stats.batches} batches, each committed after its findings were fsynced)")
    print(f"consume / scan = {consume_eps / scan_eps:.2f}")


if __name__ == "__main__":
    main()
