"""HTTP ingest, adversarially: no silent loss, no open door, no echo, every answer counted."""

from __future__ import annotations

import gzip
import hashlib
import hmac
import json
import time

import httpx

from tests.test_serve import HOOK, PHI_RECORDS, PLANTED, SECRET, findings, make_server, sign, upstream  # noqa: F401


def test_multi_member_gzip_body_is_read_whole(make_server, tmp_path):
    url = make_server(vercel={"secret": SECRET})
    ndjson = gzip.compress(json.dumps(PHI_RECORDS[0]).encode() + b"\n") + gzip.compress(
        json.dumps(PHI_RECORDS[1]).encode() + b"\n")
    r = httpx.post(f"{url}/ingest/vercel", content=ndjson,
                   headers={"x-vercel-signature": sign(ndjson), "content-encoding": "gzip"}, timeout=30)
    assert r.status_code == 200 and r.json()["accepted"] == 2


def test_downstream_refusal_is_not_acknowledged(make_server, upstream):
    url = make_server(vercel={"secret": SECRET, "forward_url": f"{upstream.url}/logs"})
    upstream.status = 400
    body = json.dumps(PHI_RECORDS).encode()
    r = httpx.post(f"{url}/ingest/vercel", content=body, headers={"x-vercel-signature": sign(body)}, timeout=30)
    assert r.status_code == 502  # not a 200: Vercel must not think the records were delivered
    assert not any(p in r.text for p in PLANTED)


def test_non_ascii_signature_is_403_not_500(make_server):
    url = make_server(vercel={"secret": SECRET})
    body = json.dumps(PHI_RECORDS).encode()
    r = httpx.post(f"{url}/ingest/vercel", content=body, headers={"x-vercel-signature": "é".encode("latin-1")})
    assert r.status_code == 403


def _hook(url, body, **headers):
    sig = hmac.new(HOOK.encode(), body, hashlib.sha256).hexdigest()
    return httpx.post(f"{url}/ingest/sentry/webhook", content=body, timeout=30,
                      headers={"sentry-hook-signature": sig, "sentry-hook-resource": "error", **headers})


def test_webhook_replays_and_stale_deliveries_are_refused(make_server, monkeypatch):
    monkeypatch.setenv("PHISCAN_SENTRY_CLIENT_SECRET", HOOK)
    url = make_server(sentry_webhook={"enabled": True})
    body = json.dumps({"action": "created", "data": {"error": {"event_id": "f" * 32, "message": "hi",
                                                               "level": "error"}}}).encode()
    now = str(int(time.time()))
    assert _hook(url, body, **{"request-id": "r-1", "sentry-hook-timestamp": now}).status_code == 200
    assert _hook(url, body, **{"request-id": "r-1", "sentry-hook-timestamp": now}).status_code == 403
    stale = str(int(time.time()) - 3600)
    assert _hook(url, body, **{"request-id": "r-2", "sentry-hook-timestamp": stale}).status_code == 403


def test_tunnel_passes_rate_limits_back(make_server, upstream):
    dsn = "https://abc123@o4504.ingest.us.sentry.io/4507"
    url = make_server(sentry_tunnel={"enabled": True, "allowed_dsns": [dsn], "upstream": upstream.url})
    upstream.status = 429
    upstream.answer_headers = {"Retry-After": "60", "X-Sentry-Rate-Limits": "60:error:organization"}
    env = b"\n".join([json.dumps({"event_id": "a" * 32, "dsn": dsn}).encode(), b'{"type":"event"}',
                      json.dumps({"event_id": "a" * 32, "message": "hi", "level": "error"}).encode()])
    r = httpx.post(f"{url}/ingest/sentry/tunnel", content=env, timeout=30)
    assert r.status_code == 429
    assert r.headers["retry-after"] == "60" and r.headers["x-sentry-rate-limits"] == "60:error:organization"


def test_tunnel_forwards_to_the_dsn_scheme_host_and_port(make_server, upstream):
    """A self-hosted Sentry (or GlitchTip) on http and another port: forwarded there, not to https:443."""
    dsn = f"http://abc123@{upstream.url.split('://')[1]}/7"
    url = make_server(sentry_tunnel={"enabled": True, "allowed_dsns": [dsn]})
    env = b"\n".join([json.dumps({"event_id": "b" * 32, "dsn": dsn, "trace": {"user_id": PLANTED[0]}}).encode(),
                      b'{"type":"event"}',
                      json.dumps({"event_id": "b" * 32, "message": f"ssn {PLANTED[1]}", "level": "error"}).encode()])
    r = httpx.post(f"{url}/ingest/sentry/tunnel", content=env, timeout=30)
    assert r.status_code == 200
    assert upstream.paths == ["/api/7/envelope/?sentry_key=abc123"]
    sent = upstream.bodies[0].decode()
    assert PLANTED[0] not in sent and PLANTED[1] not in sent  # the envelope header is scrubbed too


def test_a_crashing_route_is_a_counted_500_without_content(make_server, tmp_path, monkeypatch):
    from pipeline.runtime.build import Runtime

    def broken(self, done, key):
        raise OSError("disk full at /secret/path")

    url = make_server(vercel={"secret": SECRET})
    monkeypatch.setattr(Runtime, "record", broken)
    body = json.dumps(PHI_RECORDS).encode()
    r = httpx.post(f"{url}/ingest/vercel", content=body, headers={"x-vercel-signature": sign(body)}, timeout=30)
    assert r.status_code == 500 and "secret" not in r.text and not any(p in r.text for p in PLANTED)
    metrics = httpx.get(f"{url}/metrics").text
    assert 'phiscan_http_requests_total{route="vercel",status="500"} 1.0' in metrics


def test_every_content_encoding_is_read_and_bounded(make_server, tmp_path):
    """gzip, zlib and raw deflate, br: read; a br bomb is 413, truncation 400, an unknown coding 415."""
    import zlib

    import brotli

    url = make_server(vercel={"secret": SECRET}, max_body_bytes=8192)
    body = json.dumps(PHI_RECORDS).encode()
    raw_deflate = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
    encoded = {"deflate": zlib.compress(body), "br": brotli.compress(body),
               "x-gzip": gzip.compress(body)}
    encoded_raw = raw_deflate.compress(body) + raw_deflate.flush()

    def post(data, encoding):
        return httpx.post(f"{url}/ingest/vercel", content=data, timeout=30,
                          headers={"x-vercel-signature": sign(data), "content-encoding": encoding})

    for encoding, data in encoded.items():
        assert post(data, encoding).json()["accepted"] == 2, encoding
    assert post(encoded_raw, "deflate").json()["accepted"] == 2
    assert post(brotli.compress(b"[" + b" " * 10_000_000 + b"]"), "br").status_code == 413
    truncated = post(encoded["br"][:-3], "br")
    assert truncated.status_code == 400 and not any(p in truncated.text for p in PLANTED)
    assert post(encoded["deflate"], "compress").status_code == 415


def test_envelope_slimmer_is_independent_of_chunk_boundaries():
    """Binary items are dropped the same way wherever the network cuts the stream."""
    from connectors import documents
    from pipeline.runtime.http.body import EnvelopeSlimmer

    event = json.dumps({"event_id": "d" * 32, "message": "hi"}).encode()
    blob = b"\x00\x01 attachment " + PLANTED[1].encode() + b"\n more"
    env = (b'{"event_id":"' + b"d" * 32 + b'"}\n'
           + json.dumps({"type": "attachment", "length": len(blob), "filename": "a.bin"}).encode() + b"\n" + blob
           + b"\n" + json.dumps({"type": "event", "length": len(event)}).encode() + b"\n" + event + b"\n"
           + b'{"type":"client_report"}\n{"discarded_events":[]}\n')
    expected = None
    for size in range(1, len(env) + 1, 7):
        slim = EnvelopeSlimmer(keep_limit=4096, total_limit=1 << 20)
        for i in range(0, len(env), size):
            slim.write(env[i:i + size])
        out = slim.finish()
        assert PLANTED[1].encode() not in out and slim.dropped == 1
        expected = expected or out
        assert out == expected, size
    doc = documents.parse(expected, "sentry", "t")
    assert len(doc.skipped) == 1 and "hi" in [e.payload.get("message") for e in doc.events if not e.wrapper]
