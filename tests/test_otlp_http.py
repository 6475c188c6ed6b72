"""`POST /v1/logs` and `/v1/traces` on a real loopback server, fed by the real OpenTelemetry SDK exporters.

phiscan runs under uvicorn with the OTLP routes added to its app the way `create_app`
adds them; it forwards to a loopback collector that records every body. The collector
must get every span and log record, and no planted value.
"""

from __future__ import annotations

import gzip

import httpx
import orjson
import pytest

from connectors import documents
from pipeline.config import Config
from tests.kafka_broker import free_port
from tests.otlp_sdk import Recorder, emit

DOMAIN = "canary-mail.org"
ITEMS = [
    ("GET /api/patients/[id]", {"http.route": "/api/patients/[id]", "enduser.id": f"jane.doe@{DOMAIN}"},
     f"chart opened for maria.k@{DOMAIN}, ssn 536-90-4399", {"url.path": "/api/patients/17"}),
    ("POST /api/intake", {"http.route": "/api/intake"}, "intake saved", {"patient.email": f"lee.w@{DOMAIN}"}),
    ("GET /healthz", {}, "ok", {}),
]


@pytest.fixture()
def collector():
    c = Recorder()
    yield c
    c.close()


@pytest.fixture()
def phiscan(engine, tmp_path, collector, monkeypatch):
    import tests.test_serve as serve_tests

    running = []  # the routes are mounted by create_app itself, from `serve.otlp.enabled`

    def start(upstream: str | None = collector.url):
        cfg = Config.model_validate({"serve": {"out_dir": str(tmp_path / "out"),
                                               "otlp": {"enabled": True, "upstream": upstream}}})
        server, thread, url = serve_tests.start(cfg, engine)
        running.append((server, thread))
        return url

    yield start
    for server, thread in running:
        server.should_exit = True
        thread.join(10)


def _events(body: bytes) -> list:
    return [e for e in documents.parse(body, "otlp", "collector").events if not e.wrapper]


@pytest.mark.parametrize("gzip_body", [False, True], ids=["plain", "gzip"])
def test_sdk_exporters_through_phiscan_reach_the_collector_scrubbed(phiscan, collector, gzip_body, tmp_path):
    url = phiscan()
    assert emit(url, ITEMS, gzip_body=gzip_body) == (True, True)
    traces, logs = collector.bodies("/v1/traces"), collector.bodies("/v1/logs")
    assert len(traces) == 1 and len(logs) == 1
    assert len(_events(traces[0])) == len(ITEMS) and len(_events(logs[0])) == len(ITEMS)  # every span and log
    for _, headers, body in collector.requests:
        assert headers["content-type"] == "application/x-protobuf"
        assert DOMAIN.encode() not in body and b"536-90-4399" not in body
    names = {e.payload["name"] for e in _events(traces[0])}
    assert names == {name for name, *_ in ITEMS}  # what held nothing passes as it came


def test_otlp_json_is_scrubbed_and_forwarded_as_json(phiscan, collector):
    url = phiscan()
    doc = {"resourceLogs": [{"resource": {"attributes": [{"key": "user", "value": {"stringValue": f"x@{DOMAIN}"}}]},
                             "scopeLogs": [{"logRecords": [{"timeUnixNano": "1700000000000000000",
                                                            "body": {"stringValue": f"hello amy@{DOMAIN}"}}]}]}]}
    resp = httpx.post(f"{url}/v1/logs", content=gzip.compress(orjson.dumps(doc)),
                      headers={"content-type": "application/json", "content-encoding": "gzip"})
    assert resp.status_code == 200, resp.text
    [(path, headers, body)] = collector.requests
    assert path == "/v1/logs" and headers["content-type"] == "application/json"
    assert DOMAIN.encode() not in body and len(_events(body)) == 1


@pytest.mark.parametrize("path,content_type,body", [
    ("/v1/logs", "application/x-protobuf", b"\n\x05junk!"),
    ("/v1/logs", "application/json", orjson.dumps({"resourceLogs": [{"resource": "x", "scopeLogs": []}]})),
    ("/v1/logs", "application/json", orjson.dumps({"resourceSpans": []})),  # traces on the logs route
    ("/v1/traces", "application/json", b'{"resourceSpans": [{"scopeSpans": [{"spans": [5]}]}]}'),
    ("/v1/logs", "application/x-protobuf", orjson.dumps({"resourceLogs": []})),  # JSON sent as protobuf
    ("/v1/logs", "text/plain", b"hello"),
], ids=["junk-pb", "resource-str", "wrong-signal", "span-int", "json-as-pb", "text"])
def test_what_cannot_be_scanned_is_refused_and_not_forwarded(phiscan, collector, path, content_type, body):
    url = phiscan()
    resp = httpx.post(f"{url}{path}", content=body, headers={"content-type": content_type})
    assert resp.status_code in (400, 415), resp.text
    assert collector.requests == []
    assert b"junk" not in resp.content and b"hello" not in resp.content  # errors never echo content


def test_collector_status_is_passed_back(phiscan, collector):
    url = phiscan()
    collector.status = 400  # not retried by the SDK: one round trip
    ok_traces, ok_logs = emit(url, ITEMS[:1])
    assert not ok_traces and not ok_logs  # the SDK saw the collector's refusal, not phiscan's acceptance
    collector.status = 503
    resp = httpx.post(f"{url}/v1/logs", content=b'{"resourceLogs": []}', headers={"content-type": "application/json"})
    assert resp.status_code == 503


def test_unreachable_collector_is_503_with_retry_after(phiscan):
    url = phiscan(upstream=f"http://127.0.0.1:{free_port()}")
    resp = httpx.post(f"{url}/v1/logs", content=b'{"resourceLogs": []}', headers={"content-type": "application/json"})
    assert resp.status_code == 503 and resp.headers.get("retry-after")
