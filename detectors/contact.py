"""Contact-detail recognizers adapted for a machine with no network at run time."""

from __future__ import annotations

import re
from functools import lru_cache

import tldextract
import regex
from presidio_analyzer import AnalysisExplanation, LocalRecognizer, Pattern, RecognizerResult
from presidio_analyzer.predefined_recognizers import (
    CreditCardRecognizer,
    EmailRecognizer,
    IpRecognizer,
    UsSsnRecognizer,
)

from core.text import digits_only
from detectors.base import CasedPatternRecognizer, LeanAnalyzeMixin, labelled
from detectors.healthcare import BARE_CHECKSUM_SCORE, luhn_valid

# tldextract's default extractor downloads the public suffix list on first use;
# this one reads the snapshot shipped inside the tldextract package only.
_OFFLINE_TLD = tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None)


_SSN_LABEL = r"(?:ssn|social[\s_-]*security(?:[\s_-]*(?:number|num|no\.?|#))?)(?:\s+(?:is|was|of))?"


class LeanSsnRecognizer(LeanAnalyzeMixin, UsSsnRecognizer):
    """Presidio's SSN recognizer (patterns, context, invalidation) through the leaner analyze.

    Presidio reports only `ddd-dd-dddd` shapes (0.5) without context; after an SSN label
    (`my ssn is 078-051121`, `social security number 078051121`) any 3-2-4 grouping counts.
    """

    # the digit shapes Presidio's weak patterns need, searched by `re` (a digit run is found at C speed)
    PATTERN_GATES = {"SSN1 (very weak)": re.compile(r"\d{5}-\d{4}").search,
                     "SSN2 (very weak)": re.compile(r"\d{3}-\d{6}").search,
                     "SSN4 (very weak)": re.compile(r"\d{9}").search}

    def __init__(self, **kw):
        kw.setdefault("name", "UsSsnRecognizer")
        super().__init__(**kw)
        self.patterns = [*self.patterns, Pattern(
            "ssn labelled", labelled(_SSN_LABEL, r"\d{3}[- .]?\d{2}[- .]?\d{4}\b"), 0.85)]

    def validate_match(self, pattern_name: str, value: str) -> bool | None:
        # Presidio drops the numbers published as examples (`078-05-1120`, `123-45-6789`) wherever they stand;
        # under an SSN label they fill an SSN slot all the same, and are reported as any labelled number
        if pattern_name != "ssn labelled" and digits_only(value) in _SAMPLE_SSNS:
            return False
        return None

    def invalidate_result(self, pattern_text: str) -> bool:
        """Presidio's rules (one kind of delimiter, no all-zero group, no 000/666 area, not one digit
        repeated) and nine digits; its list of sample numbers is `validate_match`'s, by pattern."""
        digits = digits_only(pattern_text)
        if len(digits) != 9 or len({c for c in pattern_text if c in ".- "}) > 1:
            return True
        return (len(set(digits)) == 1 or digits[3:5] == "00" or digits[5:] == "0000"
                or digits[:3] in ("000", "666"))


_SAMPLE_SSNS = frozenset({"123456789", "987654320", "078051120"})
# an SSN label just before a number: a phone guess for it gives way (`my social security number is 078051120`)
SSN_LABEL_BEFORE = regex.compile(r"(?i:\b" + _SSN_LABEL + r"[\s:#=\"'-]{0,4})$")


class LeanCreditCardRecognizer(LeanAnalyzeMixin, CreditCardRecognizer):
    """Presidio's card recognizer (brand patterns, Luhn) through the leaner analyze.

    A Luhn-valid number is reported at 1.0 with a card word in the text, and at
    `BARE_CHECKSUM_SCORE` without one. Separated digits must be grouped as cards are
    printed (4-4-4-4, 4-6-5, 4-4-4-x, one kind of separator): Presidio's pattern would
    otherwise assemble a card from neighbouring numbers of a log line (`1445432400 2015`).
    """

    def __init__(self, **kw):
        kw.setdefault("name", "CreditCardRecognizer")
        super().__init__(**kw)
        # brands Presidio's pattern does not know (BankCard 56xx, 2-series Mastercard) and the 4-6-5, 4-4-4-2
        # and 8-8 printings it cannot group; Luhn decides, as for Presidio's own pattern
        self.patterns = [*self.patterns, Pattern(
            "card digits or printed groups",
            r"(?<![\w-])[2-6](?:\d{11,18}|\d{3}([ -])\d{4}\1\d{4}\1\d{1,7}|\d{3}([ -])\d{6}\2\d{4,5}"
            r"|\d{7}([ -])\d{8})(?![\w-])", 0.3)]

    def invalidate_result(self, pattern_text: str) -> bool:
        digits = digits_only(pattern_text)
        # the only card range starting with 1 is UATP, 15 digits; 13, 16 and 19 digits starting with 1 are
        # epoch timestamps in ms, us and ns (`1718000000000000` in GA4's `event_timestamp`)
        if digits.startswith("1") and len(digits) != 15:
            return True
        return not card_grouping_ok(pattern_text) or super().invalidate_result(pattern_text)

    def analyze(self, text, entities, nlp_artifacts=None, regex_flags=None):
        results = super().analyze(text, entities, nlp_artifacts, regex_flags)
        if results and not _CARD_WORDS.search(text):
            for r in results:
                r.score = min(r.score, BARE_CHECKSUM_SCORE)
        return results


_CARD_WORDS = regex.compile(r"(?i)card|credit|debit|visa|master|amex|discover|jcb|diners|maestro|payment|\bcc\b|\bpan\b")
_CARD_SEPARATOR = regex.compile(r"[\s-]+")


def card_grouping_ok(value: str) -> bool:
    """Unseparated digits, or groups as cards print them, with one kind of separator."""
    groups = [g for g in _CARD_SEPARATOR.split(value.strip()) if g]
    if len(groups) == 1:
        return True
    if len({ch for ch in value.strip() if not ch.isdigit()}) > 1:
        return False
    sizes = [len(g) for g in groups]
    if sizes[:-1] == [4] * (len(sizes) - 1) and 1 <= sizes[-1] <= 4:
        return True  # 4-4-4-4, 4-4-4-3 (19 digits print as 4-4-4-4-3)
    return sizes in ([4, 6, 5], [4, 6, 4], [8, 8])  # Amex, Diners, two halves


class LeanIpRecognizer(LeanAnalyzeMixin, IpRecognizer):
    """Presidio's IP recognizer (v4 and v6, invalidation) through the leaner analyze.

    Every IPv6 pattern needs a colon and the IPv4 one a dot: Presidio's IPv6 alternation cost
    20 us on a 13-character dotted quad, twice what the IPv4 pattern that matches it did.
    """

    PATTERN_GATES = {"IPv4": lambda t: "." in t, "IPv4_mapped": lambda t: "::" in t,
                     "IPv4_embedded": lambda t: ":" in t, "IPv6": lambda t: ":" in t,
                     "IPv6_unspecified": lambda t: "::" in t}

    def __init__(self, **kw):
        kw.setdefault("name", "IpRecognizer")
        super().__init__(**kw)

    def invalidate_result(self, pattern_text: str) -> bool:
        """Presidio's answer (`ipaddress.ip_interface` refuses it), without the objects for a dotted quad:
        every proxied request carries one, and building an interface object cost more than matching."""
        m = _DOTTED_QUAD.fullmatch(pattern_text)
        if m is None:
            return super().invalidate_result(pattern_text)
        octets = m.group(1, 2, 3, 4)
        return any(int(o) > 255 or (len(o) > 1 and o[0] == "0") for o in octets) or (
            m.group(5) is not None and int(m.group(5)) > 32)


_URL_USER = re.compile(r"[^/\s@:]{0,128}:")


def _in_url_user_info(text: str, start: int) -> bool:
    """`start` follows `//user:` (the password of a URL's user info)."""
    slashes = text.rfind("//", max(0, start - 131), start)
    return slashes >= 0 and _URL_USER.fullmatch(text, slashes + 2, start) is not None


_DOTTED_QUAD = re.compile(r"(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})(?:/(\d{1,2}))?", re.ASCII)


# the characters of Presidio's local part, matched backwards from an `@`, and of its domain, forwards
_LOCAL_RUN = regex.compile(r"(?r)[!#$%&'*+\-/=?^_`{|}~.\w]*")
_DOMAIN_RUN = regex.compile(r"[\w.-]*")


class OfflineEmailRecognizer(LeanAnalyzeMixin, EmailRecognizer):
    """Presidio's email recognizer with its domain validation kept, but offline."""

    def __init__(self, **kw):
        kw.setdefault("name", "EmailRecognizer")
        super().__init__(**kw)

    def _finditer(self, rx, text: str, timeout: float | None):
        """Presidio's matches, searched only around each `@`: from the start of the run of local-part
        characters before it to the end of the domain characters after it.

        Every match holds exactly one `@` and lies inside that window (neither part can hold one), so
        searching the windows in order, each from where the last match ended, gives the whole-text
        matches. Presidio's pattern tries a local part at every position: 40 us a log line, and
        quadratic on a long run of word characters.
        """
        pos, at = 0, text.find("@")
        while at >= 0:
            lo = _LOCAL_RUN.match(text, 0, at).start()
            hi = _DOMAIN_RUN.match(text, at + 1).end()
            for m in rx.finditer(text, max(lo, pos), hi, timeout=timeout):
                yield m
                pos = m.end()
            at = text.find("@", at + 1)

    def analyze(self, text, entities, nlp_artifacts=None, regex_flags=None):
        results = super().analyze(text, entities, nlp_artifacts, regex_flags)
        # `https://user:secret@host/`: the password and the host of a URL's user info are no address
        return [r for r in results if not _in_url_user_info(text, r.start)] if results else results

    def validate_result(self, pattern_text: str) -> bool:
        # `Stevens&email=jane%40x.io` in a raw query string is no address: its decoded view has one
        if any(ch in pattern_text for ch in "&=?%/"):
            return False
        if "#" in pattern_text:  # tldextract reads a `#` as a fragment, whatever stands after it
            return _OFFLINE_TLD(pattern_text).fqdn != ""
        return _known_suffix(pattern_text.rpartition("@")[2])


@lru_cache(maxsize=8192)
def _known_suffix(domain: str) -> bool:
    """tldextract's answer for an address depends on its domain only (6 us a call; domains repeat)."""
    return _OFFLINE_TLD(domain).fqdn != ""


PHONE_CONTEXT = ["phone", "number", "telephone", "cell", "cellphone", "mobile", "call", "sms", "text", "reminder",
                 "contact", "tel", "whatsapp", "fax", "cep", "telefon", "telefono", "telepono", "handy", "numero",
                 "celular", "movil", "móvil", "telefone", "portable"]

# Regions tried for a national-format number (trunk prefix `0`, or any number with phone context), most
# populous and most common in telehealth traffic first. E.164 numbers (`+` or `00`) need no region.
_NATIONAL_REGIONS = (
    "US", "GB", "CA", "AU", "IN", "DE", "FR", "IT", "ES", "NL", "BE", "CH", "AT", "IE", "PT", "SE", "NO", "DK",
    "FI", "PL", "GR", "TR", "IL", "JP", "KR", "CN", "PH", "ID", "TH", "VN", "MY", "SG", "NZ", "ZA", "NG", "KE",
    "EG", "BR", "AR", "MX", "CO", "PK", "BD", "SA", "AE", "UA", "RU",
)
# a run of 7-15 digits with the usual separators, optionally `+`/`00` led and with an extension; never the
# date and hour of a timestamp (`2017-04-28 00:00:00`, `Jun 04 2011 21:59:52`: a time follows the digits)
_PHONE_CANDIDATE = regex.compile(
    r"(?<![\w+.\-/@])(?<!\d:)\+?\(?\d[\d\s().-]{5,20}\d(?:\s?(?:x|ext\.?)\s?\d{1,6})?(?![\w/@-])(?![.:]\d)")
# 3-2-4 groups are SSNs (`078-05-1120`), 2-2-4 and 4-2-2 groups dates: no country prints phones so
_SSN_OR_DATE = regex.compile(r"\d{3}([-. ])\d{2}\1\d{4}|\d{1,2}([-./])\d{1,2}\2\d{2,4}|\d{4}([-./])\d{1,2}\3\d{1,2}")
# the phone words that open the region search (the registry's trigger holds each of them): `text` only as a
# verb before a number (`text me at`), not the `text/html` of every content type
_CONTEXT_WORD = regex.compile(r"(?i)\b(?:" + "|".join(w for w in PHONE_CONTEXT if w != "text")
                              + r")s?\b|\btext\s+(?:me|us|at|to|\+?\d)")
# a formatted North American number as NanpPhoneRecognizer's patterns take it (area code and exchange
# not starting with 0 or 1): that recognizer reports it whatever its area code
_NANP_FORMATTED = regex.compile(r"(?:(?:\+?1|001)[\s.-]?)?(?:\([2-9]\d{2}\)[\s.-]?|[2-9]\d{2}([-.\s]))[2-9]\d{2}"
                                r"(?(1)\1|[\s.-]?)\d{4}")
# what separates digit groups of a printed number: one separator, or a bracketed area code
_GROUP_SPLIT = regex.compile(r"\s?[().]\s?|[\s.-]")


def _phone_grouping(main: str) -> bool:
    """Digit groups as people print national numbers: after the trunk+area group, groups of 2-4 digits
    (`090-1234-5678`, `0 532 123 45 67`), or a bracketed area code (`0 (532) 1234567`). Timestamps
    (`081110 210146 28`), decimals (`0.36388028`) and column-aligned counters (`1702  2105`) are not."""
    if "  " in main or _DECIMAL.fullmatch(main):
        return False
    if "(" in main:
        return True
    groups = [g for g in _GROUP_SPLIT.split(main) if g]
    return len(groups) >= 2 and all(2 <= len(g) <= 4 for g in groups[1:]) and len(groups[0]) <= 5
_MAX_PHONE_CANDIDATES = 16
# compiled once: a pattern given as a string is looked up in the module's cache at every call (2-5 us)
_DECIMAL = regex.compile(r"\d+\.\d+")
_EXTENSION = regex.compile(r"\s?(?:x|ext)")
_EXTENSION_ANY_CASE = re.compile(r"(?i)\s?(?:x|ext)")
_SINGLE_DIGIT_GROUP = regex.compile(r"(?<!\d)\d(?!\d)")


class LogPhoneRecognizer(LocalRecognizer):
    """Phone numbers of every region through libphonenumber, scored for telemetry.

    - E.164 (`+55 11 98456 5666`, `00 44 20 7946 0958`): valid for libphonenumber -> 0.7, no context needed.
    - National formats with a trunk `0` and separators (`090-1234-5678`, `0 532 123 45 67`), valid in one of
      `_NATIONAL_REGIONS` -> 0.5: the grouping and the trunk prefix are what people type, ids rarely look so.
    - Any other digit run that is a valid number of a region -> 0.4, under the threshold: it is reported only
      with context (`phone`, `call`, `cep`, a phone-named key) through Presidio's context enhancement.
    libphonenumber's own lenient matcher accepts digit groups of timestamps, pids and IP-derived host names;
    these rules do not try a region at all unless the candidate is `+`-led, trunk-prefixed or in context.
    """

    CONTEXT = PHONE_CONTEXT

    def __init__(self, **kw):
        kw.setdefault("supported_entities", ["PHONE_NUMBER"])
        kw.setdefault("context", self.CONTEXT)
        kw.setdefault("name", "PhoneRecognizer")
        super().__init__(**kw)

    def load(self) -> None:
        pass

    def analyze(self, text, entities, nlp_artifacts=None):
        import phonenumbers

        results: list[RecognizerResult] = []
        in_context = None
        for i, m in enumerate(_PHONE_CANDIDATE.finditer(text)):
            if i >= _MAX_PHONE_CANDIDATES:
                break
            cand = m.group(0)
            main = _EXTENSION.split(cand, 1)[0]
            digits = len(digits_only(main))
            if not 7 <= digits <= 15 or "  " in main or len(_SINGLE_DIGIT_GROUP.findall(main)) > 1:
                continue  # `1 2 3 4 5 6 7 8 9 10`: a row of counts; no region prints two one-digit groups
            if digits == 9 and SSN_LABEL_BEFORE.search(text, max(0, m.start() - 48), m.start()):
                continue  # nine digits after an SSN label are the SSN recognizer's
            score = None
            stripped = main.lstrip("(")
            if stripped.startswith(("+", "00")):
                e164 = "+" + main.lstrip("+(0") if stripped.startswith("00") else main
                score = 0.7 if _valid(phonenumbers, e164, None) else None
            elif _NANP_FORMATTED.fullmatch(main):
                continue  # NanpPhoneRecognizer reports it at a higher score; trying 47 regions found nothing more
            elif not _SSN_OR_DATE.fullmatch(main):
                trunk = stripped.startswith("0")
                formatted = any(not ch.isdigit() for ch in stripped)
                if formatted and not _phone_grouping(main):
                    trunk = False  # still a phone with context (`my number is 09-7625400`), never bare
                if not (trunk and formatted) and in_context is None:
                    in_context = bool(_CONTEXT_WORD.search(text))
                if trunk or in_context:
                    score = _national_score(phonenumbers, main, stripped.startswith("0"), trunk, formatted,
                                            bool(in_context))
            if score == 0.4 and phone_word_close(text, m.start(), m.end()):
                score = CLOSE_CONTEXT_SCORE  # `Call me at 06-12345678`, `06-12345678 (mobile)`
            if score is not None:
                results.append(self._phone_result(m.start(), m.end(), score))
        return results

    def _phone_result(self, start: int, end: int, score: float) -> RecognizerResult:
        meta = {RecognizerResult.RECOGNIZER_NAME_KEY: self.name, RecognizerResult.RECOGNIZER_IDENTIFIER_KEY: self.id}
        why = AnalysisExplanation(recognizer=self.name, original_score=score, textual_explanation="libphonenumber")
        return RecognizerResult("PHONE_NUMBER", start, end, score, why, meta)


_REGIONS_BY_PREFIX: dict[bool, tuple[str, ...]] = {}


def _candidate_regions(phonenumbers, leading_zero: bool) -> tuple[str, ...]:
    """The regions a national number can belong to: a leading 0 is a trunk prefix (or, in Italy, part of
    the number); without one, only regions that dial no `0` trunk prefix (NANP, Spain, Denmark...)."""
    hit = _REGIONS_BY_PREFIX.get(leading_zero)
    if hit is None:
        meta = phonenumbers.PhoneMetadata.metadata_for_region
        hit = tuple(r for r in _NATIONAL_REGIONS if (meta(r).national_prefix in ("0", None)) == leading_zero
                    or meta(r).national_prefix is None)
        _REGIONS_BY_PREFIX[leading_zero] = hit
    return hit


def _national_score(phonenumbers, main: str, leading_zero: bool, trunk: bool, formatted: bool,
                    in_context: bool) -> float | None:
    """0.5 for a trunk-prefixed number valid in a region (bare: a mobile one), 0.4 for any valid number in
    context, else None. Regions are tried lazily and the search stops at the first answer that decides."""
    score = None
    for region in _candidate_regions(phonenumbers, leading_zero):
        if not _valid(phonenumbers, main, region):
            continue
        if trunk and (formatted or _mobile(phonenumbers, main, region)):
            return 0.5
        if in_context:
            score = 0.4
            if not trunk:
                return score
    if in_context and formatted and not leading_zero and _phone_grouping(main):
        for region in _MOBILE_WITHOUT_TRUNK:
            if _valid(phonenumbers, main, region) and _mobile(phonenumbers, main, region):
                return 0.4
    return score


# Regions whose mobile numbers are written without the trunk `0` they dial with (`98765 43210` in India,
# `138 0013 8000` in China, `532 123 45 67` in Turkey, `(11) 98456-5666` in Brazil): tried, in context only,
# for a number with no leading zero, and only as a mobile number of the region
_MOBILE_WITHOUT_TRUNK = ("IN", "CN", "TR", "BR")


def _mobile(phonenumbers, text: str, region: str) -> bool:
    """An unformatted national number is reported bare only when it is a mobile number of its region."""
    kind = phonenumbers.number_type(phonenumbers.parse(text, region))
    return kind in (phonenumbers.PhoneNumberType.MOBILE, phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE)


def _valid(phonenumbers, text: str, region: str | None) -> bool:
    try:
        return phonenumbers.is_valid_number(phonenumbers.parse(text, region))
    except phonenumbers.NumberParseException:
        return False


class NanpPhoneRecognizer(CasedPatternRecognizer):
    """North American numbers by shape, for numbers libphonenumber rejects.

    libphonenumber knows which area codes are assigned today; a log line keeps
    whatever a patient typed. Formatted NANP numbers (area code and exchange not
    starting with 0 or 1) are phone numbers whatever their area code.
    """

    ENTITY = "PHONE_NUMBER"
    PATTERN_GATES = {"nanp bare": re.compile(r"\d{10}").search}  # ten digits in a row
    _PREFIX = r"(?:(?:\+?1|001)[\s.-]?)?"
    _EXT = r"(?:\s?(?:x|ext\.?|extension)\s?\d{1,6})?"
    _END = r"(?![\w/-])(?![.:]\d)"  # not the date and hour of a timestamp: `2017-04-28 00:00:00`
    PATTERNS = [
        Pattern("nanp parenthesised", r"(?<![\w+.-])" + _PREFIX + r"\(\d{3}\)[\s.-]?\d{3}[\s.-]?\d{4}" + _EXT + _END, 0.6),
        Pattern("nanp separated", r"(?<![\w+./-])(?:(?:\+?1|001)[\s.-])?\d{3}([-.])\d{3}\1\d{4}" + _EXT + _END, 0.55),
        Pattern("nanp +1 spaced", r"(?<![\w+.-])\+1[\s.-]\d{3}[\s.-]\d{3}[\s.-]\d{4}" + _EXT + _END, 0.6),
        Pattern("nanp spaced", r"(?<![\w+.-])\d{3}\s\d{3}\s\d{4}" + _EXT + _END, 0.3),
        # ten bare digits are a phone only with context (`phone 5884995790`, `SMS to ...`)
        Pattern("nanp bare", r"(?<![\w+.-])(?:\+?1)?[2-9]\d{2}[2-9]\d{6}" + _EXT + _END, 0.2),
    ]
    CONTEXT = PHONE_CONTEXT

    def validate_result(self, pattern_text: str) -> bool | None:
        main = _EXTENSION_ANY_CASE.split(pattern_text, 1)[0]
        digits = digits_only(main)
        if len(digits) == 13 and digits.startswith("001"):
            digits = digits[3:]
        if len(digits) == 11 and digits[0] == "1":
            digits = digits[1:]
        if len(digits) != 10:
            return False
        area, exchange = digits[:3], digits[3:6]
        # None keeps the pattern's score (a shape is no proof: bare digits still need context)
        return None if area[0] not in "01" and exchange[0] not in "01" else False

    def analyze(self, text, entities, nlp_artifacts=None, regex_flags=None):
        results = super().analyze(text, entities, nlp_artifacts, regex_flags)
        for r in results:
            if r.score < CLOSE_CONTEXT_SCORE and phone_word_close(text, r.start, r.end):
                r.score = CLOSE_CONTEXT_SCORE
        return results


CLOSE_CONTEXT_SCORE = 0.55


def phone_word_close(text: str, start: int, end: int) -> bool:
    """A phone word just before a number or just after it (`call 5558675309`, `5558675309 is my cell`):
    Presidio's context enhancement looks at words before only, and never at stop words such as `call`."""
    return bool(_CONTEXT_WORD.search(text, max(0, start - 32), start) or _CONTEXT_WORD.search(text, end, end + 24))


class CardNumberRecognizer(CasedPatternRecognizer):
    """Card numbers Presidio's recognizer does not know the brand of (12-19 digits), by label and Luhn."""

    ENTITY = "CREDIT_CARD"
    PATTERNS = [
        Pattern("card labelled",
                labelled(r"card|cc|ccnum|credit[\s_-]*card|debit[\s_-]*card|card[\s_-]*(?:number|num|no)|pan|"
                         r"visa|mastercard|amex|discover|jcb|maestro", r"\d(?:[\s-]?\d){11,18}(?!\d)"), 0.85),
    ]
    CONTEXT = ["card", "credit", "payment", "visa", "mastercard", "amex"]

    def validate_result(self, pattern_text: str) -> bool | None:
        digits = digits_only(pattern_text)
        return None if 12 <= len(digits) <= 19 and luhn_valid(digits) else False
