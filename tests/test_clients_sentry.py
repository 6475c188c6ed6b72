"""The official Sentry Python SDK, its DSN pointed at phiscan, phiscan forwarding to a loopback upstream.

The SDK is told nothing about phiscan but its DSN (`http://<key>@phiscan/<project>`): the
Relay-compatible routes must take its envelopes as they come (brotli or gzip, X-Sentry-Auth,
attachments), and no canary planted in any field the SDK lets a user set may reach the upstream.
"""

from __future__ import annotations

import json
import os

import brotli
import httpx
import pytest
import sentry_sdk

from tests.test_serve import findings, make_server, upstream  # noqa: F401

KEY, PROJECT = "0123456789abcdef0123456789abcdef", "42"


def canaries(tag: str, n: int) -> list[str]:
    """Unique values per field: an email and an SSN each, so a leak names the field it came from."""
    return [v for i in range(n) for v in (f"{tag}{i}.canary@gmail.com", f"4{i + 10:02d}-37-{1200 + i:04d}")]


def metric(url: str, route: str, status: str) -> float:
    prefix = f'phiscan_http_requests_total{{route="{route}",status="{status}"}} '
    for line in httpx.get(f"{url}/metrics").text.splitlines():
        if line.startswith(prefix):
            return float(line[len(prefix):])
    return 0.0


def _fail_with_locals(local_ssn: str, email: str) -> None:
    """A frame whose variables (sent with the stack trace) hold canaries."""
    record = {"ssn": local_ssn}  # noqa: F841 - read by the SDK, not by us
    raise ValueError(f"bad record for {email}")


def _send_events(dsn: str, planted: list[str], compression: str, attachment: bytes | None = None) -> None:
    """Events through the SDK, with a canary in user, tags, extra, breadcrumbs, request URL, locals, message."""
    client = sentry_sdk.Client(dsn=dsn, default_integrations=False, send_default_pii=True,
                               include_local_variables=True, shutdown_timeout=10,
                               _experiments={"transport_compression_algo": compression})
    with sentry_sdk.new_scope() as scope:
        scope.set_client(client)
        scope.set_user({"id": "u-1", "email": planted[0], "username": planted[1]})
        scope.set_tag("patient", planted[2])
        scope.set_tag("ssn", planted[3])
        scope.set_extra("intake", {"email": planted[4], "ssn": planted[5]})
        scope.add_breadcrumb(message=f"lookup {planted[6]}", category="query", data={"ssn": planted[7]})
        scope.set_context("patient", {"contact": planted[8]})
        if attachment is not None:
            scope.add_attachment(bytes=attachment, filename="labs.txt")
            attachment = None  # not a frame variable of the stack trace below: it would make the event itself big
        scope.capture_event({"message": f"intake from {planted[9]}", "level": "error",
                             "request": {"url": f"https://app.example.com/api/patients?email={planted[10]}",
                                         "method": "GET", "headers": {"X-Patient": planted[11]}}})
        try:
            _fail_with_locals(planted[12], planted[13])
        except ValueError:
            scope.capture_exception()
    client.flush(timeout=15)
    client.close(timeout=15)


@pytest.mark.parametrize("compression", ["br", "gzip"])
def test_sentry_sdk_dsn_pointed_at_phiscan(make_server, upstream, tmp_path, compression):
    allowed = f"http://{KEY}@{upstream.url.split('://')[1]}/{PROJECT}"
    url = make_server(vercel={"enabled": False}, sentry={"enabled": True, "allowed_dsns": [allowed]})
    planted = canaries(f"s{compression}", 7)
    _send_events(f"http://{KEY}@{url.split('://')[1]}/{PROJECT}", planted, compression)
    assert upstream.wait_for(2), "the upstream did not get both events"
    assert metric(url, "sentry_envelope", "200") == 2  # the SDK was answered 200 for each envelope
    assert upstream.paths == [f"/api/{PROJECT}/envelope/?sentry_key={KEY}"] * 2
    sent = b"\n".join(upstream.bodies).decode()
    assert [p for p in planted if p in sent] == []
    events = [json.loads(line) for line in sent.splitlines() if '"event_id"' in line and '"exception"' in line]
    assert events and events[0]["exception"]["values"][0]["type"] == "ValueError"  # the event itself arrived
    assert {e for _, e, _ in findings(tmp_path)} >= {"EMAIL_ADDRESS", "US_SSN"}
    assert not any(p in str(row) for row in findings(tmp_path) for p in planted)


def test_sentry_sdk_large_attachment_is_dropped_not_the_event(make_server, upstream, tmp_path):
    """An attachment over the body limit is dropped while reading; the event still goes through."""
    allowed = f"http://{KEY}@{upstream.url.split('://')[1]}/{PROJECT}"
    url = make_server(vercel={"enabled": False}, sentry={"enabled": True, "allowed_dsns": [allowed]},
                      max_body_bytes=64 * 1024)
    planted = canaries("att", 7)
    attachment = planted[0].encode() + os.urandom(400 * 1024)  # incompressible: the wire body is over the limit
    _send_events(f"http://{KEY}@{url.split('://')[1]}/{PROJECT}", planted, "br", attachment)
    assert upstream.wait_for(2)
    sent = b"\n".join(upstream.bodies)
    item_types = [json.loads(line).get("type") for line in sent.splitlines() if line.startswith(b'{"type"')]
    assert "attachment" not in item_types and item_types.count("event") == 2 and len(sent) < 64 * 1024
    assert not any(p.encode() in sent for p in planted)
    assert metric(url, "sentry_envelope", "200") == 2


def test_sentry_relay_refuses_unknown_keys_projects_and_origins(make_server, upstream):
    allowed = f"http://{KEY}@{upstream.url.split('://')[1]}/{PROJECT}"
    url = make_server(vercel={"enabled": False}, cors_origins=["https://app.example.com"],
                      sentry={"enabled": True, "allowed_dsns": [allowed]})
    env = b'{"event_id":"' + b"a" * 32 + b'"}\n{"type":"event"}\n{"message":"hi"}\n'
    auth = {"x-sentry-auth": f"Sentry sentry_version=7, sentry_key={KEY}, sentry_client=test/1"}
    assert httpx.post(f"{url}/api/{PROJECT}/envelope/", content=env).status_code == 403  # no key
    assert httpx.post(f"{url}/api/43/envelope/", content=env, headers=auth).status_code == 403
    assert httpx.post(f"{url}/api/{PROJECT}/envelope/?sentry_key=other", content=env).status_code == 403
    evil = httpx.post(f"{url}/api/{PROJECT}/envelope/", content=env, headers={**auth, "origin": "https://evil.test"})
    assert evil.status_code == 403
    assert upstream.bodies == []
    # a browser SDK on an allowed origin: preflight, then the post, with the CORS headers on both
    pre = httpx.options(f"{url}/api/{PROJECT}/envelope/", headers={
        "origin": "https://app.example.com", "access-control-request-method": "POST",
        "access-control-request-headers": "content-type"})
    assert pre.status_code == 204 and pre.headers["access-control-allow-origin"] == "https://app.example.com"
    assert "POST" in pre.headers["access-control-allow-methods"] and "*" not in pre.text
    assert httpx.options(f"{url}/api/{PROJECT}/envelope/", headers={"origin": "https://evil.test"}).status_code == 403
    ok = httpx.post(f"{url}/api/{PROJECT}/envelope/?sentry_key={KEY}&sentry_version=7", content=env,
                    headers={"origin": "https://app.example.com", "content-type": "text/plain"})
    assert ok.status_code == 200 and ok.headers["access-control-allow-origin"] == "https://app.example.com"
    assert "x-sentry-rate-limits" in ok.headers["access-control-expose-headers"]


def test_sentry_store_route_and_rate_limits_passed_back(make_server, upstream):
    allowed = f"http://{KEY}@{upstream.url.split('://')[1]}/{PROJECT}"
    url = make_server(vercel={"enabled": False}, sentry={"enabled": True, "allowed_dsns": [allowed]})
    event = json.dumps({"event_id": "c" * 32, "message": "store ssn 412-37-1299", "level": "error",
                        "user": {"email": "store.canary@gmail.com"}}).encode()
    upstream.status, upstream.answer_headers = 429, {"Retry-After": "30", "X-Sentry-Rate-Limits": "30:error:key"}
    r = httpx.post(f"{url}/api/{PROJECT}/store/", content=brotli.compress(event),
                   headers={"x-sentry-auth": f"Sentry sentry_key={KEY}", "content-encoding": "br"})
    assert r.status_code == 429 and r.headers["retry-after"] == "30"
    assert r.headers["x-sentry-rate-limits"] == "30:error:key"
    assert upstream.paths == [f"/api/{PROJECT}/store/?sentry_key={KEY}"]
    assert b"412-37-1299" not in upstream.bodies[0] and b"store.canary" not in upstream.bodies[0]
    junk = httpx.post(f"{url}/api/{PROJECT}/store/", content=b'{"message": "ssn 412-37-1299"',
                      headers={"x-sentry-auth": f"Sentry sentry_key={KEY}"})
    assert junk.status_code == 400 and "412-37-1299" not in junk.text and len(upstream.bodies) == 1
