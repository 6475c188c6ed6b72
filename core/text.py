"""Small text helpers the detectors share (no imports above the standard library)."""

from __future__ import annotations

import re

_NOT_DIGIT = re.compile(r"\D")


def digits_only(text: str) -> str:
    """The decimal digits of `text`, in order: what a validator checks of `078-05-1120` or `4111 1111 ...`.

    One C-speed substitution; the `"".join(c for c in text if c.isdigit())` it replaces cost 3-5 us per
    match, in recognizers that run on most log lines. Decimal digits only (the `\\d` the patterns match):
    `isdigit` also takes superscripts, which `int()` refuses.
    """
    return _NOT_DIGIT.sub("", text)
