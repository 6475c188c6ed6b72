"""Presidio's context enhancement, in time linear in the text whatever the number of results.

Presidio's `LemmaContextAwareEnhancer` finds each result's token by walking the
text's tokens from the start, and tests lemmas against the keyword *list*: with k
results in a text of n tokens that is O(k * n) (`"A01 " * 10_000` took minutes).
This module gives the same answer from an index built once per text:
- token ends are non-decreasing, so the token a result starts in is a bisection;
- keyword positions are sorted, so the n words before (and m after) a token are
  a slice found by bisection, not a walk over the tokens in between.

Semantics are Presidio's (same similarity factor, minimum score, prefix and
suffix counts, matching mode, recognizer-level hooks and result order); only
the search is different. The settings are `LemmaContextAwareEnhancer`'s defaults
(`ContextSettings`; any object with its attributes will do, Presidio's enhancer
too): importing Presidio's enhancer module imports spaCy, which a scan that needs
no NER never does. `tests/test_worst_case.py` holds both to the same answers.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from dataclasses import dataclass

from presidio_analyzer import EntityRecognizer, RecognizerResult

MAX_SCORE = 1.0  # Presidio's ContextAwareEnhancer.MAX_SCORE


@dataclass(frozen=True)
class ContextSettings:
    """`LemmaContextAwareEnhancer()`'s settings, as AnalyzerEngine uses it by default."""

    context_similarity_factor: float = 0.35
    min_score_with_context_similarity: float = 0.4
    context_prefix_count: int = 5
    context_suffix_count: int = 0
    context_matching_mode: str = "substring"


def supportive_word(context: list[str] | None, recognizer_context: list[str] | None, mode: str = "substring") -> str:
    """Presidio's `_find_supportive_word_in_context`: the first recognizer context word found in `context`
    (as a substring of a word, or, in `whole_word` mode, equal to one, ignoring case); "" if none."""
    if context is None or recognizer_context is None:
        return ""
    lowered = [w.lower() for w in context]
    for word in recognizer_context:
        low = word.lower()
        if any(low in w for w in lowered) if mode == "substring" else low in lowered:
            return word
    return ""


class ContextIndex:
    """Where each token ends and which tokens are keywords, for one text's `NlpArtifacts`."""

    __slots__ = ("ends", "keyword_positions", "lemmas")

    def __init__(self, artifacts):
        tokens = artifacts.tokens
        self.ends = [idx + len(tok) for idx, tok in zip(artifacts.tokens_indices, tokens)] if tokens else []
        self.lemmas = [lemma.lower() for lemma in artifacts.lemmas]
        keywords = set(artifacts.keywords)
        self.keyword_positions = [i for i, lemma in enumerate(self.lemmas) if lemma in keywords]

    def token_at(self, start: int) -> int:
        """The index of the token holding character `start` (the first token ending after it); -1 if none."""
        if not self.ends:
            return -1
        token = bisect_right(self.ends, start)
        return token if token < len(self.ends) else -1

    def surrounding_words(self, token: int, before: int, after: int) -> list[str]:
        """The keyword lemmas Presidio collects around `token` (the n before, itself, the m after)."""
        if not self.ends:
            return [""]  # Presidio: no tokens, a valid empty context
        if token < 0:
            return []  # past the last token: Presidio would raise; no context instead
        positions = self.keyword_positions
        back = bisect_right(positions, token)
        fwd = bisect_left(positions, token)
        picked = positions[max(0, back - (before + 1)):back] + positions[fwd:fwd + after + 1]
        return list({self.lemmas[i] for i in picked})


def enhance_using_context(enhancer: ContextSettings, text: str, results: list[RecognizerResult],
                          artifacts, recognizers: list[EntityRecognizer],
                          context: list[str] | None) -> list[RecognizerResult]:
    """`AnalyzerEngine._enhance_using_context` with the lemma enhancer's settings, in O((n + k) log n).

    The results are updated in place (the caller owns them; Presidio deep-copies).
    """
    by_recognizer: dict[str, list[RecognizerResult]] = {}
    for r in results:
        by_recognizer.setdefault(r.recognition_metadata[RecognizerResult.RECOGNIZER_IDENTIFIER_KEY], []).append(r)
    ordered: list[RecognizerResult] = []
    for rec in recognizers:
        mine = by_recognizer.get(rec.id, [])
        if type(rec).enhance_using_context is not EntityRecognizer.enhance_using_context:
            others = [r for other_id, rs in by_recognizer.items() if other_id != rec.id for r in rs]
            mine = rec.enhance_using_context(text=text, raw_recognizer_results=mine,
                                             other_raw_recognizer_results=others, nlp_artifacts=artifacts,
                                             context=context)
        ordered.extend(mine)
    if artifacts is None:
        return ordered
    context_words = [w.lower() for w in context or ()]
    by_id = {rec.id: rec for rec in recognizers}
    index: ContextIndex | None = None
    # Results in the same token see the same words: the substring test over them (O(length of the
    # words)) runs once per recognizer and token, not per result (`A01,A01,...` is one long token).
    supportive_of: dict[tuple[str, int], str] = {}
    for r in ordered:
        meta = r.recognition_metadata or {}
        rec = by_id.get(meta.get(RecognizerResult.RECOGNIZER_IDENTIFIER_KEY))
        if rec is None or not rec.context or meta.get(RecognizerResult.IS_SCORE_ENHANCED_BY_CONTEXT_KEY):
            continue
        if index is None:
            index = ContextIndex(artifacts)
        token = index.token_at(r.start)
        supportive = supportive_of.get((rec.id, token))
        if supportive is None:
            words = index.surrounding_words(token, enhancer.context_prefix_count, enhancer.context_suffix_count)
            words.extend(context_words)
            supportive = supportive_word(words, rec.context, enhancer.context_matching_mode)
            supportive_of[(rec.id, token)] = supportive
        if supportive != "":
            r.score = min(max(r.score + enhancer.context_similarity_factor, enhancer.min_score_with_context_similarity),
                          MAX_SCORE)
            r.analysis_explanation.set_supportive_context_word(supportive)
            r.analysis_explanation.set_improved_score(r.score)
    return ordered
