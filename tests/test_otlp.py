"""OTLP logs and traces as events: OTLP/JSON documents and the SDK's real protobuf requests, scanned and scrubbed.

The JSON documents follow the OTLP/JSON encoding of the spec (hex ids, int64 as
numbers or strings); the protobuf requests are the bytes the OpenTelemetry SDK's
OTLP/HTTP exporters send. Every one must keep the scrub contract of
`tests/test_trust_scrub.py`: a canary planted in every mapping is found, and none is
left after a scrub.
"""

from __future__ import annotations

import copy
import json

import orjson
import pytest

from connectors import documents
from connectors.otlp import OtlpError, decode_protobuf, encode_protobuf
from connectors.registry import read_events, resolve_format
from core.model import BadRecord, Event
from pipeline.engine.fingerprint import Fingerprinter
from tests.otlp_sdk import Recorder, emit
from tests.test_trust_scrub import DOMAIN, KEY, Planter, check_contract, planted_file, runtime  # noqa: F401

TRACE, SPAN = "5B8EFFF798038103D269B633813FC60C", "EEE19B7EC3C1B174"


def log_record(body: str, attrs: list, span: str = SPAN, time: int | str = 1544712660300000000) -> dict:
    return {"timeUnixNano": time, "observedTimeUnixNano": time, "severityNumber": 9, "severityText": "INFO",
            "traceId": TRACE, "spanId": span, "body": {"stringValue": body}, "attributes": attrs}


def attr(key: str, value) -> dict:
    kind = "intValue" if isinstance(value, int) else "stringValue"
    return {"key": key, "value": {kind: value}}


LOGS = {"resourceLogs": [{
    "resource": {"attributes": [attr("service.name", "telecare-api"), attr("host.name", "web-1")]},
    "scopeLogs": [{"scope": {"name": "telecare.app", "version": "1.0.0", "attributes": [attr("team", "intake")]},
                   "logRecords": [
                       log_record("intake saved for patient", [attr("http.route", "/api/patients/[id]"),
                                                               attr("retries", 2)]),
                       log_record("second record of the same span", [attr("url.path", "/api/labs/17?x=1")]),
                       {"timeUnixNano": "1544712661000000000", "body": {"kvlistValue": {"values": [
                           {"key": "note", "value": {"stringValue": "no trace context"}}]}}},
                   ]}]}]}

SPANS = {"resourceSpans": [{
    "resource": {"attributes": [attr("service.name", "telecare-api")]},
    "scopeSpans": [{"scope": {"name": "telecare.http"}, "spans": [
        {"traceId": TRACE, "spanId": SPAN, "parentSpanId": "EEE19B7EC3C1B173", "name": "GET /api/patients/[id]",
         "kind": 2, "startTimeUnixNano": 1544712660000000000, "endTimeUnixNano": 1544712661000000000,
         "attributes": [attr("http.route", "/api/patients/[id]")],
         "events": [{"name": "exception", "timeUnixNano": 1544712660500000000, "attributes": []}],
         "links": [{"traceId": TRACE, "spanId": "EEE19B7EC3C1B172", "attributes": []}]}]}]}]}


def test_logs_are_one_event_per_record_with_ids_time_route_and_service(tmp_path):
    path = tmp_path / "logs.json"
    path.write_text(json.dumps(LOGS))
    assert resolve_format(path) == "otlp"
    out = list(read_events(path))
    assert not [o for o in out if isinstance(o, BadRecord)]
    events = [o for o in out if isinstance(o, Event) and not o.wrapper]
    assert [e.event_id for e in events] == [f"{TRACE}:{SPAN}", f"{TRACE}:{SPAN}#2",
                                            f"{path}:1/resourceLogs[0].scopeLogs[0].logRecords[2]"]  # NDJSON line 1
    assert {e.source for e in events} == {"otlp-logs"} and {e.project for e in events} == {"telecare-api"}
    assert [e.route for e in events] == ["/api/patients/[id]", "/api/labs/17", None]
    assert events[0].timestamp.isoformat() == "2018-12-13T14:51:00.300000+00:00"
    assert events[0].payload is LOGS_PAYLOAD(out)  # the very dict inside the document, no copy
    wrapper = [o for o in out if isinstance(o, Event) and o.wrapper]
    assert len(wrapper) == 1  # resource and scope attributes: scanned around the events


def LOGS_PAYLOAD(out):  # noqa: N802 - the first log record of the document the events were read from
    root = next(o for o in out if isinstance(o, Event) and o.wrapper).payload
    return root["resourceLogs"][0]["scopeLogs"][0]["logRecords"][0]


def test_generic_traces_are_otlp_and_vercel_trace_drains_stay_vercel(tmp_path, shared_formats):
    path = tmp_path / "traces.json"
    path.write_text(json.dumps(SPANS))
    assert resolve_format(path) == "otlp"
    [span] = [e for e in read_events(path) if isinstance(e, Event) and not e.wrapper]
    assert (span.source, span.event_id, span.route) == ("otlp-traces", f"{TRACE}:{SPAN}", "/api/patients/[id]")
    drain = shared_formats / "vercel" / "vercel_docs_traces_drain.json"
    assert resolve_format(drain) == "vercel"
    assert resolve_format(drain, "otlp") == "otlp"  # asked for by name, any OTLP request is read
    assert {e.source for e in read_events(drain, "otlp") if isinstance(e, Event)} == {"vercel-traces"}


@pytest.mark.parametrize("doc", [LOGS, SPANS], ids=["logs", "traces"])
def test_otlp_json_keeps_the_scrub_contract(runtime, tmp_path, doc):  # noqa: F811
    planter = Planter()
    path = planted_file(json.dumps(doc).encode(), "otlp.json", tmp_path, planter)
    check_contract(runtime, path, "otlp", planter, tmp_path)


def test_protobuf_round_trip_is_byte_exact_and_ids_are_hex():
    for doc, signal in ((LOGS, "logs"), (SPANS, "traces")):
        data = encode_protobuf(doc, signal)
        found, value = decode_protobuf(data)
        assert found == signal  # the signal is told apart by which message accounts for every byte
        assert encode_protobuf(value, signal) == data
        ids = json.dumps(value)
        assert TRACE.lower() in ids and SPAN.lower() in ids  # hex, as OTLP/JSON writes them, not base64
    with pytest.raises(OtlpError):
        decode_protobuf(b"\n\x03abc")  # field 1 of the right wire type, but no request inside
    scrubbed = copy.deepcopy(SPANS)
    scrubbed["resourceSpans"][0]["scopeSpans"][0]["spans"][0]["traceId"] = "<EMAIL_ADDRESS>"
    with pytest.raises(OtlpError, match="not hex"):
        encode_protobuf(scrubbed, "traces")  # an id a scrub rewrote cannot be sent as bytes: fails closed


@pytest.fixture(scope="module")
def sdk_requests():
    """The protobuf bodies the real SDK exporters send for two spans with a log record each."""
    recorder = Recorder()
    try:
        ok = emit(recorder.url, [
            ("GET /api/patients/[id]", {"http.route": "/api/patients/[id]", "enduser.id": f"jane@{DOMAIN}"},
             f"loaded chart of maria@{DOMAIN}", {"url.path": "/api/patients/17"}),
            ("POST /api/intake", {"http.route": "/api/intake"}, "intake ok", {"patient.email": f"lee@{DOMAIN}"}),
        ])
        assert ok == (True, True)
        return {"traces": recorder.bodies("/v1/traces")[0], "logs": recorder.bodies("/v1/logs")[0]}
    finally:
        recorder.close()


@pytest.mark.parametrize("signal", ["logs", "traces"])
def test_sdk_protobuf_is_read_as_the_sdk_sent_it(sdk_requests, signal):
    data = sdk_requests[signal]
    doc = documents.parse(data, "otlp", "sdk", content_type="application/x-protobuf")
    assert (doc.layout, doc.signal) == ("protobuf", signal)
    events = [e for e in doc.events if not e.wrapper]
    assert len(events) == 2 and all(":" in e.event_id and len(e.event_id) == 32 + 1 + 16 for e in events)
    assert documents.encode(doc) == data  # nothing scrubbed: the same bytes come back
    assert documents.parse(data, "otlp", "sdk").layout == "protobuf"  # sniffed without a content type


@pytest.mark.parametrize("signal", ["logs", "traces"])
def test_sdk_protobuf_keeps_the_scrub_contract(runtime, sdk_requests, signal):  # noqa: F811
    # a canary key in a protobuf message is no field of it: canaries go where OTLP holds free text
    planter = Planter()
    value = _schema_valid_canaries(sdk_requests[signal], planter)
    assert len(planter.planted) >= 8  # resource, scope, two records or spans: keys, values, bodies
    data = encode_protobuf(value, signal)
    fp = Fingerprinter(KEY)
    scanned = runtime.process(data, "otlp", "pb", scrub=False)
    found = {f.fingerprint for f in scanned.findings}
    assert not scanned.bad and all(fp("EMAIL_ADDRESS", c) in found for c in planter.planted)
    out = runtime.process(data, "otlp", "pb", scrub=True)
    assert not out.quarantined, out.reason
    assert DOMAIN.encode() not in out.clean and b"patient@" not in out.clean
    again = documents.parse(out.clean, "otlp", "clean")
    assert again.layout == "protobuf" and len(again.events) == len(documents.parse(data, "otlp", "x").events)


def _schema_valid_canaries(data: bytes, planter: Planter) -> dict:
    """The SDK's request with a canary attribute (key and value) on every resource, scope, record and span."""
    _, value = decode_protobuf(data)
    stack = [value]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            if isinstance(node.get("attributes"), list) or {"name", "spanId", "timeUnixNano"} & node.keys():
                node.setdefault("attributes", []).append({"key": planter.canary(),
                                                          "value": {"stringValue": planter.canary()}})
            if isinstance(node.get("body"), dict):
                node["body"] = {"stringValue": f"note for {planter.canary()}"}
            stack.extend(v for k, v in node.items() if k != "attributes" and isinstance(v, (dict, list)))
        elif isinstance(node, list):
            stack.extend(node)
    return value


def test_pb_files_are_scanned(sdk_requests, tmp_path):
    path = tmp_path / "export.pb"
    path.write_bytes(sdk_requests["logs"])
    assert resolve_format(path) == "otlp"
    events = [e for e in read_events(path) if isinstance(e, Event) and not e.wrapper]
    assert [e.route for e in events] == ["/api/patients/17", None]
    junk = tmp_path / "junk.pb"
    junk.write_bytes(b"\x08\x96\x01 not a request")
    [bad] = list(read_events(junk, "otlp"))
    assert isinstance(bad, BadRecord) and "protobuf" in bad.reason and "request" not in bad.origin


def test_poison_otlp_shapes_are_bad_records_not_crashes():
    for doc in ({"resourceLogs": [{"resource": "x", "scopeLogs": []}]},
                {"resourceLogs": [{"scopeLogs": ["x"]}]},
                {"resourceLogs": [{"scopeLogs": [{"logRecords": [5]}]}]}):
        parsed = documents.parse(orjson.dumps(doc), "otlp", "poison")
        assert parsed.bad and not [e for e in parsed.events if not e.wrapper]
