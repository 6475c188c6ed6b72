"""Load check of the HTTP routes with inline scanning, on loopback only, bounded in time.

    .venv/bin/python bench/bench_http.py --route vercel --seconds 20 --concurrency 8 --batch 20
    .venv/bin/python bench/bench_http.py --route sentry   # POST /api/<project>/envelope/, forwarded
    .venv/bin/python bench/bench_http.py --route posthog  # POST /batch/, forwarded
    .venv/bin/python bench/bench_http.py --route otlp     # POST /v1/logs (OTLP/JSON), forwarded

Starts the real ASGI app under uvicorn on 127.0.0.1 (and, for the proxy routes, a
loopback upstream that answers 200), posts bodies built from the samples/ mix from a
pool of client threads for a fixed time, and prints requests/s, records/s and latency
percentiles. Not a test.
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import os
import statistics
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402
import orjson  # noqa: E402
import uvicorn  # noqa: E402

from pipeline.config import Config  # noqa: E402
from pipeline.runtime.build import build  # noqa: E402
from pipeline.runtime.serve import create_app  # noqa: E402
from samples.generate import generate  # noqa: E402
from tests.kafka_broker import free_port  # noqa: E402
from tests.test_serve import Upstream  # noqa: E402

SECRET = "bench-secret"
KEY, PROJECT = "0123456789abcdef0123456789abcdef", "42"


def vercel_bodies(records: list[dict], batch: int) -> list[tuple[bytes, dict]]:
    bodies = [orjson.dumps(records[i:i + batch]) for i in range(0, len(records), batch)]
    return [(b, {"x-vercel-signature": hmac.new(SECRET.encode(), b, hashlib.sha1).hexdigest()}) for b in bodies]


def sentry_bodies(records: list[dict], batch: int) -> list[tuple[bytes, dict]]:
    """One envelope per request: an event whose message, breadcrumbs and extra are drain lines."""
    out = []
    for i in range(0, len(records), batch):
        lines = [str(r.get("message", "")) for r in records[i:i + batch]]
        event = orjson.dumps({"event_id": f"{i:032x}", "level": "error", "platform": "python", "message": lines[0],
                              "breadcrumbs": {"values": [{"message": m} for m in lines[1:]]},
                              "extra": {"request": records[i]}})
        env = b"\n".join([orjson.dumps({"event_id": f"{i:032x}"}),
                          orjson.dumps({"type": "event", "length": len(event)}), event]) + b"\n"
        out.append((env, {"x-sentry-auth": f"Sentry sentry_key={KEY}, sentry_version=7"}))
    return out


def posthog_bodies(records: list[dict], batch: int) -> list[tuple[bytes, dict]]:
    """A `/batch/` body as posthog-python sends it, the drain lines as event properties."""
    out = []
    for i in range(0, len(records), batch):
        events = [{"event": "log", "distinct_id": f"u{i + j}", "uuid": f"00000000-0000-4000-8000-{i + j:012d}",
                   "properties": {"$lib": "posthog-python", "message": str(r.get("message", "")), "path": r.get("path")}}
                  for j, r in enumerate(records[i:i + batch])]
        out.append((orjson.dumps({"api_key": "phc_bench", "batch": events}), {"content-type": "application/json"}))
    return out


def otlp_bodies(records: list[dict], batch: int) -> list[tuple[bytes, dict]]:
    """An OTLP/JSON logs request as an exporter sends it: the drain lines as log bodies with attributes."""
    out = []
    for i in range(0, len(records), batch):
        logs = [{"timeUnixNano": str(1764547200000000000 + j), "severityText": "INFO",
                 "body": {"stringValue": str(r.get("message", ""))},
                 "attributes": [{"key": "url.path", "value": {"stringValue": str(r.get("path") or "/")}}]}
                for j, r in enumerate(records[i:i + batch])]
        req = {"resourceLogs": [{"resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "web"}}]},
                                 "scopeLogs": [{"scope": {"name": "bench"}, "logRecords": logs}]}]}
        out.append((orjson.dumps(req), {"content-type": "application/json"}))
    return out


ROUTES = {"vercel": ("/ingest/vercel", vercel_bodies), "sentry": (f"/api/{PROJECT}/envelope/", sentry_bodies),
          "posthog": ("/batch/", posthog_bodies), "otlp": ("/v1/logs", otlp_bodies)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=20)
    ap.add_argument("--concurrency", type=int, default=8)
    ap.add_argument("--batch", type=int, default=20, help="records per request (drain lines, events)")
    ap.add_argument("--route", choices=sorted(ROUTES), default="vercel")
    args = ap.parse_args()
    os.environ.setdefault("PHISCAN_FINGERPRINT_KEY", "bench-key-not-a-secret")
    out = tempfile.mkdtemp(prefix="phiscan-http-bench-")
    upstream = Upstream()
    serve = {"vercel": {"secret": SECRET}, "out_dir": out, "max_concurrent": 64,
             "sentry": {"enabled": True, "allowed_dsns": [f"http://{KEY}@{upstream.url.split('://')[1]}/{PROJECT}"]},
             "analytics": {"posthog": {"enabled": True, "upstream": upstream.url}},
             "otlp": {"enabled": True, "upstream": upstream.url}}
    config = Config.model_validate({"serve": serve})
    runtime = build(config, out_dir=out)
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(runtime), host="127.0.0.1", port=port,
                                           log_level="error", access_log=False))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.02)
    records = [r for r, _ in generate(args.batch * 200, 9)]
    path, make = ROUTES[args.route]
    bodies = make(records, args.batch)
    url = f"http://127.0.0.1:{port}{path}"
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    lock = threading.Lock()
    deadline = time.monotonic() + args.seconds

    def client(worker: int) -> None:
        with httpx.Client(timeout=30) as http:
            i = worker
            while time.monotonic() < deadline:
                body, headers = bodies[i % len(bodies)]
                t0 = time.perf_counter()
                r = http.post(url, content=body, headers=headers)
                dt = time.perf_counter() - t0
                with lock:
                    latencies.append(dt)
                    statuses[r.status_code] = statuses.get(r.status_code, 0) + 1
                i += args.concurrency

    started = time.perf_counter()
    with ThreadPoolExecutor(args.concurrency) as pool:
        list(pool.map(client, range(args.concurrency)))
    elapsed = time.perf_counter() - started
    server.should_exit = True
    thread.join(10)  # a clean shutdown: killing the server thread at exit aborts in a C extension
    upstream.close()
    ok = statuses.get(200, 0)
    lat = sorted(latencies)
    p = lambda q: lat[min(int(q * len(lat)), len(lat) - 1)] * 1000  # noqa: E731
    print(f"POST {path}, inline scanning, {args.batch} records/request, {args.concurrency} clients, "
          f"{elapsed:.1f} s on loopback")
    print(f"requests: {len(lat):,} ({statuses}); {len(lat) / elapsed:,.1f} req/s; "
          f"{ok * args.batch / elapsed:,.0f} records/s")
    print(f"latency ms: p50 {p(0.5):.1f}, p90 {p(0.9):.1f}, p99 {p(0.99):.1f}, max {lat[-1] * 1000:.1f}, "
          f"mean {statistics.mean(lat) * 1000:.1f}")


if __name__ == "__main__":
    main()
