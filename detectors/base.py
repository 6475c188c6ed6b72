"""Shared base for phiscan's own Presidio pattern recognizers."""

from __future__ import annotations

import regex
from presidio_analyzer import Pattern, PatternRecognizer


class CasedPatternRecognizer(PatternRecognizer):
    """A PatternRecognizer matched case-sensitively; patterns opt in to `(?i:...)` where labels are.

    Presidio's default flags ignore case, which turns `[A-Z][a-z]+` (a capitalised
    street name) into any word. Telemetry is full of lower-case machine words, so
    our patterns say where case does not matter instead.
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
