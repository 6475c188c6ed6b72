"""Fuzzing the parsers: junk never raises, never leaks content into a reason, and limits hold."""

from __future__ import annotations

import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from connectors.registry import read_events
from connectors.sentry import parse_envelope
from core.model import BadRecord, Event, Skipped
from core.paths import LimitExceeded, iter_leaves

FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
SECRET = "512-48-9921"

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=8), children, max_size=5),
    max_leaves=30)


@FUZZ
@given(data=st.binary(max_size=400), suffix=st.sampled_from([".ndjson", ".json", ".envelope", ".csv", ".log", ".gz"]))
def test_junk_files_never_raise(tmp_path, data, suffix):
    p = tmp_path / f"junk{suffix}"
    p.write_bytes(data + SECRET.encode())
    try:
        out = list(read_events(p, "auto"))
    except ValueError:  # FormatError: "cannot detect the format" is the clear answer for junk
        return
    for item in out:
        assert isinstance(item, (Event, BadRecord, Skipped))
        if isinstance(item, BadRecord):
            assert SECRET not in item.reason


@FUZZ
@given(data=st.binary(max_size=300))
def test_envelope_parser_never_raises(data):
    for item in parse_envelope(b'{"event_id":"a"}\n' + data, "e.envelope", "sentry", 1 << 16):
        assert item.origin.startswith("e.envelope")


@FUZZ
@given(value=json_values)
def test_walker_visits_every_string_within_limits(value):
    try:
        leaves = list(iter_leaves(value, max_depth=8, max_fields=40))
    except LimitExceeded:
        return
    assert all(isinstance(leaf.text, str) and leaf.text for leaf in leaves)


def test_deep_and_wide_records_become_errors_not_crashes(engine, tmp_path):
    from pipeline.runtime.scan import scan_paths

    deep: dict = {}
    node = deep
    for _ in range(200):
        node["a"] = {}
        node = node["a"]
    node["ssn"] = SECRET
    wide = {f"k{i}": "v" for i in range(20_000)}
    base = {"deploymentId": "d", "source": "lambda", "projectId": "p"}
    p = tmp_path / "limits.ndjson"
    p.write_text("\n".join(json.dumps({**base, "id": i, "proxy": v}) for i, v in (("deep", deep), ("wide", wide)))
                 + "\n" + json.dumps({**base, "id": "ok", "message": "fine"}) + "\n")
    summary = scan_paths([p], tmp_path / "out", engine=engine)
    assert summary.events == 3 and summary.errors == 2
    assert set(summary.error_reasons) == {"limit exceeded: nesting deeper than 64",
                                          "limit exceeded: more than 10000 fields"}
