"""Our own table-driven cases of the idioms other scrubbers and corpora cover, through the engine.

`tests/data/scrubber_style_cases.jsonl` holds the shapes Sentry Relay's PII rules scrub (PEM keys of each
kind, URL auth in every scheme, password-named keys in JSON, query strings, cookies and headers, SSNs,
cards with separators, IPv4/IPv6, emails); `tests/data/sentence_cases.jsonl` presidio-research-style
template sentences (names of many origins and with particles, US and international addresses, national
phone formats). Both are written by the generators beside them, with values drawn at random. Each label
must be found with its canonical type and a span that covers it; negatives stay quiet for their type.
"""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from core.model import Event
from pipeline.analyst.evaluate import _type_matches

DATA = Path(__file__).parent / "data"
FILES = ("scrubber_style_cases.jsonl", "sentence_cases.jsonl")


def _cases(name: str) -> list[dict]:
    return [orjson.loads(line) for line in (DATA / name).read_bytes().splitlines() if line.strip()]


@pytest.fixture(scope="module")
def results(engine):
    out = {}
    for name in FILES:
        cases = _cases(name)
        found: list[list[tuple[str, int, int]]] = [[] for _ in cases]
        scan = engine.scan([Event(source="case", event_id=str(i), origin="case", payload=[c["text"]])
                            for i, c in enumerate(cases)])
        for f in scan.findings:
            found[int(f.event_id)].append((f.entity_type, f.start, f.end))
        out[name] = list(zip(cases, found))
    return out


def _covers(found: tuple[str, int, int], label: dict, slack: int = 2) -> bool:
    typ, start, end = found
    return (typ == label["type"] and start <= label["start"] + slack and end >= label["end"] - slack
            and start < label["end"] and end > label["start"])


@pytest.mark.parametrize("name", FILES)
def test_every_label_found_with_its_type_and_span(results, name):
    misses = [(i, case["note"], lab["type"], sorted({t for t, _, _ in found}))
              for i, (case, found) in enumerate(results[name])
              for lab in case["expect"] if not any(_covers(f, lab) for f in found)]
    assert not misses, misses


@pytest.mark.parametrize("name", FILES)
def test_negatives_stay_quiet(results, name):
    alarms = [(i, case["note"], sorted({t for t, _, _ in found if _type_matches(case.get("neg_type", "ANY"), t)}))
              for i, (case, found) in enumerate(results[name]) if not case["expect"]]
    alarms = [a for a in alarms if a[2]]
    assert not alarms, alarms


@pytest.mark.parametrize("module, name", [("tests.data.gen_scrubber_cases", FILES[0]),
                                          ("tests.data.gen_sentence_cases", FILES[1])])
def test_files_are_what_the_generators_write(tmp_path, module, name):
    """The committed files are the generators' output (their values are drawn from a fixed seed)."""
    import subprocess
    import sys

    root = Path(__file__).resolve().parents[1]
    subprocess.run([sys.executable, "-m", module, str(tmp_path / name)], cwd=root, check=True, capture_output=True)
    assert (tmp_path / name).read_bytes() == (DATA / name).read_bytes()
