"""`phiscan serve` on a real loopback server with a real HTTP client and a real upstream."""

from __future__ import annotations

import gzip
import hashlib
import hmac
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import duckdb
import httpx
import pytest
import uvicorn

from pipeline.config import Config
from pipeline.runtime.serve import create_app
from tests.kafka_broker import TEST_CONSUMER, free_port

SECRET = "drain-secret"
HOOK = "hook-secret"
DSN = "https://abc123@o4504.ingest.us.sentry.io/4507"
PLANTED = ["jane.doe@gmail.com", "512-48-9921", "Maria Gonzalez"]


def drain(i: int, message: str) -> dict:
    return {"id": f"h{i}", "deploymentId": "dpl_x", "source": "lambda", "host": "h", "timestamp": 1763800000000,
            "projectId": "p", "projectName": "telecare", "level": "info", "message": message}


PHI_RECORDS = [drain(1, f"signup {PLANTED[0]}"), drain(2, f"ssn {PLANTED[1]} for {PLANTED[2]}")]


class Upstream:
    """A local HTTP server that records what it received (bodies, paths, headers) and answers as told."""

    def __init__(self):
        self.bodies: list[bytes] = []
        self.paths: list[str] = []
        self.headers: list[dict[str, str]] = []
        self.status = 200  # what it answers: a test may make it refuse (4xx) or rate-limit (429)
        self.answer_headers: dict[str, str] = {}
        self.answer_body = b'{"id": "ok"}'
        self.received = threading.Condition()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self, body: bytes):
                with outer.received:
                    outer.bodies.append(body)
                    outer.paths.append(self.path)
                    outer.headers.append({k.lower(): v for k, v in self.headers.items()})
                    outer.received.notify_all()
                self.send_response(outer.status)
                for k, v in outer.answer_headers.items():
                    self.send_header(k, v)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(outer.answer_body)))
                self.end_headers()
                self.wfile.write(outer.answer_body)

            def do_POST(self):
                self._answer(self.rfile.read(int(self.headers.get("content-length", 0))))

            def do_GET(self):
                self._answer(b"")

            def log_message(self, *a):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def wait_for(self, count: int, timeout: float = 30) -> bool:
        """Until `count` requests arrived (clients send from background threads), bounded."""
        with self.received:
            return self.received.wait_for(lambda: len(self.bodies) >= count, timeout)

    def close(self):
        self.httpd.shutdown()


def start(config: Config, engine):
    port = free_port()
    from pipeline.runtime.build import build

    runtime = build(config, out_dir=config.serve.out_dir, engine=engine)
    server = uvicorn.Server(uvicorn.Config(create_app(runtime), host="127.0.0.1", port=port,
                                           log_level="error", lifespan="on"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.02)
    return server, thread, f"http://127.0.0.1:{port}"


@pytest.fixture()
def upstream():
    u = Upstream()
    yield u
    u.close()


@pytest.fixture()
def make_server(engine, tmp_path):
    running = []

    def make(**serve):
        serve.setdefault("out_dir", str(tmp_path / "out"))
        cfg = Config.model_validate({"serve": serve})
        s, t, url = start(cfg, engine)
        running.append((s, t))
        return url

    yield make
    for s, t in running:
        s.should_exit = True
        t.join(10)


def sign(body: bytes) -> str:
    return hmac.new(SECRET.encode(), body, hashlib.sha1).hexdigest()


def findings(tmp_path) -> list[tuple]:
    from pipeline.storage import catalog

    con = catalog.connect(tmp_path / "out")
    try:
        return con.execute("SELECT source, entity_type, preview FROM findings").fetchall()
    finally:
        con.close()


def test_health_ready_metrics(make_server):
    url = make_server(vercel={"secret": SECRET})
    assert httpx.get(f"{url}/healthz").json() == {"status": "ok"}
    assert httpx.get(f"{url}/readyz").status_code == 200
    body = json.dumps(PHI_RECORDS).encode()
    httpx.post(f"{url}/ingest/vercel", content=body, headers={"x-vercel-signature": sign(body)})
    text = httpx.get(f"{url}/metrics").text
    assert 'phiscan_http_requests_total{route="vercel",status="200"} 1.0' in text
    assert 'phiscan_http_findings_total{entity_type="EMAIL_ADDRESS"}' in text


def test_vercel_signatures_and_verify_handshake(make_server, tmp_path):
    url = make_server(vercel={"secret": SECRET, "verify_token": "vrf-123"})
    probe = httpx.get(f"{url}/ingest/vercel")
    assert probe.status_code == 200 and probe.headers["x-vercel-verify"] == "vrf-123"
    body = json.dumps(PHI_RECORDS).encode()
    bad = httpx.post(f"{url}/ingest/vercel", content=body, headers={"x-vercel-signature": "0" * 40})
    assert bad.status_code == 403 and not any(p in bad.text for p in PLANTED)
    empty_probe = httpx.post(f"{url}/ingest/vercel", content=b"")
    assert empty_probe.status_code == 200 and empty_probe.headers["x-vercel-verify"] == "vrf-123"
    unsigned = httpx.post(f"{url}/ingest/vercel", content=body)  # a body without a signature is no probe
    assert unsigned.status_code == 403 and unsigned.headers["x-vercel-verify"] == "vrf-123"
    assert findings(tmp_path) == []  # neither is processed
    ok = httpx.post(f"{url}/ingest/vercel", content=body, headers={"x-vercel-signature": sign(body)})
    assert ok.status_code == 200 and ok.json()["findings"] >= 3
    assert {e for _, e, _ in findings(tmp_path)} >= {"EMAIL_ADDRESS", "US_SSN", "PERSON"}


def test_vercel_bodies_ndjson_gzip_oversize_malformed(make_server, tmp_path):
    url = make_server(vercel={"secret": SECRET}, max_body_bytes=4096)
    nd = "".join(json.dumps(r) + "\n" for r in PHI_RECORDS).encode()
    assert httpx.post(f"{url}/ingest/vercel", content=nd, headers={"x-vercel-signature": sign(nd)}).status_code == 200
    gz = gzip.compress(json.dumps([drain(3, "call 415-555-0134")]).encode())
    r = httpx.post(f"{url}/ingest/vercel", content=gz, headers={"x-vercel-signature": sign(gz),
                                                                "content-encoding": "gzip"})
    assert r.status_code == 200 and r.json()["findings"] == 1
    big = json.dumps([drain(i, "x" * 100) for i in range(100)]).encode()
    assert httpx.post(f"{url}/ingest/vercel", content=big, headers={"x-vercel-signature": sign(big)}).status_code == 413
    bomb = gzip.compress(b"[" + b" " * 100_000 + b"]")
    r = httpx.post(f"{url}/ingest/vercel", content=bomb, headers={"x-vercel-signature": sign(bomb),
                                                                  "content-encoding": "gzip"})
    assert r.status_code == 413
    junk = b'[{"id": "x", "message": "ssn 512-48-9921"'
    r = httpx.post(f"{url}/ingest/vercel", content=junk, headers={"x-vercel-signature": sign(junk)})
    assert r.status_code == 400 and "512-48-9921" not in r.text


def test_vercel_forward_is_scrubbed(make_server, upstream):
    url = make_server(vercel={"secret": SECRET, "forward_url": f"{upstream.url}/logs"})
    body = json.dumps(PHI_RECORDS).encode()
    r = httpx.post(f"{url}/ingest/vercel", content=body, headers={"x-vercel-signature": sign(body)})
    assert r.status_code == 200
    assert len(upstream.bodies) == 1
    sent = upstream.bodies[0].decode()
    assert not any(p in sent for p in PLANTED) and "<EMAIL_ADDRESS>" in sent
    assert len(json.loads(sent)) == 2


def test_vercel_downstream_down_is_503(make_server):
    url = make_server(vercel={"secret": SECRET, "forward_url": f"http://127.0.0.1:{free_port()}/logs"},
                      outbound_timeout_seconds=2)
    body = json.dumps(PHI_RECORDS).encode()
    r = httpx.post(f"{url}/ingest/vercel", content=body, headers={"x-vercel-signature": sign(body)}, timeout=20)
    assert r.status_code == 503 and r.headers["retry-after"]


def envelope(dsn: str, message: str) -> bytes:
    event = json.dumps({"event_id": "f" * 32, "platform": "javascript", "message": message,
                        "user": {"email": PLANTED[0]}, "request": {"headers": {"Cookie": "sid=abc"}}}).encode()
    attachment = b"\x00binary " + PLANTED[1].encode()
    return (json.dumps({"event_id": "f" * 32, "dsn": dsn}).encode() + b"\n"
            + json.dumps({"type": "event", "length": len(event)}).encode() + b"\n" + event + b"\n"
            + json.dumps({"type": "attachment", "length": len(attachment)}).encode() + b"\n" + attachment + b"\n")


def test_sentry_tunnel_scrubs_and_forwards(make_server, upstream, tmp_path):
    url = make_server(vercel={"enabled": False},
                      sentry_tunnel={"enabled": True, "allowed_dsns": [DSN], "upstream": upstream.url})
    r = httpx.post(f"{url}/ingest/sentry/tunnel?o=4504&p=4507",
                   content=envelope(DSN, f"ssn {PLANTED[1]} of {PLANTED[2]}"))
    assert r.status_code == 200, r.text
    assert upstream.paths == ["/api/4507/envelope/?sentry_key=abc123"]
    sent = upstream.bodies[0]
    assert not any(p.encode() in sent for p in PLANTED)
    assert b'"attachment"' not in sent  # binary items dropped by default
    assert {e for _, e, _ in findings(tmp_path)} >= {"EMAIL_ADDRESS", "US_SSN"}


def test_sentry_tunnel_refuses_other_dsns_and_junk(make_server, upstream):
    url = make_server(vercel={"enabled": False},
                      sentry_tunnel={"enabled": True, "allowed_dsns": [DSN], "upstream": upstream.url})
    other = "https://evil@o1.ingest.sentry.io/1"
    assert httpx.post(f"{url}/ingest/sentry/tunnel", content=envelope(other, "hi")).status_code == 403
    truncated = envelope(DSN, "hello")[:-40]
    assert httpx.post(f"{url}/ingest/sentry/tunnel", content=truncated).status_code == 400
    assert upstream.bodies == []


def test_sentry_webhook_signature(make_server, tmp_path, shared_formats):
    url = make_server(vercel={"enabled": False}, sentry_webhook={"enabled": True, "client_secret": HOOK})
    body = json.dumps({"action": "triggered", "data": {"event": {
        "event_id": "e" * 32, "platform": "python", "user": {"email": PLANTED[0]},
        "exception": {"values": [{"type": "ValueError", "value": f"bad ssn {PLANTED[1]}"}]}}},
        "installation": {"uuid": "u"}}).encode()
    bad = httpx.post(f"{url}/ingest/sentry/webhook", content=body,
                     headers={"sentry-hook-signature": "0" * 64, "sentry-hook-resource": "event_alert"})
    assert bad.status_code == 403
    sig = hmac.new(HOOK.encode(), body, hashlib.sha256).hexdigest()
    ok = httpx.post(f"{url}/ingest/sentry/webhook", content=body,
                    headers={"sentry-hook-signature": sig, "sentry-hook-resource": "event_alert"})
    assert ok.status_code == 200 and ok.json()["findings"] >= 2
    real = (shared_formats / "sentry" / "webhooks" / "sentry_docs_webhook_error_created.json").read_bytes()
    sig = hmac.new(HOOK.encode(), real, hashlib.sha256).hexdigest()
    assert httpx.post(f"{url}/ingest/sentry/webhook", content=real,
                      headers={"sentry-hook-signature": sig, "sentry-hook-resource": "error"}).status_code == 200


def test_kafka_path_and_broker_down(make_server, broker, engine, tmp_path, monkeypatch):
    from pipeline.runtime.stream import run_kafka

    broker.create_topic("drains-http", 1)
    monkeypatch.setenv("PHISCAN_KAFKA_BOOTSTRAP_SERVERS", broker.bootstrap)
    url = make_server(vercel={"secret": SECRET, "mode": "kafka", "topic": "drains-http"})
    body = json.dumps(PHI_RECORDS).encode()
    r = httpx.post(f"{url}/ingest/vercel", content=body, headers={"x-vercel-signature": sign(body)}, timeout=30)
    assert r.status_code == 200 and r.json() == {"accepted": 2}
    assert httpx.get(f"{url}/readyz", timeout=30).status_code == 200
    stats = run_kafka(Config(), bootstrap=broker.bootstrap, topics=["drains-http"], group_id="g-http", fmt="vercel",
                      out_dir=str(tmp_path / "consumed"), consumer_cli=dict(TEST_CONSUMER), producer_cli={},
                      engine=engine, handle_signals=False, idle_timeout=4)
    assert stats.records_in == 2
    con = duckdb.connect(str(tmp_path / "consumed" / "findings.duckdb"))
    assert con.execute("SELECT count(*) FROM findings").fetchone()[0] >= 3
    monkeypatch.setenv("PHISCAN_KAFKA_BOOTSTRAP_SERVERS", f"127.0.0.1:{free_port()}")
    down = make_server(vercel={"secret": SECRET, "mode": "kafka", "topic": "drains-http"},
                       out_dir=str(tmp_path / "out2"))
    r = httpx.post(f"{down}/ingest/vercel", content=body, headers={"x-vercel-signature": sign(body)}, timeout=60)
    assert r.status_code == 503 and r.headers["retry-after"]
    assert httpx.get(f"{down}/readyz", timeout=60).status_code == 503
