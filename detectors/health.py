"""Health information: conditions and medications from dictionaries, ICD-10-CM codes by pattern.

Dictionaries are matched with one Aho-Corasick automaton per dictionary (one
pass over the text whatever the number of terms), case-insensitively and on
whole words only, so `HIV` fires but `archive` does not.
"""

from __future__ import annotations

from functools import lru_cache
from importlib import resources

import ahocorasick
from presidio_analyzer import AnalysisExplanation, LocalRecognizer, Pattern, RecognizerResult

from detectors.base import CasedPatternRecognizer, labelled


def load_terms(name: str) -> list[str]:
    """Non-comment lines of a data file shipped in `detectors/data`."""
    text = resources.files("detectors").joinpath("data", name).read_text(encoding="utf-8")
    return [ln.strip() for ln in text.splitlines() if ln.strip() and not ln.startswith("#")]


@lru_cache(maxsize=None)
def _automaton(name: str) -> ahocorasick.Automaton:
    auto = ahocorasick.Automaton()
    for term in load_terms(name):
        auto.add_word(term.lower(), len(term))
    auto.make_automaton()
    return auto


def _is_word_char(ch: str) -> bool:
    return ch.isalnum() or ch == "_"


class DictionaryRecognizer(LocalRecognizer):
    """Whole-word, case-insensitive dictionary matches reported as one entity type."""

    def __init__(self, entity: str, data_file: str, score: float = 0.85, context: list[str] | None = None,
                 name: str | None = None):
        self.data_file = data_file
        self.score = score
        super().__init__(supported_entities=[entity], name=name or f"{entity.title().replace('_', '')}Dictionary",
                         context=context or [])

    def load(self) -> None:
        self.automaton = _automaton(self.data_file)

    def analyze(self, text, entities, nlp_artifacts=None):
        auto = getattr(self, "automaton", None) or _automaton(self.data_file)
        lowered = text.lower()
        if len(lowered) != len(text):  # case folding changed length: offsets would not line up
            return []
        found: dict[int, int] = {}
        for end_idx, length in auto.iter(lowered):
            start = end_idx - length + 1
            end = end_idx + 1
            if (start > 0 and _is_word_char(text[start - 1])) or (end < len(text) and _is_word_char(text[end])):
                continue
            if found.get(start, 0) < end:  # keep the longest term starting here
                found[start] = end
        results = []
        last_end = -1
        entity = self.supported_entities[0]
        for start in sorted(found):
            end = found[start]
            if start < last_end:
                continue
            last_end = end
            results.append(RecognizerResult(
                entity, start, end, self.score,
                AnalysisExplanation(recognizer=self.name, original_score=self.score,
                                    textual_explanation=f"{entity} dictionary term"),
                recognition_metadata={RecognizerResult.RECOGNIZER_NAME_KEY: self.name,
                                      RecognizerResult.RECOGNIZER_IDENTIFIER_KEY: self.id}))
        return results


def condition_recognizer() -> DictionaryRecognizer:
    return DictionaryRecognizer("MEDICAL_CONDITION", "conditions.txt",
                                context=["diagnosis", "condition", "dx", "history", "treated"])


def medication_recognizer() -> DictionaryRecognizer:
    return DictionaryRecognizer("MEDICATION", "medications.txt",
                                context=["prescription", "rx", "medication", "refill", "dose"])


class Icd10Recognizer(CasedPatternRecognizer):
    """ICD-10-CM codes, validated against the CDC code list; undotted codes need context."""

    ENTITY = "ICD10_CODE"
    PATTERNS = [
        Pattern("icd10 dotted", r"\b[A-TV-Z][0-9][0-9AB]\.[0-9A-TV-Z]{1,4}\b", 0.6),
        Pattern("icd10 labelled", labelled(r"icd(?:-?10)?(?:-?cm)?|dx|diagnosis(?:\s+code)?",
                                           r"[A-TV-Z][0-9][0-9AB](?:\.?[0-9A-TV-Z]{1,4})?\b", least=1), 0.85),
        Pattern("icd10 bare", r"\b[A-TV-Z][0-9][0-9AB][0-9A-TV-Z]{0,4}\b", 0.2),
    ]
    CONTEXT = ["icd", "icd10", "diagnosis", "dx", "code", "diagnosed"]

    def validate_result(self, pattern_text: str) -> bool | None:
        # None keeps the pattern's score (a valid code is not proof it is a diagnosis); False drops it.
        code = pattern_text.upper()
        if "." not in code and len(code) > 3:
            code = f"{code[:3]}.{code[3:]}"
        return None if code in icd10_codes() else False


class PackedCodes:
    """A set of short codes held as one bytes string per three-character category.

    The 98,000 ICD-10-CM codes as a frozenset of str took 10 MB of every worker's memory (a str
    object each); grouped by category (`E11` -> `|.9|.65|...|`) they take about 1 MB, and a
    lookup is a dict get and a search of one category's bytes (well under a microsecond).
    """

    def __init__(self, codes: list[str]):
        groups: dict[str, set[str]] = {}
        for code in codes:
            groups.setdefault(code[:3], set()).add(code[3:])
        self._groups = {head: ("|" + "|".join(sorted(tails)) + "|").encode("utf-8", "surrogatepass")
                        for head, tails in groups.items()}
        self._len = sum(len(t) for t in groups.values())

    def __len__(self) -> int:
        return self._len

    def __contains__(self, code: object) -> bool:
        if not isinstance(code, str):
            return False
        group = self._groups.get(code[:3])
        tail = code[3:]
        return group is not None and "|" not in tail and b"|" + tail.encode("utf-8", "surrogatepass") + b"|" in group


@lru_cache(maxsize=None)
def icd10_codes() -> PackedCodes:
    """Every ICD-10-CM category and code, dotted (`E11.9`)."""
    return PackedCodes(load_terms("icd10cm_codes.txt"))
