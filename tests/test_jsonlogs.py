"""Generic JSON logs and log-platform exports, and Mixpanel `/engage` updates: detected, read, scrubbed.

Lines in the shapes pino, winston, bunyan and structlog write; CloudWatch, Datadog
and Axiom exports. `auto` must pick them (vendor shapes first, jsonlogs last), and
each must keep the scrub contract of `tests/test_trust_scrub.py`.
"""

from __future__ import annotations

import json

import pytest

from connectors import jsonlogs
from connectors.registry import FormatError, read_events, resolve_format
from core.model import BadRecord, Event
from pipeline.config import Config
from tests.test_trust_scrub import DOMAIN, Planter, check_contract, planted_file, runtime  # noqa: F401

PINO = {"level": 30, "time": 1764547200123, "pid": 7, "hostname": "web-1", "reqId": "req-1",
        "req": {"method": "GET", "url": "/api/patients/17?tab=labs"}, "msg": "request completed"}
WINSTON = {"level": "info", "message": "intake saved", "timestamp": "2026-12-01T08:00:00.000Z", "service": "intake"}
BUNYAN = {"name": "telecare", "hostname": "web-2", "pid": 9, "level": 30, "msg": "login ok",
          "time": "2026-12-01T08:00:01.000Z", "v": 0}
STRUCTLOG = {"event": "chart opened", "timestamp": "2026-12-01T08:00:02Z", "level": "info", "logger": "charts"}
CLOUDWATCH = {"messageType": "DATA_MESSAGE", "owner": "123456789012", "logGroup": "/aws/lambda/intake",
              "logStream": "2026/12/01/[$LATEST]abc", "subscriptionFilters": ["all"],
              "logEvents": [{"id": "3719", "timestamp": 1764547200000,
                             "message": json.dumps({"level": "info", "msg": "saved", "path": "/api/intake"})},
                            {"id": "3720", "timestamp": 1764547201000, "message": "START RequestId: r-1"}]}
DATADOG_API = {"data": [{"id": "AQAAAY1", "type": "log", "attributes": {
    "message": "payment ok", "timestamp": "2026-12-01T08:00:03Z", "service": "billing", "status": "info",
    "attributes": {"http": {"url": "/api/pay"}}, "tags": ["env:prod"]}}], "meta": {"page": {}}}
DATADOG_ARCHIVE = {"_id": "AQAAAY2", "date": "2026-12-01T08:00:04Z", "host": "web-3", "service": "web",
                   "status": "info", "message": "page view", "attributes": {"path": "/book"}, "tags": []}
AXIOM = {"matches": [{"_time": "2026-12-01T08:00:05Z", "_sysTime": "2026-12-01T08:00:06Z",
                      "data": {"message": "hi", "route": "/api/labs"}}]}


def _events(path, fmt="auto"):
    out = list(read_events(path, fmt))
    assert not [o for o in out if isinstance(o, BadRecord)], [o.reason for o in out if isinstance(o, BadRecord)]
    return [o for o in out if isinstance(o, Event) and not o.wrapper]


def test_app_log_lines_are_jsonlogs_with_time_route_and_line_ids(tmp_path):
    path = tmp_path / "app.ndjson"
    path.write_text("".join(json.dumps(v) + "\n" for v in (PINO, WINSTON, BUNYAN, STRUCTLOG)))
    assert resolve_format(path) == "jsonlogs"
    events = _events(path)
    assert [e.event_id for e in events] == [f"{path}:{i}" for i in range(1, 5)]  # ids in app logs are no line ids
    assert [e.timestamp.isoformat()[:19] for e in events] == ["2025-12-01T00:00:00", "2026-12-01T08:00:00",
                                                               "2026-12-01T08:00:01", "2026-12-01T08:00:02"]
    assert events[0].route == "/api/patients/17" and events[1].project == "intake"
    assert events[0].payload["req"]["url"].endswith("tab=labs")  # the payload is the line itself, untouched


@pytest.mark.parametrize("doc,count,first_id,route", [
    (CLOUDWATCH, 2, "3719", None), (DATADOG_API, 1, "AQAAAY1", "/api/pay"),
    (DATADOG_ARCHIVE, 1, None, "/book"), (AXIOM, 1, None, "/api/labs")],
    ids=["cloudwatch", "datadog-api", "datadog-archive", "axiom"])
def test_export_shapes_are_one_event_per_log_line(tmp_path, doc, count, first_id, route):
    path = tmp_path / "export.json"
    path.write_text(json.dumps(doc, indent=2))
    assert resolve_format(path) == "jsonlogs"
    events = _events(path)
    assert len(events) == count and events[0].timestamp is not None and events[0].route == route
    if first_id:
        assert events[0].event_id == first_id
    if doc is CLOUDWATCH:
        assert events[0].project == "/aws/lambda/intake" and events[0].payload is not None


def test_vendor_shapes_win_and_unknown_objects_still_need_a_format(tmp_path, shared_formats):
    segment = shared_formats / "segment" / "spec_track_example1.json"
    assert resolve_format(segment) == "segment"  # a Segment message has a `timestamp` too: vendors first
    drain = shared_formats / "vercel" / "vercel_docs_logs_drain.ndjson"
    assert resolve_format(drain) == "vercel"
    other = tmp_path / "rows.ndjson"
    other.write_text(json.dumps({"foo": 1, "bar": "x"}) + "\n")
    with pytest.raises(FormatError, match="cannot detect"):
        resolve_format(other)
    assert resolve_format(other, "jsonlogs") == "jsonlogs"  # asked for by name: any object is a log line


def test_message_and_time_keys_are_configurable(tmp_path):
    from pipeline.runtime.build import build

    path = tmp_path / "custom.ndjson"
    path.write_text(json.dumps({"when": "2026-12-01T09:00:00Z", "text": "x"}) + "\n")
    with pytest.raises(FormatError):
        resolve_format(path)
    cfg = Config.model_validate({"formats": {"jsonlogs": {"message_keys": ["text"], "time_keys": ["when"]}},
                                 "fingerprint": {"key": "jsonlogs-test-key-not-secret"}})
    try:
        build(cfg)  # the composition root applies `formats.jsonlogs`
        assert resolve_format(path) == "jsonlogs"
        assert _events(path)[0].timestamp.isoformat() == "2026-12-01T09:00:00+00:00"
    finally:
        jsonlogs.configure()


@pytest.mark.parametrize("name", ["app", "cloudwatch", "datadog", "axiom"])
def test_jsonlogs_keep_the_scrub_contract(runtime, tmp_path, name):  # noqa: F811
    doc = {"app": PINO, "cloudwatch": CLOUDWATCH, "datadog": DATADOG_API, "axiom": AXIOM}[name]
    planter = Planter()
    path = planted_file(json.dumps(doc).encode(), f"{name}.json", tmp_path, planter)
    check_contract(runtime, path, "jsonlogs", planter, tmp_path)


def test_cloudwatch_json_text_messages_are_scrubbed_in_the_text(runtime, tmp_path):  # noqa: F811
    from pipeline.runtime.scrub import scrub_file

    doc = json.loads(json.dumps(CLOUDWATCH))
    doc["logEvents"][0]["message"] = json.dumps({"msg": "signup", "email": f"jane.doe@{DOMAIN}"})
    src, out = tmp_path / "cw.json", tmp_path / "clean.json"
    src.write_text(json.dumps(doc))
    summary = scrub_file(src, out, "auto", runtime)
    assert summary.clean == 1 and summary.findings >= 1 and DOMAIN not in out.read_text()
    assert isinstance(json.loads(out.read_text())["logEvents"][0]["message"], str)  # still JSON text


ENGAGE = [{"$token": "tok123", "$distinct_id": f"jane.doe@{DOMAIN}", "$time": 1764547200000,
           "$set": {"$email": f"jane.doe@{DOMAIN}", "$name": "Jane Doe", "plan": "premium"}},
          {"$token": "tok123", "$distinct_id": "u-2", "$set_once": {"first_visit": "2026-12-01"}},
          {"$token": "tok123", "$distinct_id": "u-3", "$union": {"conditions": ["asthma"]}}]


def test_mixpanel_engage_updates_are_mixpanel_events(tmp_path):
    path = tmp_path / "engage.json"
    path.write_text(json.dumps(ENGAGE))
    assert resolve_format(path) == "mixpanel"
    events = _events(path)
    assert len(events) == 3 and {e.source for e in events} == {"mixpanel"}
    assert all(DOMAIN not in e.event_id for e in events)  # the distinct id can be an email: never the id
    assert events[0].timestamp.isoformat() == "2025-12-01T00:00:00+00:00"
    assert "$set" in events[0].payload  # the update itself, no copy


def test_mixpanel_engage_keeps_the_scrub_contract(runtime, tmp_path):  # noqa: F811
    planter = Planter()
    path = planted_file(json.dumps(ENGAGE[0]).encode(), "engage.json", tmp_path, planter)
    check_contract(runtime, path, "mixpanel", planter, tmp_path)
