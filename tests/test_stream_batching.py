"""The stream loop without a broker: batch bounds, record-before-commit order, the collector paused per batch."""

from __future__ import annotations

import gc
import json
import threading
from collections import namedtuple

from kafka import TopicPartition

from pipeline.runtime import stream
from pipeline.runtime.build import build
from pipeline.runtime.stream import StreamRunner, gc_paused
from samples.generate import generate

Rec = namedtuple("Rec", "topic partition offset key value headers")


class FakeConsumer:
    """Serves records from memory as `poll` would, at most `max_records` at a time, and logs what happens."""

    def __init__(self, values: list[bytes], partitions: int = 2, chunk: int = 700):
        self.buffered = [Rec("t", i % partitions, i // partitions, None, v, []) for i, v in enumerate(values)]
        self.chunk, self.log, self.polls = chunk, [], []

    def subscribe(self, topics, listener=None):
        listener.on_partitions_assigned([TopicPartition("t", 0), TopicPartition("t", 1)])

    def poll(self, timeout_ms=0, max_records=500):
        self.polls.append(max_records)
        take = self.buffered[:min(max_records, self.chunk)]
        del self.buffered[:len(take)]
        out: dict = {}
        for r in take:
            out.setdefault(TopicPartition(r.topic, r.partition), []).append(r)
        return out

    def commit(self, offsets):
        self.log.append(("commit", {tp.partition: o.offset for tp, o in offsets.items()}, gc.isenabled()))

    def assignment(self):
        return set()

    def close(self):
        self.log.append(("close",))


def _values(n: int) -> list[bytes]:
    return [json.dumps(rec).encode() for rec, _ in generate(n, 5)]


def test_batches_never_exceed_batch_max_events_and_record_before_commit(engine, tmp_path):
    values = _values(230)
    consumer = FakeConsumer(values, chunk=30)  # polls of 30 never land on the bound of 50: the room is asked for
    runtime = build(out_dir=tmp_path / "out", engine=engine)
    recorded, sizes = [], []
    real_record, real_process = runtime.record, runtime.process_many

    def process_many(bodies, fmt, *, scrub):
        sizes.append(len(bodies))
        return real_process(bodies, fmt, scrub=scrub)

    runtime.process_many = process_many

    def record(done, key):
        recorded.append(len(consumer.log))  # commits made before this batch was recorded
        real_record(done, key)

    runtime.record = record
    stats = StreamRunner(consumer, runtime, "vercel", topics=["t"], batch_max_events=50, batch_max_seconds=60,
                         max_events=len(values)).run()
    assert stats.records_in == 230 and sizes == [50, 50, 50, 50, 30]  # the last at shutdown
    assert max(consumer.polls) <= 50
    commits = [e for e in consumer.log if e[0] == "commit"]
    assert recorded == list(range(5)), "each batch is recorded before its offsets are committed"
    last = commits[-1][1]
    assert last == {0: 115, 1: 115}  # next offsets: every record of both partitions committed
    assert all(not enabled for *_, enabled in commits), "the collector is paused while a batch is in flight"
    assert gc.isenabled()


def test_gc_paused_restores_the_collector_state_and_nests_across_threads():
    assert gc.isenabled()
    inside, release = threading.Event(), threading.Event()

    def other():
        with gc_paused():
            inside.set()
            release.wait(5)

    t = threading.Thread(target=other)
    with gc_paused():
        t.start()
        inside.wait(5)
        assert not gc.isenabled()
    assert not gc.isenabled(), "another thread's batch is still in flight"
    release.set()
    t.join(5)
    assert gc.isenabled() and stream._gc_pauses == 0
    gc.disable()
    try:
        with gc_paused():
            pass
        assert not gc.isenabled(), "a collector that was off stays off"
    finally:
        gc.enable()


def test_gc_comes_back_when_a_batch_fails(engine, tmp_path):
    consumer = FakeConsumer(_values(10))
    runtime = build(out_dir=tmp_path / "out", engine=engine)

    def broken(done, key):
        raise OSError("disk full")

    runtime.record = broken
    runner = StreamRunner(consumer, runtime, "vercel", topics=["t"], batch_max_events=5, max_events=10)
    try:
        runner.run()
    except OSError:
        pass
    else:
        raise AssertionError("a failing write must stop the runner (nothing committed)")
    assert gc.isenabled()
    assert not [e for e in consumer.log if e[0] == "commit"]


def test_crc_check_is_slow_only_without_the_c_crc32c(monkeypatch):
    from kafka.record import util

    from connectors.kafka import crc_check_is_slow

    assert util.crc32c_c is not None, "the crc32c package (a dependency) gives kafka-python its C CRC-32C"
    assert not crc_check_is_slow({})
    monkeypatch.setattr(util, "crc32c_c", None)
    assert crc_check_is_slow({}) and crc_check_is_slow({"check_crcs": True})
    assert not crc_check_is_slow({"check_crcs": False})
