"""Descriptive columns without values: a text with each finding's span replaced by `[ENTITY_TYPE]`.

Routes, field paths, keys and ids describe where a finding is, and they can hold
values themselves (`/api/users/jane@x.com`, `{"jane@x.com": {...}}`). They are
scanned like any text and stored in this templated form, so an analyst still sees
the shape (`/api/users/[EMAIL_ADDRESS]/records`) and never the value.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from core.paths import join_index, join_key
from core.paths import parse as parse_path


def template(text: str, hits: Sequence[Any]) -> str:
    """`text` with each hit's span replaced by `[ENTITY_TYPE]`: a descriptive column without the value."""
    out, pos = [], 0
    for h in sorted(hits, key=lambda h: h.start):
        if h.start < pos:
            continue
        out.append(text[pos:h.start])
        out.append(f"[{h.entity_type}]")
        pos = h.end
    out.append(text[pos:])
    return "".join(out)


def key_text(path: str) -> str:
    return str(parse_path(path)[-1])


def templated_path(path: str, key_templates: dict[str, str]) -> str:
    """A raw field path with every key that held a finding replaced by its template."""
    out = ""
    raw = ""
    for part in parse_path(path):
        if isinstance(part, int):
            raw, out = join_index(raw, part), join_index(out, part)
        else:
            raw = join_key(raw, part)
            out = join_key(out, key_templates.get(raw, part))
    return out
