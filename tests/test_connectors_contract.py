"""One contract for every connector (Benthos-style): real vendor payloads parse, ids are unique and
stable, field paths resolve back to raw values, and planted values in our samples are found."""

from __future__ import annotations

from pathlib import Path

import pytest

from connectors.registry import CONNECTORS, read_events, resolve_format
from pipeline.analyst.evaluate import evaluate
from core.model import BadRecord, Event
from core.paths import format_key, iter_leaves, resolve
from pipeline.runtime.scan import scan_paths

VENDORS = ["vercel", "sentry", "segment", "posthog", "mixpanel", "ga4"]
NOT_PAYLOADS = {"schema"}  # sentry/schema holds the JSON Schema of the protocol, not an event


def vendor_files(shared: Path, vendor: str) -> list[Path]:
    return sorted(p for p in (shared / vendor).rglob("*")
                  if p.is_file() and not (set(p.relative_to(shared / vendor).parts[:-1]) & NOT_PAYLOADS))


def read_all(path: Path, fmt: str) -> list:
    return list(read_events(path, fmt))


@pytest.mark.parametrize("vendor", VENDORS)
def test_vendor_payloads_parse_with_zero_errors(shared_formats, vendor):
    files = vendor_files(shared_formats, vendor)
    assert files, vendor
    for f in files:
        assert resolve_format(f, "auto") == vendor, f
        out = read_all(f, vendor)
        bad = [o for o in out if isinstance(o, BadRecord)]
        events = [o for o in out if isinstance(o, Event)]
        assert not bad, (f, [b.reason for b in bad])
        assert events, f
        ids = [(e.source, e.event_id) for e in events]
        assert len(set(ids)) == len(ids), f"duplicate ids in {f}"
        assert ids == [(e.source, e.event_id) for e in read_all(f, vendor) if isinstance(e, Event)]
        for e in events:
            for leaf in iter_leaves(e.payload, exclude=e.exclude):
                if leaf.is_key:  # a key leaf names its own place: the last segment of its path
                    assert leaf.path.endswith(format_key(leaf.text)), leaf.path
                else:
                    assert resolve(e.payload, leaf.path) == leaf.text


def test_every_connector_is_registered_and_named():
    for name, conn in CONNECTORS.items():
        assert conn.name == name and isinstance(conn.documents, bool)


@pytest.fixture(scope="module")
def mixed(engine, tmp_path_factory):
    from samples.mixed import write_mixed

    src = tmp_path_factory.mktemp("mixed")
    write_mixed(src, 400, seed=23)
    out = tmp_path_factory.mktemp("mixed-out")
    summary = scan_paths([src], out, engine=engine)
    return src, out, summary


SOURCES = ["vercel", "sentry", "segment", "posthog", "mixpanel", "ga4", "vercel-analytics"]


def test_mixed_corpus_scans_in_one_command(mixed):
    src, out, summary = mixed
    assert summary.errors == 0
    assert summary.skipped > 0  # envelope attachments are counted, not scanned
    assert set(summary.formats) == {"vercel", "sentry", "segment", "posthog", "mixpanel", "ga4"}


@pytest.mark.parametrize("source", SOURCES)
def test_planted_values_found_per_source(mixed, source):
    src, out, _ = mixed
    rep = evaluate(src / "labels.jsonl", out, source)
    assert rep.overall.labels > 0
    assert rep.overall.recall >= 0.95, rep.overall
    assert rep.overall.precision >= 0.95, rep.overall
    assert rep.false_per_1000_benign <= 2.0


def test_findings_resolve_to_the_raw_field(mixed):
    import duckdb

    src, out, _ = mixed
    payloads = {}
    for f in sorted(p for p in src.rglob("*") if p.is_file() and p.name != "labels.jsonl"):
        for e in read_events(f):
            if isinstance(e, Event):
                payloads[(e.source, e.event_id)] = e.payload
    con = duckdb.connect(str(out / "findings.duckdb"), read_only=True)
    rows = con.execute('SELECT source, event_id, field_path, start, "end" FROM findings').fetchall()
    assert rows
    for source, event_id, path, start, end in rows:
        value = resolve(payloads[(source, event_id)], path)
        assert isinstance(value, (str, int, float)) and 0 <= start < end <= len(str(value))
