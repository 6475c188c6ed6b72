"""Tokens and context keywords of a text without a spaCy pipeline.

Context enhancement (a weak phone number lifted by `call` before it) needs the
words around a result, not a model. Building them with the model's tokenizer
meant loading the model (about a second) before the first event, even for a
scan where no text ever needs NER. This tokenizer follows spaCy's English rules
closely where context words come from: whitespace-separated words with leading
brackets/quotes and trailing punctuation split off. Keywords are Presidio's
(`NlpArtifacts.set_keywords`): lower-cased lemmas that are not stop words or
punctuation, split at colons. Linear in the text.

Neither Presidio's `NlpArtifacts` (its module imports spaCy) nor spaCy's stop-word
module (importing it imports all of spaCy: about 0.7 s and 80 MB) is imported here:
`TokenArtifacts` carries the same attributes, and the stop words are read from the
file spaCy ships them in.
"""

from __future__ import annotations

import importlib.util
import re
import unicodedata
from pathlib import Path

_WORD = re.compile(r"\S+")
_PREFIX = frozenset("([{\"'<\u201c\u2018\u00ab")
_SUFFIX = frozenset(".,;:!?)]}\"'>\u201d\u2019\u00bb\u2026")


def tokenize(text: str) -> tuple[list[str], list[int]]:
    """Tokens of `text` and the character offset of each."""
    tokens: list[str] = []
    starts: list[int] = []
    for m in _WORD.finditer(text):
        word, pos = m.group(), m.start()
        lead = 0
        while lead < len(word) - 1 and word[lead] in _PREFIX:
            tokens.append(word[lead])
            starts.append(pos + lead)
            lead += 1
        end = len(word)
        while end - 1 > lead and word[end - 1] in _SUFFIX:
            end -= 1
        tokens.append(word[lead:end])
        starts.append(pos + lead)
        for i in range(end, len(word)):
            tokens.append(word[i])
            starts.append(pos + i)
    return tokens, starts


def is_punct(word: str) -> bool:
    """spaCy's `is_punct`: every character is Unicode punctuation."""
    return all(unicodedata.category(ch).startswith("P") for ch in word)


def keywords(lemmas: list[str]) -> list[str]:
    """Presidio's context keywords of `lemmas`, with spaCy's English stop words."""
    out: list[str] = []
    for lemma in lemmas:
        low = lemma.lower()
        if low in STOP_WORDS or low in ("-pron-", "be") or is_punct(lemma):
            continue
        out.extend(low.split(":"))
    return out


def _english_stop_words() -> frozenset[str]:
    """spaCy's English stop words, read from `spacy/lang/en/stop_words.py` without importing spaCy."""
    spec = importlib.util.find_spec("spacy")  # a top-level package: found, not imported
    path = Path(spec.submodule_search_locations[0]) / "lang" / "en" / "stop_words.py" if spec else None
    if path is not None and path.is_file():
        file_spec = importlib.util.spec_from_file_location("phiscan_spacy_en_stop_words", path)
        module = importlib.util.module_from_spec(file_spec)
        file_spec.loader.exec_module(module)
        return frozenset(module.STOP_WORDS)
    from spacy.lang.en.stop_words import STOP_WORDS  # another layout: the ordinary import

    return frozenset(STOP_WORDS)


STOP_WORDS = _english_stop_words()


class TokenArtifacts:
    """What Presidio's recognizers and context enhancement read of its `NlpArtifacts`, without spaCy."""

    __slots__ = ("entities", "tokens", "tokens_indices", "lemmas", "keywords", "nlp_engine", "language", "scores")

    def __init__(self, entities: list, tokens: list, tokens_indices: list[int], lemmas: list[str],
                 keywords: list[str], scores: list[float]):
        self.entities, self.tokens, self.tokens_indices = entities, tokens, tokens_indices
        self.lemmas, self.keywords, self.scores = lemmas, keywords, scores
        self.nlp_engine, self.language = None, "en"


def artifacts(tokens: list, starts: list[int], lemmas: list[str], entities: list | None = None) -> TokenArtifacts:
    """The artifacts Presidio's enhancer and SpacyRecognizer read, with keywords computed here."""
    ents = entities or []
    return TokenArtifacts(ents, tokens, starts, lemmas, keywords(lemmas), [0.85] * len(ents))


def text_artifacts(text: str) -> TokenArtifacts:
    """Tokens, lemmas (lower-cased tokens, as the tokenizer alone gives) and keywords of `text`."""
    tokens, starts = tokenize(text)
    return artifacts(tokens, starts, [t.lower() for t in tokens])
