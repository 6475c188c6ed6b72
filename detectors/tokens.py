"""Tokens and context keywords of a text without a spaCy pipeline.

Context enhancement (a weak phone number lifted by `call` before it) needs the
words around a result, not a model. Building them with the model's tokenizer
meant loading the model (about a second) before the first event, even for a
scan where no text ever needs NER. This tokenizer follows spaCy's English rules
closely where context words come from: whitespace-separated words with leading
brackets/quotes and trailing punctuation split off. Keywords are Presidio's
(`NlpArtifacts.set_keywords`): lower-cased lemmas that are not stop words or
punctuation, split at colons. Linear in the text.
"""

from __future__ import annotations

import re
import unicodedata

from presidio_analyzer.nlp_engine import NlpArtifacts
from spacy.lang.en.stop_words import STOP_WORDS

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


def artifacts(tokens: list, starts: list[int], lemmas: list[str], entities: list | None = None) -> NlpArtifacts:
    """`NlpArtifacts` Presidio's enhancer reads, with keywords computed here (no spaCy engine needed)."""
    ents = entities or []
    art = NlpArtifacts(entities=ents, tokens=tokens, tokens_indices=starts, lemmas=lemmas, nlp_engine=None,
                       language="en", scores=[0.85] * len(ents))
    art.keywords = keywords(lemmas)
    return art


def text_artifacts(text: str) -> NlpArtifacts:
    """Tokens, lemmas (lower-cased tokens, as the tokenizer alone gives) and keywords of `text`."""
    tokens, starts = tokenize(text)
    return artifacts(tokens, starts, [t.lower() for t in tokens])
