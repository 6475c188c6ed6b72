"""A name gazetteer: `First Last` where both are known names, and `Dr. Last`.

spaCy's small model misses many names in log text (it calls `Lucas Reyes` an
ORG and `Beatriz Patel` half a PERSON) and cannot see names it was not trained
on. Census first-name and surname lists catch them with high precision because
both words must be known names and capitalised.
"""

from __future__ import annotations

import re
from functools import lru_cache

from presidio_analyzer import AnalysisExplanation, LocalRecognizer, RecognizerResult

from detectors.health import load_terms
from detectors.noise import NOT_PEOPLE

_WORD = r"[A-Z][a-z\u00C0-\u024F]+(?:[-'][A-Z]?[a-z\u00C0-\u024F]+)?"
# a lookahead, so that every capitalised word is tried as a first name: `Patient Jane Doe`
_FULL = re.compile(rf"(?=\b({_WORD})(?:\s+[A-Z]\.)?\s+({_WORD})(?:\s+({_WORD}))?\b)")
_TITLED = re.compile(rf"(?<![\w])(?:Dr|Mr|Mrs|Ms|Mx|Prof)\.?\s+({_WORD})\b")
# a greeting before a known first name: `Hi Victor, your visit is confirmed`
_GREETED = re.compile(rf"(?<![\w])(?:Hi|Hello|Hey|Dear|Thanks|Thank you),?\s+({_WORD})\b")
# a self-introduction names whoever follows, in the lists or not: `my name is Dan`, `I'm Oluwaseun Adeyemi`
_INTRODUCED = re.compile(rf"(?i:(?<![\w])(?:my\s+name\s+is|name\s*:|i\s+am|i'm|call\s+me|this\s+is))\s+"
                         rf"({_WORD}(?:\s+{_WORD})?)\b")
# surname particles of many languages: `Maria de la Cruz`, `Ludwig van Beethoven`, `Ahmed bin Salem`
_PARTICLES = r"(?:van\s+der|van\s+den|van\s+de|de\s+la|de\s+los|de\s+las|van|von|der|de|del|della|di|da|dos|das|du|" \
             r"le|la|bin|binti|bint|ibn|al|el|ben|ter|ten|zu|af|av)"
_WITH_PARTICLE = re.compile(rf"(?=(?<![\w])({_WORD})(?:\s+{_WORD})?\s+{_PARTICLES}\s+({_WORD})\b)")


@lru_cache(maxsize=None)
def name_sets() -> tuple[frozenset[str], frozenset[str]]:
    return frozenset(load_terms("first_names.txt")), frozenset(load_terms("last_names.txt"))


class NameGazetteerRecognizer(LocalRecognizer):
    def __init__(self, score: float = 0.8):
        self.score = score
        super().__init__(supported_entities=["PERSON"], name="NameGazetteerRecognizer",
                         context=["patient", "name", "dr", "mr", "mrs", "ms"])

    def load(self) -> None:
        name_sets()

    def _result(self, start: int, end: int, why: str) -> RecognizerResult:
        return RecognizerResult("PERSON", start, end, self.score,
                                AnalysisExplanation(recognizer=self.name, original_score=self.score,
                                                    textual_explanation=why),
                                recognition_metadata={RecognizerResult.RECOGNIZER_NAME_KEY: self.name,
                                                      RecognizerResult.RECOGNIZER_IDENTIFIER_KEY: self.id})

    def analyze(self, text, entities, nlp_artifacts=None):
        first, last = name_sets()
        out = []
        covered = -1
        for m in _FULL.finditer(text):
            if m.start(1) < covered:
                continue
            given, family, third = m.group(1), m.group(2), m.group(3)
            if given.lower() in NOT_PEOPLE or family.lower() in NOT_PEOPLE:
                continue
            if given in first and (family in last or family in first):
                end = m.end(3) if third and third in last and third.lower() not in NOT_PEOPLE else m.end(2)
                out.append(self._result(m.start(1), end, "first name and surname from the census lists"))
                covered = end
        for m in _TITLED.finditer(text):
            if m.group(1) in last and m.group(1).lower() not in NOT_PEOPLE:
                out.append(self._result(m.start(1), m.end(1), "surname after a title"))
        for m in _GREETED.finditer(text):
            if m.group(1) in first and m.group(1).lower() not in NOT_PEOPLE:
                out.append(self._result(m.start(1), m.end(1), "first name after a greeting"))
        for m in _WITH_PARTICLE.finditer(text):
            if m.group(1) in first and m.group(2).lower() not in NOT_PEOPLE:
                out.append(self._result(m.start(1), m.end(2), "first name, surname particle and surname"))
        for m in _INTRODUCED.finditer(text):
            words = m.group(1).split()
            if words[0].lower() not in NOT_PEOPLE:
                keep = words if len(words) == 1 or words[1].lower() not in NOT_PEOPLE else words[:1]
                end = m.start(1) + len(" ".join(keep)) if len(keep) == 1 else m.end(1)
                out.append(self._result(m.start(1), end, "name after a self-introduction"))
        return out
