"""Streaming: a Kafka consumer group that writes findings (and, scrubbing, a clean topic).

Delivery is at-least-once with idempotent writes, the quix-streams way:
1. poll records into a batch bounded by size (never more than `batch_max_events`
   records: each poll asks for what is left of the batch) and time;
2. scan it; in scrub mode produce every clean record (or its quarantine copy) and
   flush the producer;
3. write findings, flagged events, bad records and coverage to Parquet (each file
   fsynced and renamed into place);
4. only then commit the batch's offsets.
A crash anywhere replays the batch: `finding_id` is deterministic and the
`findings` view keeps one row per id, so a replay adds no duplicate. Partition
revocation runs steps 2-4 for what is pending. Kafka transactions are not used.
"""

from __future__ import annotations

import contextlib
import gc
import hashlib
import logging
import signal
import threading
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

from kafka import ConsumerRebalanceListener, OffsetAndMetadata, TopicPartition

from pipeline.runtime.build import Body, Recorded, Runtime

log = logging.getLogger("phiscan")

_gc_lock = threading.Lock()
_gc_pauses = 0  # batches in flight (one per runner thread) that paused the cyclic collector
_gc_resume = False  # whether the collector was enabled when the first of them paused it


@contextlib.contextmanager
def gc_paused():
    """The cyclic collector off while one batch is processed and recorded, back on after.

    A batch keeps every record, parsed document, event and queued text alive until it is
    recorded (2,000 events are well over the 100,000 allocations that start a young
    collection, see `tune_gc`), so a collection during it walks them all and frees nothing:
    about one of ~45 ms per 2,000-event batch, measured at ~4% of a consumer's CPU. Once the
    batch is dropped its objects go by reference counting; the few cycles it made wait for
    the next collection (peak RSS measured the same either way). Nested and thread-safe (two
    runners in one process): the collector comes back when the last batch ends, and only if
    it was on before.
    """
    global _gc_pauses, _gc_resume
    with _gc_lock:
        if _gc_pauses == 0:
            _gc_resume = gc.isenabled()
            gc.disable()
        _gc_pauses += 1
    try:
        yield
    finally:
        with _gc_lock:
            _gc_pauses -= 1
            if _gc_pauses == 0 and _gc_resume:
                gc.enable()


@dataclass
class StreamStats:
    events_in: int = 0
    records_in: int = 0
    records_out: int = 0
    quarantined: int = 0
    batches: int = 0
    findings: Counter = field(default_factory=Counter)
    quarantine_reasons: Counter = field(default_factory=Counter)


class Metrics:
    """Prometheus counters on their own registry (served at --metrics-port)."""

    def __init__(self, port: int | None):
        from prometheus_client import CollectorRegistry, Counter as PCounter, Gauge, Histogram, start_http_server

        self.registry = CollectorRegistry()
        self.events_in = PCounter("phiscan_events_in", "Events read", registry=self.registry)
        self.records_out = PCounter("phiscan_records_out", "Clean records produced", registry=self.registry)
        self.findings = PCounter("phiscan_findings", "Findings", ["entity_type"], registry=self.registry)
        self.quarantined = PCounter("phiscan_quarantined", "Records quarantined", registry=self.registry)
        self.lag = Gauge("phiscan_consumer_lag", "Records behind the end", ["topic", "partition"],
                         registry=self.registry)
        self.batch_seconds = Histogram("phiscan_batch_seconds", "Batch latency", registry=self.registry)
        self.server = start_http_server(port, addr="0.0.0.0", registry=self.registry) if port else None


class _Rebalance(ConsumerRebalanceListener):
    def __init__(self, runner: StreamRunner):
        self.runner = runner

    def on_partitions_revoked(self, revoked):
        if revoked:
            self.runner.flush(reason="rebalance")

    def on_partitions_assigned(self, assigned):
        if self.runner.assigned_at is None:
            self.runner.assigned_at = time.monotonic()
        log.info("assigned %s", sorted((tp.topic, tp.partition) for tp in assigned))


class StreamRunner:
    """The consume (findings) and scrub (clean topic) loop over one consumer."""

    def __init__(self, consumer, runtime: Runtime, fmt: str, *, topics: Sequence[str], producer=None,
                 to_topic: str | None = None, quarantine_topic: str | None = None, scrub: bool = False,
                 batch_max_events: int = 2000, batch_max_seconds: float = 2.0, max_events: int | None = None,
                 idle_timeout: float | None = None, metrics_port: int | None = None, pause_gc: bool = True):
        self.consumer, self.runtime, self.fmt = consumer, runtime, fmt
        self.topics = list(topics)
        self.producer, self.to_topic, self.quarantine_topic, self.scrub = producer, to_topic, quarantine_topic, scrub
        self.batch_max_events, self.batch_max_seconds = batch_max_events, batch_max_seconds
        self.max_events, self.idle_timeout = max_events, idle_timeout
        self.pause_gc = pause_gc
        self.metrics = Metrics(metrics_port)
        self.stats = StreamStats()
        self.pending: list = []
        self.batch_started = 0.0
        self.assigned_at: float | None = None
        self.last_record_at: float | None = None
        self.stop = threading.Event()
        self._lag_at = 0.0
        self._lock = threading.RLock()

    # -- lifecycle ---------------------------------------------------------------------
    def install_signal_handlers(self) -> None:
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: self.stop.set())

    def run(self) -> StreamStats:
        self.consumer.subscribe(self.topics, listener=_Rebalance(self))
        try:
            while not self.stop.is_set():
                # never more than the batch has room for: the rest stays in the fetcher's buffer,
                # so a batch (and the memory it holds) is bounded by batch_max_events
                room = max(self.batch_max_events - len(self.pending), 1)
                polled = self.consumer.poll(timeout_ms=200, max_records=room)
                now = time.monotonic()
                for _tp, records in polled.items():
                    for rec in records:
                        if not self.pending:
                            self.batch_started = now
                        self.pending.append(rec)
                        self.last_record_at = now
                if self.pending and (len(self.pending) >= self.batch_max_events
                                     or now - self.batch_started >= self.batch_max_seconds):
                    self.flush()
                if self.max_events is not None and self.stats.records_in + len(self.pending) >= self.max_events:
                    break
                if self._idle(now):
                    log.info("idle for %.1fs: stopping", self.idle_timeout)
                    break
        finally:
            self.flush(reason="shutdown")
            self.consumer.close()  # leaves the group, so partitions move at once
            if self.producer is not None:
                self.producer.flush()
                self.producer.close()
            if self.metrics.server is not None:
                self.metrics.server[0].shutdown()
        return self.stats

    def _idle(self, now: float) -> bool:
        if self.idle_timeout is None or self.assigned_at is None:
            return False
        return now - max(self.assigned_at, self.last_record_at or 0.0) >= self.idle_timeout

    # -- one batch ---------------------------------------------------------------------
    def flush(self, reason: str = "batch") -> None:
        """Steps 2-4 of the module docstring for what is pending: process, produce, record, commit."""
        with self._lock:
            if not self.pending:
                return
            batch, self.pending = self.pending, []
            started = time.perf_counter()
            with gc_paused() if self.pause_gc else contextlib.nullcontext():
                done = self._process(batch)
                if self.producer is not None:
                    self.producer.flush()
                self.runtime.record(done, self._key(batch))
                self.consumer.commit(self._offsets(batch))
                events, by_type = len(done.events), Counter(f.entity_type for f in done.findings)
                del done  # the batch's objects go now, by reference counting, before the collector is back
            self.stats.batches += 1
            self.stats.records_in += len(batch)
            self.stats.events_in += events
            self.stats.findings.update(by_type)
            self.metrics.events_in.inc(events)
            for entity_type, n in by_type.items():
                self.metrics.findings.labels(entity_type).inc(n)
            self.metrics.batch_seconds.observe(time.perf_counter() - started)
            self._update_lag()
            log.debug("%s flush: %d records, %d findings", reason, len(batch), sum(by_type.values()))

    def _process(self, batch) -> Recorded:
        """Every record of the batch in one engine batch: its value, key and headers are all scanned.

        Scrubbing, each clean record goes to the clean topic with its scrubbed key and headers
        (a tombstone stays a tombstone); each record that cannot be scanned goes to quarantine.
        """
        bodies = [Body(rec.value, _origin(rec), rec.key, [(k, v) for k, v in (rec.headers or [])]) for rec in batch]
        outcomes = self.runtime.process_many(bodies, self.fmt, scrub=self.scrub)
        done = Recorded()
        for rec, outcome in zip(batch, outcomes):
            done.extend(outcome)
            if outcome.bad:  # recorded in errors either way; its raw bytes go to quarantine, never downstream
                self._quarantine(rec, outcome.reason or outcome.bad[0].reason)
                continue
            if self.scrub:
                self.producer.send(self.to_topic, value=outcome.clean, key=outcome.key, headers=outcome.headers)
                self.stats.records_out += 1
                self.metrics.records_out.inc()
        return done

    def _quarantine(self, rec, reason: str) -> None:
        """Raw bytes to the quarantine topic (if any) with the reason in a header; counted either way."""
        self.stats.quarantined += 1
        self.stats.quarantine_reasons[reason] += 1
        self.metrics.quarantined.inc()
        if self.quarantine_topic and self.producer is not None:
            self.producer.send(self.quarantine_topic, value=rec.value, key=rec.key,
                               headers=[*(rec.headers or []), ("phiscan-reason", reason.encode())])

    def _offsets(self, batch) -> dict[TopicPartition, OffsetAndMetadata]:
        last: dict[TopicPartition, int] = {}
        for rec in batch:
            tp = TopicPartition(rec.topic, rec.partition)
            last[tp] = max(last.get(tp, -1), rec.offset)
        return {tp: OffsetAndMetadata(off + 1, "", -1) for tp, off in last.items()}

    @staticmethod
    def _key(batch) -> str:
        spans = sorted((r.topic, r.partition, r.offset) for r in batch)
        return "kafka-" + hashlib.sha256(repr((spans[0], spans[-1], len(spans))).encode()).hexdigest()[:20]

    def _update_lag(self) -> None:
        now = time.monotonic()
        if now - self._lag_at < 10:  # a metadata round trip: not on every batch
            return
        self._lag_at = now
        try:
            assigned = self.consumer.assignment()
            if not assigned:
                return
            ends = self.consumer.end_offsets(list(assigned))
            for tp in assigned:
                self.metrics.lag.labels(tp.topic, str(tp.partition)).set(max(ends.get(tp, 0) - self.consumer.position(tp), 0))
        except Exception:  # lag is a nicety; never fail a batch over it
            pass


def _origin(rec) -> str:
    return f"kafka://{rec.topic}/{rec.partition}/{rec.offset}"


def run_kafka(config, *, bootstrap: str | None, topics: Sequence[str], group_id: str, fmt: str,
              out_dir: str | None, consumer_cli: dict, producer_cli: dict, to_topic: str | None = None,
              quarantine_topic: str | None = None, scrub: bool = False, max_events: int | None = None,
              idle_timeout: float | None = None, metrics_port: int | None = None,
              runtime: Runtime | None = None, engine=None, handle_signals: bool = True) -> StreamStats:
    """Build the runtime and clients a config describes, and run the loop until it stops."""
    from kafka import KafkaConsumer, KafkaProducer

    from connectors.kafka import KafkaSettingError, consumer_settings, crc_check_is_slow, producer_settings, redacted
    from pipeline.runtime.build import build

    csettings = consumer_settings(config.kafka, bootstrap, group_id, consumer_cli)
    quarantine_topic = quarantine_topic or config.kafka.quarantine_topic
    need_producer = scrub or bool(quarantine_topic)
    psettings = producer_settings(config.kafka, bootstrap, producer_cli) if need_producer else None
    log.info("consumer settings: %s", redacted(csettings))
    if crc_check_is_slow(csettings):
        log.warning("record CRCs are checked in pure Python (the crc32c package is missing): install it "
                    "(pip install crc32c), or set check_crcs=false, or consume runs far slower")
    runtime = runtime or build(config, out_dir=out_dir, engine=engine)
    runtime.warm()  # before joining the group: a rebalance never waits on the model
    try:
        consumer = KafkaConsumer(**csettings)
        producer = KafkaProducer(**psettings) if psettings else None
    except KafkaSettingError:
        raise
    except Exception as exc:  # noqa: BLE001 - kafka-python quotes the bad value (a password?): name the type only
        raise KafkaSettingError(f"cannot create the Kafka clients ({type(exc).__name__}); check the client "
                                "settings (names are listed with --consumer-config/--producer-config)") from None
    runner = StreamRunner(consumer, runtime, fmt, topics=topics, producer=producer, to_topic=to_topic,
                          quarantine_topic=quarantine_topic, scrub=scrub,
                          batch_max_events=config.kafka.batch_max_events,
                          batch_max_seconds=config.kafka.batch_max_seconds, max_events=max_events,
                          idle_timeout=idle_timeout, metrics_port=metrics_port)
    if handle_signals:
        runner.install_signal_handlers()
    stats = runner.run()
    runtime.refresh_catalog()
    return stats
