"""Start-up work happens where it is needed: the model loads the first time a text needs NER,
compiled triggers come from a cache, a scan that needs no NER never imports spaCy (nor Presidio's
NLP engines), and analyst commands never import spaCy."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest

from detectors.prefilter import TriggerSet, cache_dir, hyperscan
from detectors.tokens import keywords, tokenize
from tests.conftest import ROOT

TRIGGERS = {"email": re.compile(r"@"), "ssn": re.compile(r"\d{3}-\d{2}"), "word": re.compile(r"(?i)secret")}
TEXTS = ["mail me at a@b.c", "ssn 123-45-6789", "SECRET=1", "nothing here", ""]


@pytest.mark.parametrize("text, tokens", [
    ("call (555) 123-4567 now.", ["call", "(", "555", ")", "123-4567", "now", "."]),
    ('name: "Jane Doe", dob 01/02/1980', ["name", ":", '"', "Jane", "Doe", '"', ",", "dob", "01/02/1980"]),
    ("   ", []),
    ("...", [".", ".", "."]),
    ("ends with colon:", ["ends", "with", "colon", ":"]),
])
def test_tokenize_splits_brackets_and_trailing_punctuation_off(text, tokens):
    got, starts = tokenize(text)
    assert got == tokens
    assert all(text[s:s + len(t)] == t for t, s in zip(got, starts))  # offsets point at the tokens


def test_keywords_drop_stop_words_and_punctuation_and_split_colons():
    assert keywords(["the", "Patient", ",", "dob:1980", "is", "be", "Phone"]) == ["patient", "dob", "1980", "phone"]


def test_tokenize_is_linear_in_pathological_input():
    text = "(" * 50_000 + "x" + ")" * 50_000 + " " + "a " * 50_000
    tokens, _ = tokenize(text)
    assert len(tokens) == 100_001 + 50_000


@pytest.mark.skipif(hyperscan is None, reason="hyperscan is not installed on this platform")
def test_compiled_triggers_come_back_from_the_cache_with_the_same_answers(tmp_path, monkeypatch):
    monkeypatch.setenv("PHISCAN_CACHE_DIR", str(tmp_path))
    first = TriggerSet(TRIGGERS, cache=True)
    files = list(tmp_path.glob("triggers-*.hsdb"))
    assert len(files) == 1 and cache_dir() == tmp_path
    again = TriggerSet(TRIGGERS, cache=True)
    assert [again.hits(t) for t in TEXTS] == [first.hits(t) for t in TEXTS] == [
        {"email"}, {"ssn"}, {"word"}, set(), set()]
    files[0].write_bytes(b"not a database")  # a corrupt cache costs the compile, nothing else
    assert [TriggerSet(TRIGGERS, cache=True).hits(t) for t in TEXTS] == [first.hits(t) for t in TEXTS]


@pytest.mark.skipif(hyperscan is None, reason="hyperscan is not installed on this platform")
def test_uncacheable_triggers_and_an_unwritable_cache_write_nothing(tmp_path, monkeypatch):
    monkeypatch.setenv("PHISCAN_CACHE_DIR", str(tmp_path / "c"))
    TriggerSet(TRIGGERS)  # user patterns (a deny list) are never cached
    assert not (tmp_path / "c").exists()
    (tmp_path / "file").write_text("x")
    monkeypatch.setenv("PHISCAN_CACHE_DIR", str(tmp_path / "file" / "sub"))
    assert TriggerSet(TRIGGERS, cache=True).hits("a@b") == {"email"}


def test_every_vendor_pattern_compiles():
    from detectors.secrets_vendors import vendor_formats

    prefixed, keyed = vendor_formats()
    assert all(f.pattern.pattern for f in prefixed) and all(k.value.pattern for k in keyed)


def test_builtin_triggers_are_the_same_in_every_process():
    """Patterns built from sets once depended on the hash seed: cache misses, and alternation order."""
    code = "from detectors.registry import TRIGGERS; print(repr([rx.pattern for rx in TRIGGERS.values()]))"
    outs = {subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True,
                           env={"PYTHONHASHSEED": seed, "PATH": "/usr/bin:/bin"}).stdout for seed in ("1", "2")}
    assert len(outs) == 1


@pytest.mark.slow
def test_the_model_loads_only_when_a_text_needs_ner(config):
    from core.model import Event
    from pipeline.engine.fingerprint import Fingerprinter
    from pipeline.engine.scanner import ScanEngine

    engine = ScanEngine(config, Fingerprinter(b"startup-test-key-not-secret"))
    machine = Event("vercel", "e1", "o", {"status": 200, "path": "/api/health", "email": "jane@example.com",
                                          "message": "GET /api/health 200 in 3ms"})
    found = engine.scan([machine]).findings
    assert {f.entity_type for f in found} == {"EMAIL_ADDRESS"}
    assert not engine.analyzer.model_loaded
    prose = Event("vercel", "e2", "o", {"message": "Follow-up note: Dr. Okonkwo-Adeyemi saw Marisol Quintanilla today"})
    names = [f for f in engine.scan([prose]).findings if f.entity_type == "PERSON"]
    assert engine.analyzer.model_loaded and names


SCAN_IN_A_FRESH_PROCESS = """
import json, sys
from core.model import Event
from pipeline.config import Config
from pipeline.runtime.scan import build_engine
engine = build_engine(Config(), None)
machine = Event("vercel", "e1", "o", {"status": 200, "email": "jane@example.com", "ssn": "ssn 078-05-1121",
                                      "message": "GET /api/health 200 in 3ms, call (415) 555-0134 re card"})
found = sorted({f.entity_type for f in engine.scan([machine]).findings})
before = sorted(m for m in sys.modules if m.split(".")[0] in ("spacy", "thinc"))
prose = Event("vercel", "e2", "o", {"message": "Follow-up note: Dr. Okonkwo-Adeyemi saw Marisol Quintanilla today"})
names = [f.entity_type for f in engine.scan([prose]).findings if f.entity_type == "PERSON"]
print(json.dumps({"found": found, "before": before, "names": names, "spacy_after": "spacy" in sys.modules}))
"""


@pytest.mark.parametrize("eager", [False, True])
def test_a_scan_that_needs_no_ner_never_imports_spacy(eager):
    """Presidio's packages are imported light (detectors.lightimport): the same findings, spaCy only for NER."""
    import os

    env = {**os.environ, "PHISCAN_FINGERPRINT_KEY": "startup-test-key-not-secret"}
    env.pop("PHISCAN_EAGER_PRESIDIO", None)
    if eager:
        env["PHISCAN_EAGER_PRESIDIO"] = "1"  # the ordinary import of the whole package: the same answers
    res = subprocess.run([sys.executable, "-c", SCAN_IN_A_FRESH_PROCESS], cwd=ROOT, capture_output=True,
                         text=True, timeout=120, env=env)
    assert res.returncode == 0, res.stderr[-2000:]
    got = json.loads(res.stdout.strip().splitlines()[-1])
    assert got["found"] == ["EMAIL_ADDRESS", "PHONE_NUMBER", "US_SSN"]
    assert (got["before"] != []) is eager  # light: neither spaCy nor thinc before the first name
    assert got["names"] and got["spacy_after"]


def test_a_light_package_resolves_its_exports_submodules_and_everything_else():
    from detectors.lightimport import exports

    import presidio_analyzer
    import presidio_analyzer.predefined_recognizers as predefined

    names = exports(presidio_analyzer.__spec__.origin, "presidio_analyzer")
    assert names["PatternRecognizer"] == ("presidio_analyzer.pattern_recognizer", "PatternRecognizer")
    assert presidio_analyzer.PatternRecognizer.__module__ == "presidio_analyzer.pattern_recognizer"
    assert predefined.EmailRecognizer().name == "EmailRecognizer"
    assert presidio_analyzer.nlp_engine.__name__ == "presidio_analyzer.nlp_engine"  # a submodule by attribute
    assert presidio_analyzer.decision_process_logger.name == "decision_process"  # defined in __init__ only
    with pytest.raises(AttributeError):
        presidio_analyzer.no_such_name


ANALYST = """
import json, sys
from click.testing import CliRunner
from pipeline.cli import main
codes = {}
for args in (["report", "--out", OUT], ["query", "--out", OUT, "select count(*) from findings"],
             ["triage", "--out", OUT],
             ["suppress", "--help"], ["purge", "--help"]):
    codes[args[0]] = CliRunner().invoke(main, args).exit_code
print(json.dumps({"codes": codes, "spacy": "spacy" in sys.modules, "presidio": "presidio_analyzer" in sys.modules}))
"""


@pytest.mark.slow
def test_analyst_commands_never_import_spacy(scanned):
    out, _ = scanned
    code = ANALYST.replace("OUT", repr(str(out)))
    res = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    got = json.loads(res.stdout.strip().splitlines()[-1])
    assert got["codes"] == {"report": 0, "query": 0, "triage": 0, "suppress": 0, "purge": 0}, res.stderr[-2000:]
    assert got["spacy"] is False and got["presidio"] is False


FRAGMENTS = ["pass", "pw", "_pw", "pwd", "word", "secret", "token", "api", "_", "-", ".", "key", "KEY", "Auth", " ",
             "=", ":", '"', "x", "9", "aws", "access", "bearer", "jwt", "creds", "\n", "launchdarkly", "sdk", "!",
             "private", "é"]


@pytest.mark.skipif(hyperscan is None, reason="hyperscan is not installed on this platform")
def test_span_finder_gives_the_spans_of_re_finditer():
    """ContextScanner's trigger through Hyperscan windows: the same matches as re over the whole text."""
    from hypothesis import given, settings, strategies as st

    from detectors.prefilter import SpanFinder
    from detectors.secrets_context import ContextScanner

    rx = ContextScanner().trigger
    finder = SpanFinder(rx)
    assert finder._db is not None

    @settings(max_examples=1500, deadline=None, derandomize=True)
    @given(st.lists(st.sampled_from(FRAGMENTS), min_size=0, max_size=120))
    def same(parts):
        text = "".join(parts)
        assert [m.span() for m in finder.finditer(text)] == [m.span() for m in rx.finditer(text)]

    same()
