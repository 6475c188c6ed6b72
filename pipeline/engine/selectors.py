"""Field selectors compiled once: where rules apply, separate from what they detect (Sentry Relay's selectors).

A selector names fields by an fnmatch glob over field paths (list indexes written
`[*]`) and gives them a profile: `skip`, `machine` (pattern detectors only) or
`full`. The first match wins; lookups are memoized per generic path, since paths
repeat across events.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Sequence

from pipeline.config import Selector

_INDEX = re.compile(r"\[\d+\]")


class SelectorIndex:
    """Field path -> profile, by the first matching selector glob; memoized per generic path."""

    def __init__(self, selectors: Sequence[Selector]):
        self._selectors = list(selectors)
        # fnmatch reads `[...]` as a character class; in field paths brackets are literal, so
        # `proxy.userAgent[*]` must match `proxy.userAgent[*]` (indexes are generalised to [*]).
        self._globs = [sel.path.replace("[", "[[]") for sel in self._selectors]
        self._memo: dict[tuple[str, str], str] = {}
        self._skips: dict[str, frozenset[str]] = {}

    def exact_skips(self, source: str) -> frozenset[str]:
        """Paths skipped by a selector without wildcards: the walker need not enter them."""
        hit = self._skips.get(source)
        if hit is None:
            hit = frozenset(sel.path for sel in self._selectors
                            if sel.profile == "skip" and (sel.source is None or sel.source == source)
                            and not any(ch in sel.path for ch in "*?") and "[*]" not in sel.path
                            and self.profile(source, sel.path) == "skip")
            self._skips[source] = hit
        return hit

    def profile(self, source: str, path: str) -> str:
        generic = _INDEX.sub("[*]", path) if "[" in path else path
        memo_key = (source, generic)
        hit = self._memo.get(memo_key)
        if hit is None:
            hit = "full"
            for sel, glob in zip(self._selectors, self._globs):
                if (sel.source is None or sel.source == source) and fnmatch.fnmatchcase(generic, glob):
                    hit = sel.profile
                    break
            if len(self._memo) < 100_000:
                self._memo[memo_key] = hit
        return hit
