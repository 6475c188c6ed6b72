"""Contact-detail recognizers adapted for a machine with no network at run time."""

from __future__ import annotations

import re

import tldextract
from presidio_analyzer import Pattern
from presidio_analyzer.predefined_recognizers import (
    CreditCardRecognizer,
    EmailRecognizer,
    IpRecognizer,
    PhoneRecognizer,
    UsSsnRecognizer,
)

from detectors.base import CasedPatternRecognizer, LeanAnalyzeMixin

# tldextract's default extractor downloads the public suffix list on first use;
# this one reads the snapshot shipped inside the tldextract package only.
_OFFLINE_TLD = tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None)


class LeanSsnRecognizer(LeanAnalyzeMixin, UsSsnRecognizer):
    """Presidio's SSN recognizer (patterns, context, invalidation) through the leaner analyze."""

    def __init__(self, **kw):
        kw.setdefault("name", "UsSsnRecognizer")
        super().__init__(**kw)


class LeanCreditCardRecognizer(LeanAnalyzeMixin, CreditCardRecognizer):
    """Presidio's card recognizer (brand patterns, Luhn) through the leaner analyze."""

    def __init__(self, **kw):
        kw.setdefault("name", "CreditCardRecognizer")
        super().__init__(**kw)


class LeanIpRecognizer(LeanAnalyzeMixin, IpRecognizer):
    """Presidio's IP recognizer (v4 and v6, invalidation) through the leaner analyze."""

    def __init__(self, **kw):
        kw.setdefault("name", "IpRecognizer")
        super().__init__(**kw)


class OfflineEmailRecognizer(LeanAnalyzeMixin, EmailRecognizer):
    """Presidio's email recognizer with its domain validation kept, but offline."""

    def __init__(self, **kw):
        kw.setdefault("name", "EmailRecognizer")
        super().__init__(**kw)

    def validate_result(self, pattern_text: str) -> bool:
        # `Stevens&email=jane%40x.io` in a raw query string is no address: its decoded view has one
        if any(ch in pattern_text for ch in "&=?%/"):
            return False
        return _OFFLINE_TLD(pattern_text).fqdn != ""


class LogPhoneRecognizer(PhoneRecognizer):
    """Presidio's phonenumbers-based recognizer, scored for telemetry.

    libphonenumber's lenient matcher also accepts digit groups of timestamps,
    pids and IP-derived host names, so on its own (0.4) it stays under the
    default threshold: it needs context (`phone`, `sms`, `call`, a `phone` key).
    Formatted North American numbers are found by `NanpPhoneRecognizer`.
    """

    CONTEXT = [*PhoneRecognizer.CONTEXT, "sms", "text", "call", "reminder", "contact", "tel", "whatsapp"]

    def __init__(self, **kw):
        kw.setdefault("supported_regions", ("US", "CA", "GB"))
        kw.setdefault("context", self.CONTEXT)
        kw.setdefault("name", "PhoneRecognizer")
        super().__init__(**kw)


class NanpPhoneRecognizer(CasedPatternRecognizer):
    """North American numbers by shape, for numbers libphonenumber rejects.

    libphonenumber knows which area codes are assigned today; a log line keeps
    whatever a patient typed. Formatted NANP numbers (area code and exchange not
    starting with 0 or 1) are phone numbers whatever their area code.
    """

    ENTITY = "PHONE_NUMBER"
    _PREFIX = r"(?:(?:\+?1|001)[\s.-]?)?"
    _EXT = r"(?:\s?(?:x|ext\.?|extension)\s?\d{1,6})?"
    _END = r"(?![\w/-])(?!\.\d)"
    PATTERNS = [
        Pattern("nanp parenthesised", r"(?<![\w+.-])" + _PREFIX + r"\(\d{3}\)[\s.-]?\d{3}[\s.-]?\d{4}" + _EXT + _END, 0.6),
        Pattern("nanp separated", r"(?<![\w+./-])(?:(?:\+?1|001)[\s.-])?\d{3}([-.])\d{3}\1\d{4}" + _EXT + _END, 0.55),
        Pattern("nanp +1 spaced", r"(?<![\w+.-])\+1[\s.-]\d{3}[\s.-]\d{3}[\s.-]\d{4}" + _EXT + _END, 0.6),
        Pattern("nanp spaced", r"(?<![\w+.-])\d{3}\s\d{3}\s\d{4}" + _EXT + _END, 0.3),
        # ten bare digits are a phone only with context (`phone 5884995790`, `SMS to ...`)
        Pattern("nanp bare", r"(?<![\w+.-])(?:\+?1)?[2-9]\d{2}[2-9]\d{6}" + _EXT + _END, 0.2),
    ]
    CONTEXT = LogPhoneRecognizer.CONTEXT

    def validate_result(self, pattern_text: str) -> bool | None:
        main = re.split(r"(?i)\s?(?:x|ext)", pattern_text)[0]
        digits = "".join(ch for ch in main if ch.isdigit())
        if len(digits) == 13 and digits.startswith("001"):
            digits = digits[3:]
        if len(digits) == 11 and digits[0] == "1":
            digits = digits[1:]
        if len(digits) != 10:
            return False
        area, exchange = digits[:3], digits[3:6]
        # None keeps the pattern's score (a shape is no proof: bare digits still need context)
        return None if area[0] not in "01" and exchange[0] not in "01" else False


class CardNumberRecognizer(CasedPatternRecognizer):
    """Card numbers Presidio's recognizer does not know the brand of (12-19 digits), by label and Luhn."""

    ENTITY = "CREDIT_CARD"
    PATTERNS = [
        Pattern("card labelled",
                r"(?i:(?<=\b(?:card|cc|ccnum|credit[\s_-]*card|debit[\s_-]*card|card[\s_-]*(?:number|num|no)|pan|"
                r"visa|mastercard|amex|discover|jcb|maestro)[\s:=#\"'-]{0,4}))\d(?:[\s-]?\d){11,18}(?!\d)", 0.85),
    ]
    CONTEXT = ["card", "credit", "payment", "visa", "mastercard", "amex"]

    def validate_result(self, pattern_text: str) -> bool | None:
        from detectors.healthcare import luhn_valid

        digits = "".join(ch for ch in pattern_text if ch.isdigit())
        return None if 12 <= len(digits) <= 19 and luhn_valid(digits) else False
