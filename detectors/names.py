"""A name gazetteer: `First Last` where both are known names, and `Dr. Last`.

spaCy's small model misses many names in log text (it calls `Lucas Reyes` an
ORG and `Beatriz Patel` half a PERSON) and cannot see names it was not trained
on. Census first-name and surname lists catch them with high precision because
both words must be known names and capitalised.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

import regex

from presidio_analyzer import AnalysisExplanation, LocalRecognizer, RecognizerResult

from detectors.health import load_terms
from detectors.noise import NAME_PARTICLES, NOT_PEOPLE, STREET_WORDS, is_common_word

# a capitalised name word; Gaelic, Italian and African-American prefixes carry a second capital (`McKay`,
# `MacDonald`, `O'Brien`, `DeShawn`, `LaToya`)
_WORD = r"(?:Mc|Mac|O'|O\u2019|D'|D\u2019|De|Da|Di|Du|La|Le)?[A-Z][a-z\u00C0-\u024F]+(?:[-'][A-Z]?[a-z\u00C0-\u024F]+)?"
# a lookahead, so that every capitalised word is tried as a first name: `Patient Jane Doe`
_FULL = re.compile(rf"(?=\b({_WORD})(?:\s+[A-Z]\.)?\s+({_WORD})(?:\s+({_WORD}))?\b)")
_TITLED = re.compile(rf"(?<![\w])(?:Dr|Mr|Mrs|Ms|Mx|Prof)\.?\s+({_WORD})\b")
# surname particles of many languages: `Maria de la Cruz`, `Ludwig van Beethoven`, `Ahmed bin Salem`
_PARTICLES = r"(?:van\s+der|van\s+den|van\s+de|de\s+la|de\s+los|de\s+las|van|von|der|de|del|della|di|da|dos|das|du|" \
             r"le|la|bin|binti|bint|ibn|al|el|ben|ter|ten|zu|af|av)"
# a greeting before a known first name, and the surname after it: `Hi Victor, ...`, `Dear Tomasz Wiśniewski,`,
# `Welcome back, Maria` (an app's page title or toast)
# (there a name of any script follows: `Hi Étienne,`, `Dear 陽一`, `my name is Şendoğan Yılmaz`)
_ANY_WORD = r"(?:\p{Lu}[\p{Ll}\p{M}]+(?:[-'\u2019]\p{Lu}?[\p{Ll}\p{M}]+)?|[\p{Lo}\p{M}]+)"
# the greetings themselves, shared with the recognizer's trigger (detectors.registry)
GREETING = r"(?:Hi|Hello|Hey|Dear|Thanks|Thank you|[Ww]elcome(?:\s+[Bb]ack)?|Good\s+(?:morning|afternoon|evening))"
_GREETED = regex.compile(rf"(?<![\w]){GREETING},?\s+({_ANY_WORD})"
                         rf"(?:\s+((?:{_PARTICLES}\s+)?{_ANY_WORD}))?\b")
# a name addressed: followed by a comma, `!` or the end (`Hi Adeolu, your visit...`), not `Hi Team members`
_ADDRESSED = re.compile(r"\s*(?:[,!:]|$)")
# a self-introduction names whoever follows, in the lists or not: `my name is Dan`, `I'm Oluwaseun Adeyemi`,
# `this is Pieter van der Berg`
_INTRODUCED = regex.compile(rf"(?i:(?<![\w])(?:my\s+name\s+is|name\s*:|i\s+am|i'm|call\s+me|this\s+is))\s+"
                            rf"({_ANY_WORD}(?:\s+(?-i:{_PARTICLES}\s+)?{_ANY_WORD})?)\b")
# a name in capitals: two or three words of capitals (an initial between), each of two letters or more
_CAPS_WORD = r"[A-Z](?:[A-Z]|'[A-Z]|-[A-Z]){1,30}"  # bounded: a run of capitals costs each start 30 steps
_CAPS = re.compile(rf"(?<![\w'-])({_CAPS_WORD}(?:\s+[A-Z]\.?)?\s+{_CAPS_WORD}(?:\s+{_CAPS_WORD})?)(?![\w'-])")
_CAPS_PAIR = re.compile(r"[A-Z]{2}[A-Z'-]{0,30}\s+(?:[A-Z]\.?\s+)?[A-Z]{2}")
# a surname written before the given name, as lists and charts sort people: `Gonzalez, Maria`,
# `van der Berg, Anneke`; not one of a list of things (`Austin, Texas, Dallas`)
_INVERTED = re.compile(rf"(?<![\w,'-])((?:{_PARTICLES}\s+)?{_WORD}),\s+({_WORD})\b(?!\s*,\s*[A-Z])(?!\s+{_WORD})")
# a surname after a patient word, as clinical notes write it (`pt Ramirez reports`, `Patient Okafor`)
_PATIENT_SURNAME = re.compile(rf"(?<![\w])(?:[Pp]t|[Pp]atient)\.?:?\s+({_WORD})\b(?!\s+{_WORD})")
_WITH_PARTICLE = re.compile(rf"(?=(?<![\w])({_WORD})(?:\s+{_WORD})?\s+(?P<particle>{_PARTICLES})\s+({_WORD})\b)")
# Literals each of the rarer patterns needs, tested before it runs: a pattern that starts with a
# look-ahead is tried at every position of the text (25-60 us a log line each, and almost never a match).
_TITLE_WORDS = ("Dr", "Mr", "Ms", "Mx", "Prof")
_GREETING_WORDS = ("Hi", "Hello", "Hey", "Dear", "Thank", "elcome", "Good")
_INTRODUCTION_WORDS = ("name", "am", "i'm", "call", "this")  # in the lower-cased text
_GATES = {
    "titled": lambda text: any(w in text for w in _TITLE_WORDS),
    "greeted": lambda text: any(w in text for w in _GREETING_WORDS),
    # a particle is a word of its own (whitespace on both sides): one of the text's split words
    "with_particle": lambda text: not NAME_PARTICLES.isdisjoint(text.split()),
    "caps": lambda text: _CAPS_PAIR.search(text) is not None,
    "inverted": lambda text: ", " in text,
    "patient": lambda text: "t " in text and ("pt" in text or "Pt" in text or "atient" in text),
    # caseless matching folds some non-ASCII letters into ASCII ones (`ſ` into `s`): those texts always run it
    "introduced": lambda text: not text.isascii() or any(w in text.lower() for w in _INTRODUCTION_WORDS),
}
# particles of family names that place names do not use
_PERSONAL_PARTICLES = frozenset({"van", "von", "bin", "binti", "bint", "ibn", "ben", "ter", "ten", "zu"})
# capitalised particles, read as the middle word of `Given Particle Surname`
_CAPITAL_PARTICLES = frozenset({"Al", "El", "Bin", "Ibn", "Abu", "Ben", "Van", "Von", "De", "Da", "Di", "Le", "La",
                                "Del", "Dos", "Du"})


# Two capitalised words no list or dictionary knows, where prose says a person stands: after a verb or a
# relation that takes one (`I spoke with Thandiwe Nkosi`, `written by Eero Virtanen`, `her son Keanu Kahale`) or
# before a verb a person does (`Giorgos Papadopoulos is allergic`, `... called`). Bounded: two words, one word
# of context on either side.
_PERSON_BEFORE = frozenset(
    "with by met meet call called ask asked contact contacted tell told thank thanks named patient client customer "
    "caller member mother father son daughter wife husband sister brother friend nurse doctor dr mr mrs ms dear hi "
    "owner holder guardian caregiver recipient sender author assignee spouse parent child dependent subscriber "
    "beneficiary "
    "hello for to from and cc attn sincerely regards cheers best yours warmly".split())
_PERSON_AFTER = (r"(?:is|was|has|had|called|calls|asked|asks|said|says|wrote|writes|lives|lived|will|would|can|"
                 r"could|needs|wants|requested|booked|paid|signed|reported|visited|arrived|left|missed|cancelled|"
                 r"canceled|confirmed|\(patient\)|'s)")
# Checked on the pairs the gazetteer's own pass finds: one anchored look at the word before a pair and the
# characters after it (a scan for the context words everywhere cost as much as all the other name rules).
# the word before (`with Jane`, `Regards, Jane`, a log's `patient=Jane`): one anchored, bounded match
_BEFORE_PAIR = re.compile(r"([A-Za-z]{1,12})\.?(?:[,:]?\s{1,4}|[:=]\s{0,4})$")
_AFTER_PAIR = re.compile(rf"\s{{0,4}}(?i:{_PERSON_AFTER})\b|'s\b")


# what glues a word to the rest of a machine token: `Trojan:Win32/...`, `Setup.exe`, `Main/2`, `Host@x`
_GLUED_TOKEN = re.compile(r"[:/\\@._=#][A-Za-z0-9]")


@lru_cache(maxsize=None)
def name_sets() -> tuple[frozenset[str], frozenset[str]]:
    return frozenset(load_terms("first_names.txt")), frozenset(load_terms("last_names.txt"))


def _folded(word: str) -> str:
    """`Sofía` -> `Sofia`, `Zieliński` -> `Zielinski`: the lists spell names without diacritics."""
    if word.isascii():
        return word
    return unicodedata.normalize("NFKD", word).encode("ascii", "ignore").decode("ascii")


def _list_form(word: str) -> str:
    """A name as the lists spell it: one capital, no apostrophe (`O'Brien` -> `Obrien`, `DeShawn` -> `Deshawn`,
    `KHAN` -> `Khan`)."""
    bare = word.replace("'", "").replace("\u2019", "")
    return _folded(bare[:1].upper() + bare[1:].lower())


def known_first(word: str, first: frozenset[str]) -> bool:
    """A known given name, with or without its diacritics, or a hyphenated one that starts with one
    (`Jean-Luc`, `Anne-Marie`)."""
    if "-" in word:
        word = word.split("-", 1)[0]
    return word in first or _folded(word) in first or _list_form(word) in first


def known_last(word: str, last: frozenset[str]) -> bool:
    return word in last or _folded(word) in last or _list_form(word) in last


def listed_caps_name(words: list[str]) -> bool:
    """Words in capitals that are a given name and a surname of the lists (`ABDULLAH KHAN`, `JAMES O'BRIEN`),
    not two dictionary words (`WILL CALL`, `MAY BILL`): claims and EDI records write names so."""
    if not 2 <= len(words) <= 3 or any(w.lower() in NOT_PEOPLE or w.lower() in STREET_WORDS
                                       or w.lower() in _FUNCTION_WORDS for w in words):
        return False
    first, last = name_sets()
    if len(words) == 3 and not (known_first(words[1], first) or known_last(words[1], last)):
        return False
    return listed_pair(words[0], words[-1])


def listed_pair(given: str, family: str) -> bool:
    """A given name and a surname of the lists, in any case, and not two dictionary words (`mark.down`,
    `WILL CALL`, `rose hill`): where no capital says a name stands, the lists must say it."""
    if given.lower() in NOT_PEOPLE or family.lower() in NOT_PEOPLE:
        return False
    first, last = name_sets()
    return (known_first(given, first) and known_last(family, last)
            and not (is_common_word(given) and is_common_word(family)))


# short English words the dictionary leaves out that the surname lists hold (`To`, `Do`, `An`): in capitals
# they are words of a sentence (`GRANT ACCESS TO ROLE`, `BILL TO`)
_FUNCTION_WORDS = frozenset("a an and as at be by do for from go he if in is it me my no of on or so the to up "
                            "us we via per not all any new".split())


def _unlisted_surname(word: str) -> bool:
    """A capitalised word no list knows that reads as a surname after a known given name: no English
    word (`Tomasz Wiśniewski`, `Ifeoma Chukwu`; not `Max Retries`, `Grace Period`)."""
    return len(word) >= 3 and word.lower() not in NOT_PEOPLE and not is_common_word(word)


def _person_word_before(text: str, start: int) -> bool:
    """The word just before `start` takes a person (`with`, `by`, `Dr.`, `Regards,`)."""
    lo = max(0, start - 20)
    m = _BEFORE_PAIR.search(text[lo:start])  # leftmost: a whole word of the window, never the tail of one
    if not m or (m.start(1) == 0 and lo > 0 and text[lo - 1].isalpha()):
        return False  # no word, or one that runs on before the window
    return m.group(1).lower() in _PERSON_BEFORE


def _unlisted_given(word: str) -> bool:
    """A given name no list holds: a word of a script without case (`京助`, `داهي`), or a capitalised
    word no dictionary knows (`Adeolu`, `Thabisile`)."""
    return not word[:1].isupper() or _unknown_name_word(word)


def _unknown_name_word(word: str) -> bool:
    """A capitalised word that can be a name no list holds: no English or software word, no known non-name."""
    low = word.lower()
    return (3 <= len(word) <= 30 and low not in NOT_PEOPLE and low not in STREET_WORDS and not is_common_word(word)
            and any(ch in "aeiouy\u00e0\u00e1\u00e2\u00e4\u00e8\u00e9\u00ea\u00ed\u00f3\u00f6\u00fa\u00fc" for ch in low))


def _surname_ok(word: str, first: frozenset[str], last: frozenset[str]) -> bool:
    """A word after a greeted first name that reads as a surname: a known one, or no common word."""
    bare = word.split()[-1]
    if bare.lower() in NOT_PEOPLE:
        return False
    return known_last(bare, last) or bare in first or not is_common_word(bare)


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
            if not known_first(given, first):
                # no given name the lists know: two words no list or dictionary knows, where prose names a person
                gap = text[m.end(1):m.start(2)]
                if (gap.isspace() and "\n" not in gap and (m.start(1) == 0 or text[m.start(1) - 1] != "-")
                        and (_AFTER_PAIR.match(text, m.end(2)) or _person_word_before(text, m.start(1)))
                        and _unknown_name_word(given) and _unknown_name_word(family)):
                    out.append(self._result(m.start(1), m.end(2), "two unlisted name words where prose names a person"))
                    covered = m.end(2)
                continue
            if family in _CAPITAL_PARTICLES and third:  # `Hamza El Amrani`, `Abdullah Al Rashid`
                if known_last(third, last) or _unlisted_surname(third):
                    out.append(self._result(m.start(1), m.end(3), "first name, surname particle and surname"))
                    covered = m.end(3)
                continue
            if known_last(family, last) or family in first or _unlisted_surname(family):
                end = (m.end(3) if third and (known_last(third, last) or _unlisted_surname(third))
                       and third.lower() not in NOT_PEOPLE else m.end(2))
                out.append(self._result(m.start(1), end, "first name and surname"))
                covered = end
        titled = _TITLED.finditer(text) if _GATES["titled"](text) else ()
        greeted = _GREETED.finditer(text) if _GATES["greeted"](text) else ()
        with_particle = _WITH_PARTICLE.finditer(text) if _GATES["with_particle"](text) else ()
        introduced = _INTRODUCED.finditer(text) if _GATES["introduced"](text) else ()
        for m in titled:
            if m.group(1) in last and m.group(1).lower() not in NOT_PEOPLE:
                out.append(self._result(m.start(1), m.end(1), "surname after a title"))
        for m in greeted:
            given = m.group(1)
            if given.lower() in NOT_PEOPLE:
                continue
            # a given name the lists know, or one they do not hold when the greeting addresses it
            if known_first(given, first) or (_unlisted_given(given) and _ADDRESSED.match(text, m.end(2) if m.group(2) else m.end(1))):
                end = m.end(2) if m.group(2) and _surname_ok(m.group(2), first, last) else m.end(1)
                out.append(self._result(m.start(1), end, "first name after a greeting"))
        for m in with_particle:
            given, family = m.group(1), m.group(3)
            if family.lower() in NOT_PEOPLE or given.lower() in NOT_PEOPLE:
                continue
            # a known given name before any particle; before a particle that names no place (`bin`, `van`,
            # `von`: not `de`, `la`, `del`, as in `Universidad de Chile`), any given name no dictionary knows
            if known_first(given, first) or (m.group("particle").split()[0] in _PERSONAL_PARTICLES
                                             and not is_common_word(given)
                                             and (known_last(family, last) or _unlisted_surname(family))):
                out.append(self._result(m.start(1), m.end(3), "given name, surname particle and surname"))
        if _GATES["caps"](text):
            for m in _CAPS.finditer(text):
                if listed_caps_name([w for w in m.group(1).split() if len(w.rstrip(".")) > 1]):
                    out.append(self._result(m.start(1), m.end(1), "given name and surname in capitals"))
        if _GATES["inverted"](text):
            for m in _INVERTED.finditer(text):
                family, given = m.group(1), m.group(2)
                bare = family.split()[-1]
                if (given.lower() in NOT_PEOPLE or bare.lower() in NOT_PEOPLE or known_first(bare, first)
                        or not known_last(bare, last)):
                    continue  # a given name first is `Maria, Anna` (a list), not a surname
                if known_first(given, first) or (_person_word_before(text, m.start(1)) and _unknown_name_word(given)):
                    out.append(self._result(m.start(1), m.end(2), "surname, given name"))
        if _GATES["patient"](text):
            for m in _PATIENT_SURNAME.finditer(text):
                word = m.group(1)
                if known_last(word, last) and word.lower() not in NOT_PEOPLE and not is_common_word(word):
                    out.append(self._result(m.start(1), m.end(1), "surname after a patient word"))
        for m in introduced:
            words = m.group(1).split()
            if _GLUED_TOKEN.match(text, m.end(1)):
                continue  # `Name: Trojan:Win32/Wacatac`, `name: Foo.dll`: the head of a machine token, no name
            if words[0].lower() not in NOT_PEOPLE:
                keep = words if len(words) == 1 or words[-1].lower() not in NOT_PEOPLE else words[:1]
                end = m.start(1) + len(" ".join(keep)) if len(keep) == 1 else m.end(1)
                out.append(self._result(m.start(1), end, "name after a self-introduction"))
        return out
