"""One-worker `scan_paths` against the same scan on a local Dask cluster (`--dask local:N`).

    .venv/bin/python bench/bench_distributed.py --events 20000 --workers 2

Generates a seeded corpus (samples.generate) and scans it three ways, each engine fresh and
warmed up the same way before timing: model loaded, patterns compiled by a scan of 30 events
of another seed. (A cache of analysed values makes a re-scan of the same corpus several times
faster; engines that scanned it already would flatter whoever runs second.) The three: one
worker in this process; `--workers N` (the fork pool, for reference); and a LocalCluster of
N single-threaded worker processes, each warmed up by a task of its own (the runtime the scan
then finds cached; cluster start and warm-up are reported apart). Prints events/s, the ratio
to one worker, and whether the one-worker and Dask outputs hold the same parts, row for row.
Not a test.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import pyarrow.parquet as pq  # noqa: E402

from pipeline.config import Config  # noqa: E402
from pipeline.engine.fingerprint import Fingerprinter  # noqa: E402
from pipeline.engine.scanner import ScanEngine  # noqa: E402
from pipeline.runtime.scan import scan_paths  # noqa: E402
from samples.generate import write_corpus  # noqa: E402

KEY = "bench-key-not-a-secret-0123456789"
TIMES = {"scanned_at", "seen_at", "recorded_at"}


def parts(out: Path) -> dict[str, list]:
    """Every part file by relative path, its rows without the scan's own timestamps, sorted."""
    found = {}
    for path in sorted(p for p in out.rglob("*.parquet") if not p.name.startswith(".")):
        table = pq.read_table(path)
        rows = table.select([c for c in table.column_names if c not in TIMES]).to_pylist()
        found[str(path.relative_to(out))] = sorted(repr(sorted(r.items())) for r in rows)
    return found


def _warm_up(scan, path: Path) -> None:
    """What loads or compiles on first use (the model, patterns) done before timing: a scan of a few events."""
    from connectors.registry import read_events
    from core.model import Event

    scan([e for e in read_events(path, "auto") if isinstance(e, Event)])


def _warm_worker(config: Config, path: Path) -> None:
    """On a worker: the runtime a scan with this config and key will find cached, warmed up."""
    from pipeline.runtime.distributed import worker_runtime

    runtime = worker_runtime(config, KEY.encode())
    runtime.warm()
    _warm_up(runtime.scan, path)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--events", type=int, default=20000)
    ap.add_argument("--workers", type=int, default=2, help="Dask worker processes (1 thread each)")
    ap.add_argument("--unit-bytes", type=int, default=1 << 20, help="byte-range size (both runs)")
    args = ap.parse_args()

    from distributed import Client, LocalCluster

    from pipeline.runtime.distributed import scan_paths_dask

    config = Config(fingerprint={"key": KEY})
    with tempfile.TemporaryDirectory(prefix="bench-dask-") as tmp:
        root = Path(tmp)
        write_corpus(root / "in", args.events, seed=7)
        write_corpus(root / "warmup", 30, seed=99)
        warmup = root / "warmup" / "drains" / "lambda.ndjson"

        def line(name: str, s, extra: str = "") -> None:
            ratio = s.events_per_second / one.events_per_second if one.events_per_second else 0.0
            print(f"{name:<16}{s.events:>8,} events {s.seconds:7.2f} s {s.events_per_second:9,.0f} events/s "
                  f"{ratio:5.2f}x{extra}")

        def fresh() -> ScanEngine:  # the model load and first-use compiles, untimed
            engine = ScanEngine(config, Fingerprinter(KEY.encode()))
            engine.analyzer.load_model()
            _warm_up(engine.scan, warmup)
            return engine

        one = scan_paths([root / "in"], root / "one", config=config, engine=fresh(), unit_bytes=args.unit_bytes)
        line("one worker", one)
        pool = scan_paths([root / "in"], root / "pool", config=config, engine=fresh(), unit_bytes=args.unit_bytes,
                          workers=args.workers)
        line(f"--workers {args.workers}", pool)

        started = time.perf_counter()
        with LocalCluster(n_workers=args.workers, threads_per_worker=1, processes=True,
                          dashboard_address="127.0.0.1:0") as cluster, Client(cluster) as client:
            up = time.perf_counter() - started
            client.gather([client.submit(_warm_worker, config, warmup, workers=[w], pure=False)  # each worker
                           for w in client.scheduler_info()["workers"]])
            loaded = time.perf_counter() - started - up
            dask = scan_paths_dask([root / "in"], root / "dask", scheduler=client, config=config,
                                   unit_bytes=args.unit_bytes)
        line(f"dask local:{args.workers}", dask, f"  (before it: cluster start {up:.1f} s, warm-up {loaded:.1f} s)")
        print(f"one worker and dask local:{args.workers}: identical findings and parts: "
              f"{parts(root / 'one') == parts(root / 'dask')}")


if __name__ == "__main__":
    main()
