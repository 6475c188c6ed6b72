"""The scrub contract, adversarially: plant canaries everywhere a value can hide, scrub, grep every output.

For every format and layout: a unique email canary goes into every mapping of the
document, as a value and as a key, including the parts around the events (envelope
and item headers, batch wrappers, webhook bodies, OTLP resources). Then:
- the scan finds every canary (by its keyed fingerprint: findings hold no values);
- the scrubbed output, re-parsed in the same layout, holds none of them;
- nothing is quarantined that the format can account for.
Selectors are off here: a field a selector skips is the user's explicit choice.
"""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import orjson
import pytest

from connectors import documents
from pipeline.config import Config
from pipeline.engine.fingerprint import Fingerprinter
from connectors.sentry import is_json_item, split_envelope
from pipeline.runtime.build import Body, build
from pipeline.runtime.scrub import scrub_file

KEY = b"trust-test-key-not-a-secret"
DOMAIN = "canary-mail.org"
NO_SELECTORS = Config.model_validate({"detection": {"selectors": []}})


@pytest.fixture(scope="module")
def runtime():
    from pipeline.engine.scanner import ScanEngine

    return build(NO_SELECTORS, engine=ScanEngine(NO_SELECTORS, Fingerprinter(KEY)))


class Planter:
    """Adds a canary value and a canary key to every mapping of a JSON value, in place."""

    def __init__(self):
        self.counter = itertools.count()
        self.planted: list[str] = []

    def canary(self) -> str:
        value = f"c{next(self.counter)}.patient@{DOMAIN}"
        self.planted.append(value)
        return value

    def plant(self, node):
        if isinstance(node, dict):
            for v in list(node.values()):
                self.plant(v)
            node[f"phiscan_canary_{len(self.planted)}"] = self.canary()
            node[self.canary()] = "present"
        elif isinstance(node, list):
            for v in node:
                self.plant(v)
        return node


def plant_envelope(data: bytes, planter: Planter) -> bytes:
    """Canaries in the envelope header, every item header and every JSON item; lengths recomputed."""
    header, items = split_envelope(data)
    out = [orjson.dumps(planter.plant(header))]
    for item_header, payload in items:
        if is_json_item(item_header):
            payload = orjson.dumps(planter.plant(orjson.loads(payload)))
        item_header = planter.plant(dict(item_header))
        item_header["length"] = len(payload)
        out += [orjson.dumps(item_header), payload]
    return b"\n".join(out) + b"\n"


def planted_file(src: bytes, name: str, tmp_path: Path, planter: Planter) -> Path:
    if name.endswith(".envelope"):
        data = plant_envelope(src, planter)
    elif name.endswith((".ndjson", ".jsonl")):
        data = b"".join(orjson.dumps(planter.plant(orjson.loads(line))) + b"\n"
                        for line in src.splitlines() if line.strip())
    else:
        data = orjson.dumps(planter.plant(orjson.loads(src)))
    path = tmp_path / name
    path.write_bytes(data)
    return path


def check_contract(runtime, path: Path, fmt: str, planter: Planter, tmp_path: Path) -> None:
    fp = Fingerprinter(KEY)
    # 1. the scan finds every canary
    outcome = runtime.process(path.read_bytes(), fmt, str(path), scrub=False) if not path.name.endswith(
        (".ndjson", ".jsonl")) else None
    if outcome is not None:
        assert not outcome.bad, [b.reason for b in outcome.bad]
        found = {f.fingerprint for f in outcome.findings if f.entity_type == "EMAIL_ADDRESS"}
        missing = [c for c in planter.planted if fp("EMAIL_ADDRESS", c) not in found]
        assert not missing, f"{len(missing)} of {len(planter.planted)} canaries not found: {missing[:5]}"
    # 2. the scrubbed copy holds none, in the same layout, with nothing quarantined
    out = tmp_path / ("clean-" + path.name)
    summary = scrub_file(path, out, fmt, runtime)
    assert summary.quarantined == 0, dict(summary.reasons)
    assert summary.clean == summary.records > 0
    clean = out.read_bytes()
    assert DOMAIN.encode() not in clean and b"patient@" not in clean, "a canary reached clean output"
    if path.name.endswith((".ndjson", ".jsonl")):
        for line in clean.splitlines():
            assert documents.parse(line, fmt, "check").layout in ("object", "array")
    else:
        again = documents.parse(clean, fmt, "check")
        assert again.layout == documents.parse(path.read_bytes(), fmt, "check").layout
        assert len(again.events) == len(documents.parse(path.read_bytes(), fmt, "check").events)


def _vendor_files(shared_formats: Path):
    for f in sorted(shared_formats.rglob("*")):
        if f.suffix in (".json", ".ndjson", ".jsonl", ".envelope") and "schema" not in f.parts:
            yield f


def test_every_real_vendor_payload_keeps_the_scrub_contract(runtime, shared_formats, tmp_path):
    from connectors.registry import resolve_format

    checked = 0
    for src in _vendor_files(shared_formats):
        fmt = resolve_format(src, "auto")
        planter = Planter()
        path = planted_file(src.read_bytes(), f"{fmt}-{src.name}", tmp_path, planter)
        check_contract(runtime, path, fmt, planter, tmp_path)
        checked += 1
    assert checked >= 30


# Documents of every shape the issue named: each has its values outside the connector's events.
WRAPPERS = {
    "segment-batch.json": ("segment", {"batch": [{"type": "track", "event": "Viewed", "messageId": "m1",
                                                  "properties": {"plan": "basic"}}],
                                       "sentAt": "2026-01-01T00:00:00Z", "context": {"library": {"name": "x"}}}),
    "posthog-batch.json": ("posthog", {"api_key": "phc_x", "batch": [{"event": "$pageview", "distinct_id": "d1",
                                                                     "uuid": "u1", "properties": {"$lib": "web"}}]}),
    "sentry-webhook.json": ("sentry", {"action": "created", "actor": {"type": "user", "name": "x"},
                                       "installation": {"uuid": "i1"},
                                       "data": {"error": {"event_id": "e1", "message": "boom", "level": "error"}}}),
    "sentry-snuba.json": ("sentry", [2, "insert", {"event_id": "e2", "project_id": 1,
                                                    "data": {"event_id": "e2", "message": "m", "level": "error"}}]),
    "sentry-envelope-list.json": ("sentry", [{"event_id": "e3", "sent_at": "2026-01-01T00:00:00Z"},
                                             {"type": "event"}, {"event_id": "e3", "message": "m", "level": "error"},
                                             {"type": "attachment"}, {"note": "not an event"}]),
    "vercel-otlp.json": ("vercel", {"resourceSpans": [{"resource": {"attributes": [
        {"key": "service.name", "value": {"stringValue": "web"}}]}, "scopeSpans": [{"scope": {"name": "next"},
        "spans": [{"traceId": "t1", "spanId": "s1", "name": "GET /", "attributes": []}]}]}]}),
}


@pytest.mark.parametrize("name", sorted(WRAPPERS))
def test_wrappers_around_events_are_scanned_and_scrubbed(runtime, tmp_path, name):
    fmt, doc = WRAPPERS[name]
    planter = Planter()
    path = planted_file(json.dumps(doc).encode(), name, tmp_path, planter)
    check_contract(runtime, path, fmt, planter, tmp_path)


def test_mixpanel_properties_as_json_text_are_scrubbed_in_the_text(runtime, tmp_path):
    props = {"time": 1700000000, "distinct_id": "d1", "$insert_id": "i1", "email": f"jane.doe@{DOMAIN}",
             "$current_url": f"https://app.example/u?email=maria%40{DOMAIN}"}
    row = {"event_name": "Signed up", "insert_id": "i1", "distinct_id": "d1", "time": 1700000000,
           "properties": json.dumps(props)}  # a JSON-pipelines row: properties as JSON text
    src = tmp_path / "mixpanel.jsonl"
    src.write_text(json.dumps(row) + "\n")
    out = tmp_path / "clean.jsonl"
    summary = scrub_file(src, out, "mixpanel", runtime)
    assert summary.clean == 1 and summary.findings >= 2
    assert DOMAIN not in out.read_text()
    assert isinstance(json.loads(out.read_text())["properties"], str)  # still JSON text, as it came


def test_plain_text_lines_are_written_back_scrubbed(runtime, tmp_path):
    src = tmp_path / "app.log"
    src.write_text(f"2026-01-02T03:04:05Z login ok for jane.doe@{DOMAIN} from 203.0.113.9\n"
                   "2026-01-02T03:04:06Z nothing here\n"
                   f"Jan  2 03:04:07 host app: ssn 536-90-4399 mail maria@{DOMAIN}\n")
    out = tmp_path / "clean.log"
    summary = scrub_file(src, out, "lines", runtime)
    text = out.read_text()
    assert summary.clean == 3 and summary.quarantined == 0
    assert DOMAIN not in text and "536-90-4399" not in text
    assert text.splitlines()[1] == "2026-01-02T03:04:06Z nothing here"  # untouched lines stay as they were


def test_envelope_file_is_scrubbed_as_one_envelope(runtime, shared_formats, tmp_path):
    src = shared_formats / "sentry" / "envelopes" / "android_sdk_event_session.envelope"
    out = tmp_path / "clean.envelope"
    summary = scrub_file(src, out, "sentry", runtime)
    assert summary.records == 1 and summary.clean == 1  # one document, not one record per line
    assert documents.parse(out.read_bytes(), "sentry", "x").layout == "envelope"


def test_kafka_key_and_headers_are_scanned_and_scrubbed(runtime):
    body = json.dumps({"id": "r1", "deploymentId": "dpl_1", "projectId": "p", "source": "lambda",
                       "message": "ok", "timestamp": 1700000000000}).encode()
    [out] = runtime.process_many([Body(body, "kafka://t/0/1", f"jane.doe@{DOMAIN}".encode(),
                                       [("x-user", f"maria@{DOMAIN}".encode())])], "vercel", scrub=True)
    assert not out.quarantined
    assert {f.entity_type for f in out.findings} == {"EMAIL_ADDRESS"} and len(out.findings) == 2
    assert DOMAIN.encode() not in (out.key or b"") and all(DOMAIN.encode() not in v for _, v in out.headers)
    assert [k for k, _ in out.headers] == ["x-user"]


def test_binary_kafka_key_fails_closed(runtime):
    body = json.dumps({"id": "r2", "deploymentId": "dpl_1", "source": "lambda", "message": "ok"}).encode()
    [out] = runtime.process_many([Body(body, "kafka://t/0/2", b"\xff\xfe")], "vercel", scrub=True)
    assert out.quarantined and "not UTF-8" in out.reason


def test_tombstone_passes_as_a_tombstone(runtime):
    [out] = runtime.process_many([Body(None, "kafka://t/0/3", b"order-17")], "vercel", scrub=True)
    assert not out.quarantined and out.clean is None and out.key == b"order-17"


def test_keys_inside_json_text_are_scanned_and_scrubbed(runtime):
    """A pino line's JSON keys are part of the raw text: a key that is a value must not survive a scrub."""
    line = {"id": "r9", "deploymentId": "dpl_1", "projectId": "p", "source": "lambda",
            "message": json.dumps({"level": 30, "extra": {f"maria.k@{DOMAIN}": {"note": "x"}}})}
    out = runtime.process(json.dumps(line).encode(), "vercel", "pino", scrub=True)
    assert not out.quarantined and any(f.entity_type == "EMAIL_ADDRESS" for f in out.findings)
    assert DOMAIN.encode() not in out.clean
