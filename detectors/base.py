"""Shared base for phiscan's own Presidio pattern recognizers."""

from __future__ import annotations

import regex
from presidio_analyzer import AnalysisExplanation, EntityRecognizer, Pattern, PatternRecognizer, RecognizerResult

REGEX_TIMEOUT_SECONDS = 5  # ReDoS guard per pattern and text, as Presidio has
# ... on texts this long or longer. Arming the timeout costs `regex` about 4 us a call, more than most
# patterns take on a log line; on shorter texts the worst input found for any pattern takes about 1 ms
# (tests/test_worst_case.py holds the budget), so the guard would never fire there.
REGEX_TIMEOUT_MIN_CHARS = 1024

# what stands between a label and its value: `MRN: 0012`, `"dob":"1984-03-12"`, `ssn=078-05-1120`, `NPI #1234`
LABEL_SEP = r"""[\s:#=\"'\-]"""
VALUE_GROUP = "value"


def labelled(label: str, value: str, *, least: int = 0, most: int = 4, sep: str = LABEL_SEP) -> str:
    """A pattern for `value` after `label` (case-insensitive) and up to `most` separator characters.

    The match runs forward from the label and the value is a named group, whose span is reported
    (`LeanAnalyzeMixin`): `MRN: 00123456` reports `00123456`. The look-behind form of the same
    pattern, `(?<=label sep)value`, is tried at every position of a text and cost 20-90 us per log
    line; this one only where the label starts, about 2 us. The separator is lazy, so the value
    starts where the look-behind's would: at the first position after the label where it matches.
    """
    return rf"(?i:\b(?:{label}){sep}{{{least},{most}}}?)(?P<{VALUE_GROUP}>{value})"


def remove_duplicates(results: list[RecognizerResult]) -> list[RecognizerResult]:
    """`EntityRecognizer.remove_duplicates`, the same results in the same order, at a third of its cost.

    Presidio's version hashes each result through an f-string and sorts with lambdas; it runs on
    every text with two results or more. Equal results (type, span, score) keep the first given, as
    its `set` does; a result contained in one of its type with an equal or higher score is dropped.
    """
    if len(results) < 2:
        return results
    unique: dict[tuple, RecognizerResult] = {}
    for r in results:
        unique.setdefault((r.entity_type, r.start, r.end, r.score), r)
    kept: list[RecognizerResult] = []
    active: list[RecognizerResult] = []
    entity = None
    for (etype, start, _end, score), r in sorted(unique.items(), key=_dedupe_order):
        if score == 0:
            continue
        if etype != entity:
            entity, active = etype, []
        active = [a for a in active if a.end >= start]
        if any(r.end <= a.end and start >= a.start and score <= a.score for a in active):
            continue
        kept.append(r)
        active.append(r)
    kept.sort(key=lambda r: (-r.score, r.start, r.start - r.end))
    return kept


def _dedupe_order(item: tuple) -> tuple:
    (etype, start, end, score), _ = item
    return str(etype), start, start - end, -score


class LeanAnalyzeMixin:
    """Presidio's pattern semantics with less per-call overhead; mixed into Presidio's own recognizers.

    `PATTERN_GATES` maps a pattern's name to a cheap test of the text (a substring it needs): where the
    test fails the pattern is not run. A gate may pass where the pattern finds nothing, never the reverse.
    A pattern with a `value` group (`labelled`) reports that group's span, not the whole match's.
    """

    PATTERN_GATES: dict = {}

    def validate_match(self, pattern_name: str, value: str) -> bool | None:
        """Like Presidio's `validate_result`, told which pattern matched (labels vouch for more)."""
        return self.validate_result(value)

    def _finditer(self, rx, text: str, timeout: float | None):
        """A pattern's matches in `text`; a recognizer that knows where its matches can be narrows this."""
        return rx.finditer(text, timeout=timeout)

    def _compiled_patterns(self):
        compiled = getattr(self, "_compiled", None)
        if compiled is None:
            flags = self.global_regex_flags
            compiled = []
            for p in self.patterns:
                rx = regex.compile(p.regex, flags=flags)
                compiled.append((p, rx, VALUE_GROUP in rx.groupindex))
            self._compiled = compiled
        return compiled

    def analyze(self, text, entities, nlp_artifacts=None, regex_flags=None):
        results: list[RecognizerResult] = []
        entity = self.supported_entities[0]
        meta = {RecognizerResult.RECOGNIZER_NAME_KEY: self.name, RecognizerResult.RECOGNIZER_IDENTIFIER_KEY: self.id}
        gates = self.PATTERN_GATES
        timeout = REGEX_TIMEOUT_SECONDS if len(text) >= REGEX_TIMEOUT_MIN_CHARS else None
        for pattern, rx, grouped in self._compiled_patterns():
            gate = gates.get(pattern.name) if gates else None
            if gate is not None and not gate(text):
                continue  # the pattern cannot match: a literal it needs is absent
            try:
                for m in self._finditer(rx, text, timeout):
                    start, end = m.span(VALUE_GROUP) if grouped else m.span()
                    if start == end:
                        continue
                    value = text[start:end]
                    score = pattern.score
                    valid = self.validate_match(pattern.name, value)
                    if valid is not None:
                        score = EntityRecognizer.MAX_SCORE if valid else EntityRecognizer.MIN_SCORE
                    if self.invalidate_result(value):
                        score = EntityRecognizer.MIN_SCORE
                    if score <= EntityRecognizer.MIN_SCORE:
                        continue
                    explanation = AnalysisExplanation(recognizer=self.name, original_score=pattern.score,
                                                      pattern_name=pattern.name, pattern=pattern.regex,
                                                      validation_result=valid)
                    results.append(RecognizerResult(entity, start, end, score, explanation, dict(meta)))
            except TimeoutError:
                continue  # a pathological text: this pattern gives no answer rather than hang
        return remove_duplicates(results)


class CasedPatternRecognizer(LeanAnalyzeMixin, PatternRecognizer):
    """A PatternRecognizer matched case-sensitively; patterns opt in to `(?i:...)` where labels are.

    Presidio's default flags ignore case, which turns `[A-Z][a-z]+` (a capitalised
    street name) into any word. Telemetry is full of lower-case machine words, so
    our patterns say where case does not matter instead.

    `analyze` (from LeanAnalyzeMixin) keeps Presidio's semantics (pattern score,
    `validate_result` True -> 1.0, False -> dropped, `invalidate_result`,
    duplicates removed) with less per-call overhead: this runs on every candidate line.
    """

    ENTITY: str = ""
    PATTERNS: list[Pattern] = []
    CONTEXT: list[str] = []

    def __init__(self, **kw):
        kw.setdefault("supported_entity", self.ENTITY)
        kw.setdefault("patterns", self.PATTERNS)
        kw.setdefault("context", self.CONTEXT)
        kw.setdefault("name", type(self).__name__)
        kw.setdefault("global_regex_flags", regex.MULTILINE | regex.DOTALL)
        super().__init__(**kw)
