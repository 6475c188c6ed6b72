"""Healthcare identifier recognizers: Presidio pattern recognizers with context and checksums.

Each is pure (text in, results out). Labelled patterns match forward from the
label and report the value's group (`detectors.base.labelled`), so the span covers
the value only, not its label: `MRN: 00123456` reports `00123456`.
"""

from __future__ import annotations

import re

from presidio_analyzer import Pattern

from core.text import digits_only
from detectors.base import CasedPatternRecognizer, labelled

# A score that says "checksum only, no label or context word": over the default threshold, under every
# labelled or context-backed score, the same for every such number (cards, NPI, DEA), so analysts can filter on it.
BARE_CHECKSUM_SCORE = 0.55

_MONTHS = r"(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Sept|Oct|Nov|Dec)[a-z]*\.?"
DATE_VALUE = (
    r"(?:(?:19|20)\d{2}-(?:0?[1-9]|1[0-2])-(?:0?[1-9]|[12]\d|3[01])"
    r"|(?:19|20)\d{2}/(?:0?[1-9]|1[0-2])/(?:0?[1-9]|[12]\d|3[01])"
    r"|(?:19|20)\d{2}\.(?:0?[1-9]|1[0-2])\.(?:0?[1-9]|[12]\d|3[01])"
    r"|(?:19|20)\d{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])"
    r"|(?:0?[1-9]|[12]\d|3[01])[-\s]" + _MONTHS + r"[-\s,]+(?:19|20)\d{2}"
    r"|(?:0?[1-9]|1[0-2])[/.-](?:0?[1-9]|[12]\d|3[01])[/.-](?:19|20)?\d{2}"
    r"|" + _MONTHS + r"\s+\d{1,2}(?:st|nd|rd|th)?,?\s+(?:19|20)\d{2}"
    r"|\d{1,2}\s+" + _MONTHS + r"\s+(?:19|20)\d{2})"
)


class MedicalRecordNumberRecognizer(CasedPatternRecognizer):
    """MRNs: labelled numbers (`MRN 00123456`, `medical record #A1234567`) and `MRN-` ids."""

    PATTERNS = [
        Pattern(
            "mrn labelled",
            labelled(r"mrn|medical[\s_-]*record(?:[\s_-]*(?:number|num|no\.?|#|id))?|"
                     r"patient[\s_-]*(?:id|number|no\.?|#)|chart[\s_-]*(?:number|no\.?|#|id)",
                     r"(?=[A-Z0-9-]*\d{4})[A-Z]{0,4}-?\d{4,12}(?:-\d{1,4})?\b"),
            0.85,
        ),
        Pattern("mrn prefixed", r"\bMRN[-_]?\d{5,12}\b", 0.9),
    ]
    CONTEXT = ["mrn", "medical", "record", "chart", "patient"]

    ENTITY = "MEDICAL_RECORD_NUMBER"


class DeaNumberRecognizer(CasedPatternRecognizer):
    """DEA registration numbers: two letters and seven digits with the DEA checksum."""

    PATTERNS = [
        Pattern("dea labelled", labelled(r"dea(?:[\s_-]*(?:number|no\.?|#|registration))?",
                                         r"[ABCDEFGHJKLMPRSTUX][A-Z9]\d{7}\b"), 0.85),
        # without a label, only the checksum vouches for it: BARE_CHECKSUM_SCORE when it passes; never a
        # Microsoft knowledge-base article (`KB4466404`, in every Windows update and SQL Server log)
        Pattern("dea bare (checksum only)", r"\b(?!KB)[ABCDEFGHJKLMPRSTUX][A-Z9]\d{7}\b", BARE_CHECKSUM_SCORE),
    ]
    CONTEXT = ["dea", "prescriber", "registration", "controlled", "prescription"]

    ENTITY = "US_DEA"

    def validate_result(self, pattern_text: str) -> bool | None:
        # None keeps the pattern's score: a passing checksum (1 in 10 by chance) is no proof.
        d = [int(c) for c in pattern_text[2:]]
        check = (d[0] + d[2] + d[4]) + 2 * (d[1] + d[3] + d[5])
        return None if check % 10 == d[6] else False


class NpiRecognizer(CasedPatternRecognizer):
    """NPIs: ten digits starting 1 or 2, Luhn-valid with the 80840 prefix; needs context or a label."""

    PATTERNS = [
        Pattern("npi labelled", labelled(r"npi(?:[\s_-]*(?:number|no\.?|#|id))?", r"[12]\d{9}\b"), 0.85),
        Pattern("npi bare (checksum only)", r"(?<![\w.:/-])[12]\d{9}(?![\w.:/-])", BARE_CHECKSUM_SCORE),
        Pattern("npi grouped (checksum only)", r"(?<![\w.:/-])[12]\d{3}([- ])\d{3}\1\d{3}(?![\w.:/-])",
                BARE_CHECKSUM_SCORE),
    ]
    CONTEXT = ["npi", "provider", "prescriber", "physician", "clinician"]

    ENTITY = "US_NPI"
    PATTERN_GATES = {"npi grouped (checksum only)": re.compile(r"\d{4}[- ]\d{3}[- ]\d{3}").search}

    def validate_result(self, pattern_text: str) -> bool | None:
        # None keeps the pattern's score: a label vouches (0.85), a bare Luhn pass says only so much (0.55)
        digits = digits_only(pattern_text)
        if len(set(digits[:-1])) == 1:  # `1111111112`: a run of one digit is a placeholder, not a number
            return False
        return None if len(digits) == 10 and luhn_valid("80840" + digits) else False


class HealthPlanIdRecognizer(CasedPatternRecognizer):
    """Medicare MBIs by format, and member/subscriber/policy ids by their label."""

    _MBI = r"\b[1-9][AC-HJKMNP-RT-Yac-hjkmnp-rt-y][AC-HJKMNP-RT-Yac-hjkmnp-rt-y0-9]\d-?[AC-HJKMNP-RT-Yac-hjkmnp-rt-y][AC-HJKMNP-RT-Yac-hjkmnp-rt-y0-9]\d-?[AC-HJKMNP-RT-Yac-hjkmnp-rt-y]{2}\d{2}\b"
    PATTERNS = [
        Pattern("mbi", _MBI, 0.6),
        Pattern(
            "member id labelled",
            labelled(r"(?:member|subscriber|policy|insurance|medicaid|medicare|plan|beneficiary|group)"
                     r"[\s_-]*(?:id|number|num|no\.?|#)",
                     r"(?=[A-Z0-9-]*\d{3})[A-Z0-9][A-Z0-9-]{5,19}\b"),
            0.85,
        ),
    ]
    CONTEXT = ["member", "subscriber", "policy", "insurance", "medicare", "medicaid", "mbi", "plan"]

    ENTITY = "HEALTH_PLAN_ID"


class DateOfBirthRecognizer(CasedPatternRecognizer):
    """Dates with birth context (`DOB 03/12/1984`, `born on March 12, 1984`)."""

    PATTERNS = [
        Pattern(
            "dob labelled",
            labelled(r"dob|d\.o\.b\.?|date[\s_-]*of[\s_-]*birth|birth[\s_-]*date|birthdate|birthday|born(?:\s+on)?",
                     DATE_VALUE + r"\b(?![ T]?\d{1,2}:\d{2})"),  # no time of day: a timestamp
            0.85,
        ),
    ]
    CONTEXT = ["dob", "birth", "born", "birthday", "birthdate"]

    ENTITY = "DATE_OF_BIRTH"


def _street_suffixes() -> str:
    from detectors.health import load_terms

    return "(?:" + "|".join(sorted(load_terms("street_suffixes.txt"), key=len, reverse=True)) + ")"


_US_STATES = (
    "AL|AK|AZ|AR|CA|CO|CT|DE|DC|FL|GA|HI|ID|IL|IN|IA|KS|KY|LA|ME|MD|MA|MI|MN|MS|MO|MT|NE|NV|NH|NJ|NM|NY|NC|ND|OH|OK|"
    "OR|PA|RI|SC|SD|TN|TX|UT|VT|VA|WA|WV|WI|WY|AS|FM|GU|MH|MP|PW|PR|VI|AA|AE|AP"
)
_US_STATE_NAMES = (
    "Alabama|Alaska|Arizona|Arkansas|California|Colorado|Connecticut|Delaware|Florida|Georgia|Hawaii|Idaho|"
    "Illinois|Indiana|Iowa|Kansas|Kentucky|Louisiana|Maine|Maryland|Massachusetts|Michigan|Minnesota|Mississippi|"
    "Missouri|Montana|Nebraska|Nevada|New Hampshire|New Jersey|New Mexico|New York|North Carolina|North Dakota|"
    "Ohio|Oklahoma|Oregon|Pennsylvania|Rhode Island|South Carolina|South Dakota|Tennessee|Texas|Utah|Vermont|"
    "Virginia|Washington|West Virginia|Wisconsin|Wyoming|Puerto Rico"
)
_POST_DIRECTION = r"(?:\s+(?:NE|NW|SE|SW|N|S|E|W)\b\.?)?"
# UK and Canadian postcodes, which follow the town: `London NW1 6XE`, `Toronto, ON M5V 3L9`
_INTL_POSTCODE = r"(?:[A-Z]{1,2}\d[A-Z\d]?\s?\d[A-Z]{2}|[A-Z]\d[A-Z]\s?\d[A-Z]\d)"
# postcodes before the town: 4-5 digits (DE, FR, ES, IT, CH, AT, BE, DK, NO), `1100-053` (PT), `00-950` (PL),
# `114 55` (SE, CZ, SK, GR), `01310-200` (BR)
_EU_POSTCODE = r"(?:\d{5}-\d{3}|\d{4}-\d{3}|\d{2}-\d{3}|\d{3}\s\d{2}|\d{4,5})"
_TOWN = r"[A-Z][\w\u00C0-\u024F]+(?:[\s-][A-Z][\w\u00C0-\u024F]+){0,2}"
# abbreviations that lead a street name: `ul. Marszałkowska` (PL), `Av. Paulista`, `Avda. de Europa`, `Str. Lipscani`
_STREET_ABBREV = r"(?:ul|al|pl|os|Av|Avda|Str|Bd|Blvd)\."
_INTL_STREET_FIRST = (r"\b[A-Z][\w'\u00C0-\u024F]+(?:\s+(?:[a-z]{1,3}\s+){0,2}[A-Z][\w'\u00C0-\u024F]+){0,3}"
                      r"\s+\d{1,5}[a-z]?,\s+(?:[A-Z]{1,2}-?)?" + _EU_POSTCODE + r"\s+" + _TOWN)
_ABBREV_GATE = re.compile(_STREET_ABBREV)
_POSTCODE_GATE = re.compile(r",\s+(?:[A-Z]{1,2}-?)?\d{2}")
_UNIT = r"(?:,?\s+(?:Apt|Apartment|Suite|Ste|Unit|Bldg|Building|Floor|Fl|Room|Rm|#)\.?\s*#?[A-Za-z0-9-]{1,8})?"
_CA_PROVINCES = "AB|BC|MB|NB|NL|NS|NT|NU|ON|PE|QC|SK|YT"
_CITY_STATE_ZIP = (r"(?:,?\s+[A-Z][a-z]+(?:[\s-][A-Z][a-z]+){0,3}(?:,?\s+(?:" + _US_STATES + "|" + _US_STATE_NAMES
                   + r")\b(?:\s+\d{5}(?:-\d{4})?)?|,?\s+(?:(?:" + _CA_PROVINCES + r")\s+)?" + _INTL_POSTCODE
                   + r"\b))?")
# the kind of street, written in lower case before its name in French, Italian, Spanish and Portuguese
# addresses: `12 rue de Rivoli`, `via Roma`, `calle Mayor`
STREET_KINDS = "rue|avenue|boulevard|chemin|impasse|quai|place|route|via|viale|piazza|corso|calle|avenida|rua"


# APO/FPO/DPO addresses of service members and their families, and post-office boxes.
MILITARY_ADDRESS = (r"(?:PSC\s+\d{3,5},?\s+Box\s+\d{3,5}|Unit\s+\d{3,5},?\s+Box\s+\d{3,5}|"
                    r"US[A-Z]{1,3}\s+[A-Z][a-z]+),?\s+[ADF]PO\s+A[AEP]\s+\d{5}(?:-\d{4})?")
PO_BOX = r"P\.?\s?O\.?\s+Box\s+\d{1,6}" + r"(?:,?\s+[A-Z][a-z]+(?:[\s-][A-Z][a-z]+){0,3},?\s+[A-Z]{2}\s+\d{5}(?:-\d{4})?)?"


class StreetAddressRecognizer(CasedPatternRecognizer):
    """US street addresses: number, street name, a USPS street suffix, unit, city, state and ZIP."""

    ENTITY = "STREET_ADDRESS"
    # literals the rarer patterns need, tested before they run on every candidate line
    PATTERN_GATES = {
        "unit before a street address": lambda t: any(w in t for w in ("Flat", "Unit", "Apartment", "Apt", "Suite")),
        "international street address after an abbreviation": lambda t: "." in t and _ABBREV_GATE.search(t) is not None,
        "international number-first address": lambda t: _POSTCODE_GATE.search(t) is not None,
        "international street address": lambda t: _POSTCODE_GATE.search(t) is not None,
        "military address": lambda t: "PO" in t,  # APO, FPO, DPO
        "po box": lambda t: "Box" in t,
    }
    CONTEXT = ["address", "street", "home", "lives", "live", "ship", "mailing", "residence", "direccion", "dirección",
               "adresse", "adres", "adress", "adresa", "anschrift", "indirizzo", "endereco", "endereço", "domicilio",
               "located"]

    def __init__(self, **kw):
        street = (r"\b\d{1,6}[A-Z]?\s+(?:[NSEW]\.?\s+|(?:North|South|East|West)\s+)?"
                  r"(?:[A-Z][a-z']+\.?\s+|\d{1,3}(?:st|nd|rd|th)\s+){1,3}" + _street_suffixes() + r"\b\.?"
                  + _POST_DIRECTION)
        kw.setdefault("patterns", [
            Pattern("us street address", street + _UNIT + _CITY_STATE_ZIP, 0.7),
            # a flat or unit before the number, as UK and Australian addresses print it: `Flat 3, 14 Kings Road`
            # (a pattern of its own: an optional prefix before the number made every position try it)
            Pattern("unit before a street address",
                    r"\b(?:Flat|Unit|Apartment|Apt|Suite)\.?\s+[A-Za-z0-9-]{1,5},?\s+" + street + _UNIT + _CITY_STATE_ZIP,
                    0.7),
            # an unknown suffix still reads as an address when a city, state and ZIP follow
            Pattern("us address with city/state/zip",
                    r"\b\d{1,6}\s+(?:[A-Z][a-z']+\.?\s+){1,4}?" + r"[A-Z][a-z']+\.?" + _UNIT
                    + r",?\s+[A-Z][a-z]+(?:[\s-][A-Z][a-z]+){0,3},?\s+(?:" + _US_STATES + r")\s+\d{5}(?:-\d{4})?\b",
                    0.75),
            Pattern("military address", r"\b" + MILITARY_ADDRESS + r"\b", 0.8),
            # street name first, then the number and a postcode and town (most of Europe and Latin America):
            # `Calle de Alcala 45, 28014 Madrid`, `Hauptstrasse 5, 10115 Berlin`; reported with context only
            Pattern("international street address", _INTL_STREET_FIRST, 0.4),
            # ... after an abbreviation of the street's kind: `ul. Marszałkowska 10, 00-950 Warszawa`, `Av. Paulista`
            # (a pattern of its own: an optional prefix before the street made every position try it)
            Pattern("international street address after an abbreviation",
                    r"\b" + _STREET_ABBREV + r"\s+" + _INTL_STREET_FIRST, 0.4),
            # number first, then the street and a postcode and town (France, Belgium, Quebec):
            # `25 Rue de Rivoli, 75001 Paris`; with context only
            Pattern("international number-first address",
                    r"\b\d{1,5}(?:\s?(?:bis|ter))?,?\s+(?:[A-Z][\w'\u00C0-\u024F.]+"
                    r"(?:\s+(?:[a-z]{1,4}\s+){0,2}[A-Z][\w'\u00C0-\u024F]+){1,4}"
                    r"|(?:" + STREET_KINDS + r")\s+(?:[a-z]{1,4}['\u2019\s]\s*){0,2}[A-Z][\w'\u00C0-\u024F]+"
                    r"(?:\s+(?:[a-z]{1,4}\s+){0,2}[A-Z][\w'\u00C0-\u024F]+){0,3})"
                    r",\s+(?:[A-Z]{1,2}-?)?" + _EU_POSTCODE + r"\s+" + _TOWN, 0.4),
            Pattern("po box", r"\b" + PO_BOX + r"\b", 0.6),
        ])
        super().__init__(**kw)


def luhn_valid(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        n = ord(ch) - 48
        if i % 2 == 1:
            n *= 2
            if n > 9:
                n -= 9
        total += n
    return total % 10 == 0
