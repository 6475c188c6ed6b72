import gzip
import json

import pytest
import zstandard

from connectors.registry import FormatError, read_events
from core.model import BadRecord, Event

REC1 = {"id": "r1", "deploymentId": "dpl_1", "source": "lambda", "host": "h", "timestamp": 1763800000000,
        "projectId": "prj_1", "projectName": "telecare", "level": "info", "message": "hello",
        "proxy": {"timestamp": 1, "method": "GET", "host": "h", "path": "/api/x?email=a%40b.io", "userAgent": ["UA"],
                  "region": "iad1"}}
REC2 = {"id": "r2", "deploymentId": "dpl_1", "source": "build", "host": "h", "timestamp": 1763800000000,
        "projectId": "prj_1", "level": "info", "message": "Build ok", "path": "/dyn/[id]?q=1"}


def events_of(path, fmt="auto"):
    return list(read_events(path, fmt))


def test_ndjson(tmp_path):
    p = tmp_path / "d.ndjson"
    p.write_text(json.dumps(REC1) + "\n\n" + json.dumps(REC2) + "\n")
    evs = events_of(p)
    assert [e.event_id for e in evs] == ["r1", "r2"]
    assert evs[0].origin == f"{p}:1" and evs[1].origin == f"{p}:3"
    assert evs[0].project == "telecare" and evs[1].project == "prj_1"
    assert evs[0].route == "/api/x" and evs[1].route == "/dyn/[id]"
    assert evs[0].timestamp.year == 2025


def test_json_array_and_single_object(tmp_path):
    arr = tmp_path / "a.json"
    arr.write_text(json.dumps([REC1, REC2], indent=2))
    assert [e.origin for e in events_of(arr)] == [f"{arr}#0", f"{arr}#1"]
    one = tmp_path / "o.json"
    one.write_text(json.dumps(REC1, indent=2))
    (ev,) = events_of(one)
    assert ev.event_id == "r1" and ev.origin == str(one)


def test_gzip_and_zstd(tmp_path):
    body = (json.dumps(REC1) + "\n" + json.dumps(REC2) + "\n").encode()
    gz = tmp_path / "d.ndjson.gz"
    gz.write_bytes(gzip.compress(body))
    zs = tmp_path / "d.ndjson.zst"
    zs.write_bytes(zstandard.ZstdCompressor().compress(body))
    assert len(events_of(gz)) == 2 and len(events_of(zs)) == 2


def test_bad_lines_are_recorded_without_content(tmp_path):
    p = tmp_path / "d.ndjson"
    secret_line = '{"id": "x", "message": "ssn 512-48-9921"'  # truncated JSON
    p.write_bytes((json.dumps(REC1) + "\n" + secret_line + "\n").encode() + b"\xff\xfe\n" + b"[1,2]\n")
    out = events_of(p)
    bad = [o for o in out if isinstance(o, BadRecord)]
    assert [type(o) for o in out[:1]] == [Event]
    assert len(bad) == 3
    for b in bad:
        assert "512-48-9921" not in b.reason and b.size > 0
    assert bad[0].origin == f"{p}:2"


def test_oversize_record(tmp_path):
    p = tmp_path / "d.ndjson"
    big = dict(REC1, message="x" * 5000)
    p.write_text(json.dumps(REC2) + "\n" + json.dumps(big) + "\n" + json.dumps(REC2) + "\n")
    out = list(read_events(p, "vercel", max_record_bytes=2000))
    assert [type(o).__name__ for o in out] == ["Event", "BadRecord", "Event"]
    assert "over 2000 bytes" in out[1].reason


@pytest.mark.parametrize("content,reason", [(b"", "empty file"), (b"\x00\x01\x02binary", "binary"),
                                             (b"  \n\n", "empty file")])
def test_junk_files_give_clear_reasons(tmp_path, content, reason):
    p = tmp_path / "junk.ndjson"
    p.write_bytes(content)
    out = events_of(p, "vercel")
    assert out and all(isinstance(o, BadRecord) for o in out)
    assert reason in out[0].reason


def test_truncated_gzip_keeps_what_was_readable(tmp_path):
    body = (json.dumps(REC1) + "\n") * 400
    p = tmp_path / "cut.ndjson.gz"
    data = gzip.compress(body.encode())
    p.write_bytes(data[: len(data) // 2])
    out = events_of(p, "vercel")
    assert isinstance(out[0], Event)
    assert isinstance(out[-1], BadRecord) and "truncated" in out[-1].reason


def test_wrong_format_is_one_clear_error(tmp_path):
    p = tmp_path / "seg.ndjson"
    p.write_text(json.dumps({"type": "track", "messageId": "m1", "event": "Clicked"}) * 1 + "\n")
    with pytest.raises(FormatError, match="not in the vercel format"):
        events_of(p, "vercel")
    unknown = tmp_path / "other.ndjson"
    unknown.write_text(json.dumps({"foo": 1, "bar": "x"}) + "\n")
    with pytest.raises(FormatError, match="cannot detect"):
        events_of(unknown)


def test_vendor_log_drain_samples_parse(shared_formats):
    files = sorted((shared_formats / "vercel").glob("*"))
    log_files = [f for f in files if "analytics" not in f.name and "speed" not in f.name and "traces" not in f.name]
    assert log_files
    for f in log_files:
        out = events_of(f, "vercel")
        assert out and all(isinstance(o, Event) for o in out), f
        ids = [e.event_id for e in out]
        assert len(set(ids)) == len(ids)
