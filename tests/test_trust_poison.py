"""Poison records: right shape, wrong types. Each becomes a bad record with a reason, never a crash.

The cases the issue reproduced (a year-1 timestamp, OTLP `resource: "x"`, GA4
`event_params: 5`, `"type": [...]` under auto-detection) are checked through every
driver: `scan` on files, the runtime's document path (shared by `scrub`, `consume` and
`serve`), and a hypothesis fuzz that mutates real payloads of every format.
"""

from __future__ import annotations

import copy
import json
import random

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipeline.cli import main
from pipeline.config import Config
from pipeline.runtime.build import build

SECRET = "536-90-4399"
POISON = {
    "segment-year-1.json": ("segment", {"type": "track", "event": "x", "messageId": "m1",
                                        "timestamp": "0001-01-01T00:00:00+05:00", "properties": {"ssn": SECRET}}),
    "vercel-year-1.ndjson": ("vercel", {"id": "v1", "deploymentId": "dpl_1", "source": "lambda", "message": "m",
                                        "timestamp": -62135596800000}),
    "otlp-resource-str.json": ("vercel", {"resourceSpans": [{"resource": "x", "scopeSpans": [
        {"spans": [{"traceId": "t", "spanId": "s", "attributes": []}]}]}]}),
    "otlp-scope-str.json": ("vercel", {"resourceSpans": [{"resource": {}, "scopeSpans": ["x"]}]}),
    "ga4-params-int.ndjson": ("ga4", {"event_name": "page_view", "event_timestamp": "1700000000000000",
                                      "event_params": 5}),
    "type-list.json": ("auto", {"type": ["track"], "event": "x", "messageId": "m2", "properties": {}}),
    "sentry-tx-list.json": ("sentry", {"event_id": "e" * 32, "message": "m", "transaction": ["x"],
                                       "request": {"url": 5}}),
}


def _write(tmp_path, name, value):
    path = tmp_path / name
    path.write_text(json.dumps(value) + ("\n" if name.endswith(".ndjson") else ""))
    return path


@pytest.mark.parametrize("name", sorted(POISON))
def test_scan_survives_poison_records(tmp_path, name, monkeypatch):
    monkeypatch.setenv("PHISCAN_FINGERPRINT_KEY", "poison-test-key-not-a-secret")
    fmt, value = POISON[name]
    path = _write(tmp_path, name, value)
    res = CliRunner().invoke(main, ["scan", str(path), "--out", str(tmp_path / "out"), "--format", fmt,
                                    "--workers", "1"])
    assert res.exit_code == 0, res.output
    assert res.exception is None or isinstance(res.exception, SystemExit)
    assert SECRET not in res.output


@pytest.fixture(scope="module")
def runtime():
    from pipeline.engine.fingerprint import Fingerprinter
    from pipeline.engine.scanner import ScanEngine

    return build(Config(), engine=ScanEngine(Config(), Fingerprinter(b"poison-test-key-not-a-secret")))


@pytest.mark.parametrize("name", sorted(POISON))
def test_document_path_quarantines_or_scrubs_poison(runtime, name):
    fmt, value = POISON[name]
    out = runtime.process(json.dumps(value).encode(), fmt, "poison", scrub=True)
    if out.quarantined:
        assert out.reason and SECRET not in out.reason and out.clean is None
    else:
        assert SECRET.encode() not in out.clean


def _real_samples(shared_formats):
    from connectors.registry import resolve_format

    samples = []
    for f in sorted(shared_formats.rglob("*.json")):
        if "schema" in f.parts:
            continue
        samples.append((resolve_format(f, "auto"), json.loads(f.read_text())))
    return samples


_MUTANTS = st.sampled_from([None, 5, -1, 1e308, True, "x", [], {}, ["x", 5], {"a": None},
                            "0001-01-01T00:00:00+05:00", -62135596800000, 10 ** 30])


def _mutate(value, rnd: random.Random, mutant, rate: float = 0.2):
    """A copy of `value` with some leaves and containers replaced by a poison value of another type."""
    if isinstance(value, dict):
        return {k: (copy.deepcopy(mutant) if rnd.random() < rate else _mutate(v, rnd, mutant, rate))
                for k, v in value.items()}
    if isinstance(value, list):
        return [copy.deepcopy(mutant) if rnd.random() < rate else _mutate(v, rnd, mutant, rate) for v in value]
    return value


def test_mutated_real_payloads_never_crash_the_runtime(runtime, shared_formats):
    samples = _real_samples(shared_formats)

    @settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(index=st.integers(0, len(samples) - 1), seed=st.integers(0, 2 ** 16), mutant=_MUTANTS)
    def check(index, seed, mutant):
        fmt, value = samples[index]
        body = json.dumps(_mutate(value, random.Random(seed), mutant)).encode()
        for f in (fmt, "auto"):
            out = runtime.process(body, f, "fuzz", scrub=True)  # must not raise
            assert out.quarantined == (out.clean is None and out.reason is not None)
            if out.quarantined:
                assert out.reason

    check()
