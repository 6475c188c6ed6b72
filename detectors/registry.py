"""The explicit registry of recognizers phiscan runs, and the trigger that gates each one.

Nothing registers itself on import: this module lists every recognizer, the
canonical entity it reports, and a cheap regex that must match before the
recognizer's own (slower) patterns and validation run. A trigger may fire
where the recognizer then finds nothing; it must never stay silent where the
recognizer would match.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable

from presidio_analyzer import EntityRecognizer

from detectors.contact import (
    CardNumberRecognizer,
    LeanCreditCardRecognizer,
    LeanIpRecognizer,
    LeanSsnRecognizer,
    LogPhoneRecognizer,
    NanpPhoneRecognizer,
    OfflineEmailRecognizer,
)
from detectors.entities import PRESIDIO_TO_CANONICAL
from detectors.healthcare import (
    DateOfBirthRecognizer,
    DeaNumberRecognizer,
    HealthPlanIdRecognizer,
    MedicalRecordNumberRecognizer,
    NpiRecognizer,
    STREET_KINDS,
    StreetAddressRecognizer,
)
from detectors.health import Icd10Recognizer, condition_recognizer, load_terms, medication_recognizer
from detectors.names import GREETING, NameGazetteerRecognizer
from detectors.secrets import (
    ApiKeyRecognizer,
    AuthTokenRecognizer,
    ContextSecretRecognizer,
    CredentialRecognizer,
    PrivateKeyRecognizer,
)
from detectors.secrets_context import context_trigger
from detectors.secrets_vendors import trigger_pattern as vendor_trigger

_DIGITS = r"\d[\d\s().+-]{5,}\d"


def dictionary_trigger(data_file: str) -> re.Pattern[str]:
    """Any term of a dictionary, anywhere and in any ASCII case, or any non-ASCII character.

    The dictionary recognizers match whole words of the lower-cased text: every such match is
    a term here (a superset: no word boundaries). Hyperscan folds ASCII case only, and Unicode
    folding can turn another character into a term's letter (the Kelvin sign into `k`), so a
    non-ASCII text always runs them. Before, `[A-Za-z]{3}` ran them on nearly every text.
    """
    terms = sorted({t.lower() for t in load_terms(data_file)}, key=lambda t: (-len(t), t))
    return re.compile("(?i:" + "|".join(re.escape(t) for t in terms) + r")|[^\x00-\x7f]")


# recognizer name -> (factory, trigger)
RECOGNIZERS: dict[str, tuple[Callable[[], EntityRecognizer], re.Pattern[str]]] = {
    "EmailRecognizer": (OfflineEmailRecognizer, re.compile(r"[\w.+-]@[\w-]")),
    # libphonenumber is costly: run it on `+`/`00` numbers, trunk-prefixed national ones, and near phone words
    "PhoneRecognizer": (LogPhoneRecognizer, re.compile(
        r"(?:\+|00)\(?\d|(?:\b|\()0[\d\s().-]{6,}\d"
        r"|(?i:phone|tel|mobile|cell|call|sms|fax|cep|whatsapp|number|contact|numero|telefon|telepono|handy"
        r"|celular|m[oó]vil|portable|reminder|\btext\s+(?:me|us|at|to|\+?\d))")),
    "NanpPhoneRecognizer": (NanpPhoneRecognizer, re.compile(r"\d{3}\)?[\s.-]?\d{3}[\s.-]?\d{4}")),
    "CardNumberRecognizer": (CardNumberRecognizer, re.compile(r"(?i:card|cc|pan|visa|mastercard|amex|discover|jcb|maestro)")),
    # each pattern's number stands apart from other digits (a 13-digit epoch holds nine of them): Presidio's
    # have `\b` around it; after a label (`ssn078051121`) a letter or a separator comes before it
    "UsSsnRecognizer": (LeanSsnRecognizer, re.compile(r"(?:^|[^0-9])\d{3}[- .]?\d{2}[- .]?\d{4}\b", re.M)),
    "CreditCardRecognizer": (LeanCreditCardRecognizer, re.compile(r"\d{4}[- ]?\d{4}[- ]?\d{4}|\d{4}[- ]\d{6}[- ]\d{4}")),
    "IpRecognizer": (LeanIpRecognizer, re.compile(r"\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}|[0-9A-Fa-f]{0,4}::[0-9A-Fa-f]|[0-9A-Fa-f]{1,4}::"
                                                   r"|[0-9A-Fa-f]{1,4}:[0-9A-Fa-f]{1,4}:")),
    "MedicalRecordNumberRecognizer": (MedicalRecordNumberRecognizer,
                                      re.compile(r"(?i:mrn|record|patient|chart)")),
    # both patterns end the number at a word boundary (`XKH366186631`, a member id, holds no DEA number)
    "DeaNumberRecognizer": (DeaNumberRecognizer, re.compile(r"[A-Z][A-Z9]\d{7}\b")),
    "NpiRecognizer": (NpiRecognizer, re.compile(r"[12]\d{9}\b|[12]\d{3}[- ]\d{3}[- ]\d{3}")),
    "HealthPlanIdRecognizer": (HealthPlanIdRecognizer,
                               re.compile(r"(?i:member|subscriber|policy|insurance|medica[ir]e?|plan|beneficiary|group)"
                                          r"|\b[1-9][A-Za-z][A-Za-z0-9]\d")),
    "DateOfBirthRecognizer": (DateOfBirthRecognizer, re.compile(r"(?i:dob|d\.o\.b|birth|born)")),
    "StreetAddressRecognizer": (StreetAddressRecognizer,
                                re.compile(r"\b\d{1,6}[A-Z]?\s+(?:[NSEW]\.?\s+)?[A-Z0-9]|[ADF]PO\s+A[AEP]|(?i:box\s+\d)"
                                           r"|\b\d{1,5},?\s+(?:" + STREET_KINDS + r")\s")),
    "ApiKeyRecognizer": (ApiKeyRecognizer, re.compile(vendor_trigger())),
    "ContextSecretRecognizer": (ContextSecretRecognizer, context_trigger()),
    "AuthTokenRecognizer": (AuthTokenRecognizer, re.compile(r"(?i:bearer|session|sid=|_token=)")),
    "CredentialRecognizer": (CredentialRecognizer, re.compile(r"//[^/\s@]{0,256}@|curl")),
    "PrivateKeyRecognizer": (PrivateKeyRecognizer, re.compile(r"-----BEGIN")),
    "MedicalConditionDictionary": (condition_recognizer, dictionary_trigger("conditions.txt")),
    "MedicationDictionary": (medication_recognizer, dictionary_trigger("medications.txt")),
    # a code starts a word in each pattern (after a label, a separator comes before it): not `XKH366186631`
    "Icd10Recognizer": (Icd10Recognizer, re.compile(r"\b[A-TV-Z]\d[0-9AB]")),
    "NameGazetteerRecognizer": (NameGazetteerRecognizer, re.compile(
        # the accented letters as characters (not a raw string): Hyperscan takes them, not `\\u` escapes
        "[A-Z][a-z\u00C0-\u024F]+" r"[.,]?\s+(?:[a-z]{1,5}\s+){0,2}[A-Z]"
        # names in capitals (`ABDULLAH KHAN`), a surname after a patient word (`pt Ramirez`)
        r"|[A-Z]{2}[A-Z'-]{0,30}\s+(?:[A-Z]\.?\s+)?[A-Z]{2}|\b[Pp](?:t|atient)\.?:?\s+[A-Z]"
        # a greeting or a self-introduction before a name of any script (`Hi Étienne`, `my name is 陽一`)
        r"|(?i:name\s+is|name\s*:|i\s+am|i'm|call\s+me|this\s+is)\s+(?:[A-Z]|[^\x00-\x7f])"
        r"|" + GREETING + r",?\s+(?:[A-Z]|[^\x00-\x7f])")),
}

# What runs on `machine` fields (hosts, user agents, ids): values with no free text in them.
MACHINE_RECOGNIZERS = frozenset({"EmailRecognizer", "IpRecognizer", "ApiKeyRecognizer", "AuthTokenRecognizer",
                                 "ContextSecretRecognizer", "CredentialRecognizer", "PrivateKeyRecognizer"})

TRIGGERS: dict[str, re.Pattern[str]] = {name: trig for name, (_, trig) in RECOGNIZERS.items()}

# NER is not gated by a trigger here: the analyzer decides which texts go through spaCy, and adds
# this recognizer when the model first loads (its module imports spaCy).
NER_RECOGNIZER = "SpacyRecognizer"


def ner_recognizer() -> EntityRecognizer:
    """Presidio's recognizer of the PERSON entities NER found."""
    from presidio_analyzer.predefined_recognizers import SpacyRecognizer

    return SpacyRecognizer(supported_entities=["PERSON"])


def _entities_of(rec: EntityRecognizer) -> set[str]:
    return {PRESIDIO_TO_CANONICAL.get(e, e) for e in rec.supported_entities}


def build_recognizers(entities: Iterable[str]) -> list[EntityRecognizer]:
    """Instances of every registered recognizer that reports one of `entities`."""
    wanted = set(entities)
    out: list[EntityRecognizer] = []
    for _name, (factory, _trigger) in RECOGNIZERS.items():
        rec = factory()
        if _entities_of(rec) & wanted:
            out.append(rec)
    return out


def deny_recognizers(rules) -> list[tuple[EntityRecognizer, re.Pattern[str]]]:
    """A Presidio deny-list recognizer (values, whole words) plus patterns (regexes) per deny rule."""
    from presidio_analyzer import Pattern, PatternRecognizer

    out = []
    for i, rule in enumerate(rules):
        if not rule.values and not rule.regexes:
            continue
        rec = PatternRecognizer(
            supported_entity=rule.entity, name=f"DenyList{i}", deny_list=list(rule.values) or None,
            patterns=[Pattern(f"deny regex {j}", rx, 1.0) for j, rx in enumerate(rule.regexes)] or None,
            deny_list_score=1.0)
        trigger = re.compile("|".join([re.escape(v) for v in rule.values] + list(rule.regexes)), re.I)
        out.append((rec, trigger))
    return out
