"""Contact-detail recognizers adapted for a machine with no network at run time."""

from __future__ import annotations

import tldextract
from presidio_analyzer.predefined_recognizers import EmailRecognizer

# tldextract's default extractor downloads the public suffix list on first use;
# this one reads the snapshot shipped inside the tldextract package only.
_OFFLINE_TLD = tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None)


class OfflineEmailRecognizer(EmailRecognizer):
    """Presidio's email recognizer with its domain validation kept, but offline."""

    def __init__(self, **kw):
        kw.setdefault("name", "EmailRecognizer")
        super().__init__(**kw)

    def validate_result(self, pattern_text: str) -> bool:
        return _OFFLINE_TLD(pattern_text).fqdn != ""
