"""Field paths: how a finding says where in a payload a value sits.

Syntax: keys joined by `.`, list items as `[i]`, and a key that holds `.`, `[`,
`]`, quotes, spaces or is empty written as a JSON string in brackets:
`proxy.path`, `exception.values[0].stacktrace.frames[2].vars.email`,
`["trace.id"]`, `request.headers[2][1]`. `parse` inverts `join_key`/`join_index`
exactly, so a path always resolves back to the value it names.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

_PLAIN_KEY = re.compile(r"[A-Za-z0-9_$@:\-/#*+!?%&=~^|<>,;()'{}]+")
_UNSAFE = re.compile(r"[.\[\]\"\s]")
# keys of this shape are names, not values: they are not scanned (`$current_url`, `user-agent`, `x_id`)
IDENTIFIER = re.compile(r"[A-Za-z_$][A-Za-z_$\-]{0,63}|[A-Za-z_$][A-Za-z0-9_$\-]{0,31}")


class LimitExceeded(ValueError):
    """A payload is deeper or has more fields than the configured limits allow."""


_SEGMENTS: dict[str, str] = {}
_NAMES: set[str] = set()  # keys seen to be plain names (IDENTIFIER): they repeat in every event


def is_name_key(key: str) -> bool:
    """`IDENTIFIER.fullmatch(key)`, remembered for the keys that are names (never for the others: a key
    that is no name may be a value, and none is kept)."""
    if key in _NAMES:
        return True
    if IDENTIFIER.fullmatch(key) is None:
        return False
    if len(_NAMES) < 100_000:
        _NAMES.add(key)
    return True


def format_key(key: str) -> str:
    """The path segment for a mapping key, quoted when it is not plain (memoized: keys repeat)."""
    seg = _SEGMENTS.get(key)
    if seg is None:
        if key and not _UNSAFE.search(key) and _PLAIN_KEY.fullmatch(key):
            seg = key
        else:
            seg = "[" + json.dumps(key, ensure_ascii=False) + "]"
        if len(_SEGMENTS) < 100_000 and len(key) <= 64:
            _SEGMENTS[key] = seg
    return seg


def join_key(path: str, key: str) -> str:
    seg = format_key(key)
    if not path:
        return seg
    return path + seg if seg.startswith("[") else f"{path}.{seg}"


def join_index(path: str, index: int) -> str:
    return f"{path}[{index}]"


def parse(path: str) -> list[str | int]:
    """Split a path into keys (str) and list indexes (int). Raises ValueError if malformed."""
    parts: list[str | int] = []
    i, n = 0, len(path)
    expect_segment = True
    while i < n:
        ch = path[i]
        if ch == "[":
            if i + 1 < n and path[i + 1] == '"':
                decoder = json.JSONDecoder()
                key, end = decoder.raw_decode(path, i + 1)
                if end >= n or path[end] != "]":
                    raise ValueError(f"unterminated quoted key at {i}")
                parts.append(key)
                i = end + 1
            else:
                close = path.find("]", i)
                if close < 0:
                    raise ValueError(f"unterminated index at {i}")
                parts.append(int(path[i + 1 : close]))
                i = close + 1
            expect_segment = False
        elif ch == ".":
            if expect_segment:
                raise ValueError(f"empty segment at {i}")
            i += 1
            expect_segment = True
        else:
            m = _PLAIN_KEY.match(path, i)
            if not m:
                raise ValueError(f"bad character {ch!r} at {i}")
            parts.append(m.group(0))
            i = m.end()
            expect_segment = False
    if expect_segment and parts:
        raise ValueError("path ends with '.'")
    return parts


def resolve(payload: Any, path: str) -> Any:
    """The value at `path` in `payload` (KeyError/IndexError if absent)."""
    node = payload
    for part in parse(path):
        node = node[part]
    return node


_NORMALIZED: dict[str, str] = {}


def normalize_key(key: str | None) -> str:
    """A key reduced for matching against hint lists: `patient_firstName` -> `patientfirstname`."""
    if not key:
        return ""
    norm = _NORMALIZED.get(key)
    if norm is None:
        norm = "".join(ch for ch in key.lower() if ch.isalnum())
        if len(_NORMALIZED) < 100_000 and len(key) <= 64:
            _NORMALIZED[key] = norm
    return norm


@dataclass(slots=True, unsafe_hash=True)  # not frozen: see VALUE in core/model.py
class Leaf:
    """One scannable value: its path, the key that holds it (None in lists), and its text."""

    path: str
    key: str | None
    text: str
    numeric: bool = False
    is_key: bool = False  # the text is a mapping key (a key can be a value: `{"jane@x.com": {...}}`)


def iter_leaves(
    payload: Any,
    *,
    numeric_keys: frozenset[str] = frozenset(),
    max_depth: int = 64,
    max_fields: int = 10_000,
    base: str = "",
    skip: frozenset[str] = frozenset(),
    exclude: frozenset[int] = frozenset(),
    keys: bool = True,
) -> Iterator[Leaf]:
    """Every string leaf of `payload` with its path; numbers only under `numeric_keys`.

    `numeric_keys` holds normalized key names (see `normalize_key`) whose numeric
    values are scanned as text: a bare `ssn: 123456789` is still an SSN.
    Paths in `skip` are neither yielded nor descended into (field selectors
    that skip a whole subtree), and containers whose `id()` is in `exclude` are not
    entered (another event of the same record covers them). With `keys`, mapping keys
    that are not plain identifiers are yielded too (`is_key`), since a key can be a
    value. Raises LimitExceeded past `max_depth` nesting or `max_fields` leaves.
    """
    count = 0
    # (path, key, node, depth, named): `named` is the key a whole subtree answers to, for
    # key/value lists: GA4 `{"key": "page_location", "value": {...}}`, OTLP attributes,
    # Sentry `[["Authorization", "Bearer ..."]]` pairs and `[{"key": "user", "value": ...}]` tags.
    stack: list[tuple[str, str | None, Any, int, str | None]] = [(base, None, payload, 0, None)]
    while stack:
        path, key, node, depth, named = stack.pop()
        if isinstance(node, str):
            count += 1
            if count > max_fields:
                raise LimitExceeded(f"more than {max_fields} fields")
            if node:
                yield Leaf(path, named or key, node)
        elif isinstance(node, dict):
            if depth >= max_depth:
                raise LimitExceeded(f"nesting deeper than {max_depth}")
            if exclude and depth and id(node) in exclude:
                continue
            kv_name = node.get("key") if "value" in node and isinstance(node.get("key"), str) else None
            items = list(node.items())
            for k, v in reversed(items):
                if type(k) is not str:
                    k = str(k)
                child = join_key(path, k)
                if skip and child in skip:
                    count += 1
                    continue
                stack.append((child, k, v, depth + 1, kv_name if k == "value" and kv_name else named))
                if keys and k and not is_name_key(k):
                    count += 1
                    if count > max_fields:
                        raise LimitExceeded(f"more than {max_fields} fields")
                    yield Leaf(child, key, k, is_key=True)
        elif isinstance(node, list):
            if exclude and depth and id(node) in exclude:
                continue
            if depth >= max_depth:
                raise LimitExceeded(f"nesting deeper than {max_depth}")
            pair = len(node) == 2 and isinstance(node[0], str) and not isinstance(node[1], (dict, list))
            for i in range(len(node) - 1, -1, -1):
                stack.append((join_index(path, i), key, node[i], depth + 1,
                              node[0] if pair and i == 1 else named))
        elif isinstance(node, (int, float)) and not isinstance(node, bool):
            count += 1
            if count > max_fields:
                raise LimitExceeded(f"more than {max_fields} fields")
            name = named or key
            if name is not None and normalize_key(name) in numeric_keys:
                yield Leaf(path, name, str(node), numeric=True)
