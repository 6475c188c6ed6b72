"""The official PostHog, Segment and Mixpanel Python libraries pointed at phiscan's scrubbing proxies.

Each library posts what it would post to its vendor; phiscan scrubs and forwards to a
loopback upstream that records what it gets. The client must see success, the upstream
get every event, and no canary planted in any field the library lets a user set arrive.
"""

from __future__ import annotations

import base64
import gzip
import json
from urllib.parse import parse_qs

import httpx
import pytest

from tests.test_clients_sentry import canaries, metric
from tests.test_serve import findings, make_server, upstream  # noqa: F401

ANSWER = b'{"status": 1, "flags": {}, "featureFlags": {}}'  # what each vendor's client reads as success


def _leaks(upstream, planted: list[str]) -> list[str]:
    sent = b"\n".join(upstream.bodies).decode("utf-8", "replace")
    for body in upstream.bodies:  # a form's data= field may hold base64 JSON: look inside it too
        for value in parse_qs(body.decode("utf-8", "replace")).get("data", []):
            if value[:1] not in "[{":
                sent += base64.b64decode(value + "=" * (-len(value) % 4)).decode("utf-8", "replace")
    return [p for p in planted if p in sent]


def _events_received(upstream) -> list[dict]:
    out = []
    for body in upstream.bodies:
        text = body.decode()
        if text.startswith("data="):
            text = parse_qs(text)["data"][0]
        value = json.loads(text)
        items = value.get("batch", [value]) if isinstance(value, dict) else value
        out.extend(items)
    return out


@pytest.mark.parametrize("compressed", [False, True])
def test_posthog_python_library(make_server, upstream, tmp_path, compressed):
    from posthog import Posthog

    url = make_server(vercel={"enabled": False}, analytics={"posthog": {"enabled": True, "upstream": upstream.url}})
    upstream.answer_body = ANSWER
    planted = canaries(f"ph{int(compressed)}", 5)
    client = Posthog("phc_notarealprojectkey0123456789", host=url, gzip=compressed, flush_at=100,
                     flush_interval=60, max_retries=0, sync_mode=False)
    errors: list[Exception] = []
    client.on_error = lambda exc, batch: errors.append(exc)
    client.capture("intake submitted", distinct_id=planted[0],
                   properties={"$current_url": f"https://app.example.com/intake?email={planted[1]}",
                               "ssn": planted[2], "note": f"patient {planted[3]}"})
    client.set(distinct_id="user-7", properties={"email": planted[4], "ssn": planted[5]})
    client.group_identify("clinic", "c-1", {"owner": planted[6], "owner_ssn": planted[7]})
    client.alias(planted[8], "user-7")
    client.capture("viewed", distinct_id="user-7", properties={"$pathname": f"/patients/{planted[9]}"})
    client.flush()
    client.shutdown()
    assert errors == [] and upstream.wait_for(1)
    assert metric(url, "posthog", "200") >= 1 and set(upstream.paths) == {"/batch/"}
    assert len(_events_received(upstream)) == 5
    assert _leaks(upstream, planted) == []
    assert all(b"phc_notarealprojectkey0123456789" in b for b in upstream.bodies)  # the project key still works
    assert {e for _, e, _ in findings(tmp_path)} >= {"EMAIL_ADDRESS", "US_SSN"}


def test_posthog_browser_encodings_and_passthrough(make_server, upstream):
    """posthog-js: `/e/?compression=gzip-js` (raw gzip, text/plain), the legacy form `data=` base64; `/flags`."""
    url = make_server(vercel={"enabled": False}, analytics={"posthog": {"enabled": True, "upstream": upstream.url}})
    upstream.answer_body = ANSWER
    event = [{"event": "$pageview", "properties": {"$lib": "web", "token": "phc_k",
                                                   "$current_url": "https://app.example.com/?ssn=412-37-1290"}}]
    raw = json.dumps(event).encode()
    r = httpx.post(f"{url}/e/?compression=gzip-js&ver=1.200.0&_=1700000000000", content=gzip.compress(raw),
                   headers={"content-type": "text/plain"})
    assert r.status_code == 200 and upstream.paths[-1] == "/e/?ver=1.200.0&_=1700000000000"
    legacy = "data=" + base64.b64encode(json.dumps(event[0]).encode()).decode()
    r = httpx.post(f"{url}/i/v0/e/?compression=base64", content=legacy,
                   headers={"content-type": "application/x-www-form-urlencoded"})
    assert r.status_code == 200 and _leaks(upstream, ["412-37-1290"]) == []
    assert parse_qs(upstream.bodies[-1].decode())["data"]  # a form went on as a form
    lz = httpx.post(f"{url}/e/?compression=lz64", content=b"N4Ig", headers={"content-type": "text/plain"})
    assert lz.status_code == 415 and len(upstream.bodies) == 2  # not read, so not forwarded
    flags = httpx.post(f"{url}/flags/?v=2", json={"token": "phc_k", "distinct_id": "u"})
    assert flags.status_code == 200 and flags.json()["status"] == 1 and upstream.paths[-1] == "/flags/?v=2"


def test_segment_python_library(make_server, upstream, tmp_path):
    import segment.analytics as analytics

    url = make_server(vercel={"enabled": False}, analytics={"segment": {"enabled": True, "upstream": upstream.url}})
    planted = canaries("seg", 7)
    errors: list[Exception] = []
    client = analytics.Client(write_key="wk_notarealwritekey", host=url, gzip=True, max_retries=0,
                              upload_interval=0.2, on_error=lambda exc, batch: errors.append(exc))
    context = {"page": {"url": f"https://app.example.com/labs?email={planted[0]}", "title": planted[1]},
               "traits": {"email": planted[2]}}
    client.track("user-9", "Lab Ordered", {"ssn": planted[3], "note": f"for {planted[4]}"}, context=context)
    client.identify("user-9", {"email": planted[5], "ssn": planted[6], "name": "x"})
    client.page("user-9", "Portal", "Results", {"url": f"https://app.example.com/r?e={planted[7]}"})
    client.screen("user-9", "App", "Intake", {"ssn": planted[8]})
    client.group("user-9", "clinic-2", {"admin": planted[9]})
    client.alias(planted[10], "user-9")
    client.track(anonymous_id="anon-1", event="Viewed", properties={"q": planted[11], "r": planted[12]})
    client.flush()
    client.join()
    assert errors == [] and upstream.wait_for(1)
    assert set(upstream.paths) == {"/v1/batch"} and metric(url, "segment", "200") >= 1
    assert all(h["authorization"].startswith("Basic ") for h in upstream.headers)  # the write key goes on
    assert len(_events_received(upstream)) == 7 and _leaks(upstream, planted) == []
    assert {e for _, e, _ in findings(tmp_path)} >= {"EMAIL_ADDRESS", "US_SSN"}


def test_segment_single_message_routes_imply_the_type(make_server, upstream):
    url = make_server(vercel={"enabled": False}, analytics={"segment": {"enabled": True, "upstream": upstream.url}})
    r = httpx.post(f"{url}/v1/identify", json={"userId": "u1", "traits": {"email": "seg.single@gmail.com"}})
    assert r.status_code == 200 and upstream.paths == ["/v1/identify"]
    sent = json.loads(upstream.bodies[0])
    assert sent["type"] == "identify" and "seg.single@gmail.com" not in upstream.bodies[0].decode()
    bad = httpx.post(f"{url}/v1/track", content=b'{"userId": "u1", "event": "x", "properties": {"ssn": "412-37-1291"')
    assert bad.status_code == 400 and "412-37-1291" not in bad.text and len(upstream.bodies) == 1


def test_mixpanel_python_library(make_server, upstream, tmp_path):
    from mixpanel import BufferedConsumer, Consumer, Mixpanel

    url = make_server(vercel={"enabled": False}, analytics={"mixpanel": {"enabled": True, "upstream": upstream.url}})
    upstream.answer_body = ANSWER
    planted = canaries("mp", 5)
    endpoints = {"events_url": f"{url}/track", "people_url": f"{url}/engage", "groups_url": f"{url}/groups"}
    mp = Mixpanel("mptoken0123456789abcdef", consumer=Consumer(**endpoints))
    mp.track(planted[0], "Appointment Booked", {"ssn": planted[1], "$current_url":
                                                f"https://app.example.com/book?email={planted[2]}"})
    mp.people_set("user-3", {"$email": planted[3], "ssn": planted[4]})
    mp.people_set_once("user-3", {"first_contact": planted[5]})
    mp.group_set("clinic", "c-9", {"admin": planted[6]})
    buffered = BufferedConsumer(max_size=10, **endpoints)
    batched = Mixpanel("mptoken0123456789abcdef", consumer=buffered)
    batched.track("user-3", "Viewed", {"note": planted[7]})
    batched.track("user-3", "Viewed", {"note": planted[8], "ssn": planted[9]})
    buffered.flush()  # a MixpanelException would be raised here, in the caller, on any refusal
    assert upstream.wait_for(5)
    assert [p.split("?")[0] for p in upstream.paths] == ["/track", "/engage", "/engage", "/groups", "/track"]
    forms = [parse_qs(b.decode()) for b in upstream.bodies]
    assert all(f["verbose"] == ["1"] and f["ip"] == ["0"] for f in forms)  # its control fields went on
    assert len(_events_received(upstream)) == 6 and _leaks(upstream, planted) == []
    assert all(b"mptoken0123456789abcdef" in b for b in upstream.bodies)
    assert {e for _, e, _ in findings(tmp_path)} >= {"EMAIL_ADDRESS", "US_SSN"}


def test_vendor_refusals_pass_back_and_routes_need_prefixes(make_server, upstream):
    from pipeline.config import Config

    url = make_server(vercel={"enabled": False}, analytics={
        "mixpanel": {"enabled": True, "upstream": upstream.url, "prefix": "/mp"},
        "posthog": {"enabled": True, "upstream": upstream.url}})
    upstream.status, upstream.answer_body = 400, b'{"status": 0, "error": "token missing"}'
    r = httpx.post(f"{url}/mp/track", data={"data": json.dumps({"event": "e", "properties": {
        "distinct_id": "d", "time": 1700000000, "token": "t"}}), "verbose": "1"})
    assert r.status_code == 400 and r.json() == {"status": 0, "error": "token missing"}
    assert upstream.paths == ["/track"] and parse_qs(upstream.bodies[0].decode())["verbose"] == ["1"]
    with pytest.raises(Exception, match="collide"):
        Config.model_validate({"serve": {"analytics": {"mixpanel": {"enabled": True}, "posthog": {"enabled": True}}}})
