"""Decoded views of a raw string, each mapping its characters back to the raw string.

Secrets and PHI in telemetry hide behind encodings: `jane.doe%40gmail.com` in a
query string, `{"dob":"1984-03-12"}` inside a `console.log` line, `ssn=...` in a
logfmt message. Detectors see the decoded text; a `View` remembers, for every
decoded character, which raw characters produced it, so a finding's `start`/`end`
always index the raw string at its field path and cover the encoded text.

Views also carry the key that names the value (`dob`, `email`, a query parameter
name), which the key-hint detector and Presidio's context use.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

import orjson

from core.paths import LimitExceeded

# Past these, a value is not decoded further: the event is reported as a bad record (quarantined by
# `scrub`), never scanned half-way. JSON nesting inside one string, and views of one field value.
MAX_JSON_DEPTH = 32

_PCT = re.compile(r"%[0-9A-Fa-f]{2}")
_JSON_STRING = re.compile(r'"(?:[^"\\]|\\.)*"', re.S)
_FORM = re.compile(r"^[\w.\-\[\]$]+=[^&\s]*(?:&[\w.\-\[\]$]+=[^&\s]*)+$")
# one `name=value` pair is a form body too when it is a whole decoded value (`{"cookie":"email=j%40x.io"}`)
_ONE_PAIR = re.compile(r"^[\w.\-\[\]$]+=[^&\s=%]*%[0-9A-Fa-f]{2}[^&\s=]*$")
# URL paths in text (`/api/users/jane@x.com/records`), and the segments of them worth a view
_PATH = re.compile(r"(?:(?<=[\s\"'(=])|^)(?:[a-z][a-z0-9+.-]{1,15}://[^/\s?#\"']{1,255})?(/[^\s?#\"'<>]{1,2048})")
_SEGMENT_WORTH = re.compile(r"[@%]|\d{4}")
_NOT_SEGMENT = re.compile(r"[:=]")  # `host:port`, `key=value`: another view's business
# a slug of two to four lower-case words, maybe with a date or number after (`maria-gonzalez`,
# `john-smith-1984-03-12`), in the segment after one that names people (`/patients/<slug>/chart`)
_NAME_SLUG = re.compile(r"([a-z]{2,20}(?:[-_.][a-z]{2,20}){1,3})(?:[-_.]\d[\d-]*)?")
_PEOPLE_SEGMENTS = frozenset("patient patients user users member members customer customers people person persons "
                             "profile profiles provider providers doctor doctors clinician clinicians".split())
# key: 'value' (node util.inspect), key="value", key=value (logfmt), "key": value
_KV = re.compile(
    r"""(?<![\w$])["']?([A-Za-z_$][\w$.\-]{0,48})["']?\s*[:=](?!//)\s*"""
    r"""(?:'([^'\n]{1,256})'|"([^"\n]{1,256})"|([^\s,;&'"{}()\[\]<>]{1,256}))"""
)
_ESCAPES = {'"': '"', "\\": "\\", "/": "/", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t"}


@dataclass(slots=True, unsafe_hash=True)  # not frozen: see VALUE in core/model.py
class View:
    """A text for detectors plus the map from its characters to raw-string spans.

    Either `base` alone (the view is `raw[base:base+len(text)]`), or `starts`/`ends`
    giving, for each view character i, the raw span [starts[i], ends[i]).
    """

    text: str
    key: str | None
    base: int = 0
    starts: tuple[int, ...] | None = None
    ends: tuple[int, ...] | None = None
    kind: str = "raw"

    def raw_span(self, start: int, end: int) -> tuple[int, int]:
        """The raw span covering view characters [start, end)."""
        if self.starts is None:
            return self.base + start, self.base + end
        end = max(end, start + 1)
        return self.starts[start], self.ends[end - 1]

    def _child(self, text: str, key: str | None, kind: str, base: int = 0,
               starts: list[int] | None = None, ends: list[int] | None = None) -> View:
        """A view of `text` whose offsets are given relative to this view."""
        if starts is None:
            if self.starts is None:
                return View(text, key, self.base + base, kind=kind)
            sl = slice(base, base + len(text))
            return View(text, key, 0, self.starts[sl], self.ends[sl], kind)
        assert ends is not None
        if self.starts is None:
            b = self.base
            return View(text, key, 0, tuple(b + s for s in starts), tuple(b + e for e in ends), kind)
        ps, pe = self.starts, self.ends
        return View(text, key, 0, tuple(ps[s] for s in starts), tuple(pe[e - 1] for e in ends), kind)


_PCT_RUN = re.compile(r"(?:%[0-9A-Fa-f]{2})+")
_PCT_RUN_PLUS = re.compile(r"(?:%[0-9A-Fa-f]{2})+|\+")


def percent_decode(text: str, plus_as_space: bool) -> tuple[str, list[int], list[int]]:
    """URL-decode `text`, returning the decoded string and each char's source span.

    ASCII text (nearly every URL and query string) is copied a stretch at a time between
    escapes; only the escapes are decoded byte by byte. Other text goes char by char.
    """
    if not text.isascii():
        return _percent_decode_chars(text, plus_as_space)
    out: list[str] = []
    starts: list[int] = []
    ends: list[int] = []
    pos = 0
    for m in (_PCT_RUN_PLUS if plus_as_space else _PCT_RUN).finditer(text):
        a, b = m.span()
        if a > pos:
            out.append(text[pos:a])
            starts.extend(range(pos, a))
            ends.extend(range(pos + 1, a + 1))
        if text[a] == "+":
            out.append(" ")
            starts.append(a)
            ends.append(a + 1)
        else:
            _decode_units([(int(text[i + 1:i + 3], 16), i, i + 3) for i in range(a, b, 3)], out, starts, ends)
        pos = b
    if pos < len(text):
        out.append(text[pos:])
        starts.extend(range(pos, len(text)))
        ends.extend(range(pos + 1, len(text) + 1))
    return "".join(out), starts, ends


def _percent_decode_chars(text: str, plus_as_space: bool) -> tuple[str, list[int], list[int]]:
    """`percent_decode` one char at a time (text that is not ASCII: lone surrogates decode as Python does)."""
    units: list[tuple[int, int, int]] = []  # (byte, raw start, raw end)
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch == "%" and i + 2 < n + 0 and _PCT.match(text, i):
            units.append((int(text[i + 1 : i + 3], 16), i, i + 3))
            i += 3
            continue
        if ch == "+" and plus_as_space:
            units.append((0x20, i, i + 1))
        else:
            for b in ch.encode("utf-8", "surrogatepass"):
                units.append((b, i, i + 1))
        i += 1
    out: list[str] = []
    starts: list[int] = []
    ends: list[int] = []
    _decode_units(units, out, starts, ends)
    return "".join(out), starts, ends


def _decode_units(units: list[tuple[int, int, int]], out: list[str], starts: list[int], ends: list[int]) -> None:
    """UTF-8 decode (byte, raw start, raw end) units into chars and their spans (bad bytes: U+FFFD)."""
    j, m = 0, len(units)
    while j < m:
        b = units[j][0]
        size = 1 if b < 0x80 else 2 if b >> 5 == 0b110 else 3 if b >> 4 == 0b1110 else 4 if b >> 3 == 0b11110 else 1
        chunk = bytes(u[0] for u in units[j : j + size])
        try:
            ch = chunk.decode("utf-8")
        except UnicodeDecodeError:
            ch, size = "\ufffd", 1
        out.append(ch)
        starts.append(units[j][1])
        ends.append(units[min(j + size, m) - 1][2])
        j += size


def _decode_json_literal(lit: str) -> tuple[str, list[int], list[int]]:
    """Decode a JSON string literal (with quotes) mapping chars to spans inside `lit`."""
    out: list[str] = []
    starts: list[int] = []
    ends: list[int] = []
    i, n = 1, len(lit) - 1
    while i < n:
        ch = lit[i]
        if ch == "\\" and i + 1 < n:
            nxt = lit[i + 1]
            if nxt == "u" and i + 5 < n + 1:
                try:
                    out.append(chr(int(lit[i + 2 : i + 6], 16)))
                except ValueError:
                    out.append("\ufffd")
                starts.append(i)
                ends.append(i + 6)
                i += 6
                continue
            out.append(_ESCAPES.get(nxt, nxt))
            starts.append(i)
            ends.append(i + 2)
            i += 2
            continue
        out.append(ch)
        starts.append(i)
        ends.append(i + 1)
        i += 1
    return "".join(out), starts, ends


def _json_spans(text: str) -> Iterator[tuple[int, int]]:
    """Where a JSON object or array embedded in `text` may start and end: first `{` to last `}`, then `[`/`]`."""
    for opener, closer in (("{", "}"), ("[", "]")):
        start = text.find(opener)
        end = text.rfind(closer)
        if 0 <= start < end:
            yield start, end + 1


def _json_leaf_views(parent: View, start: int, end: int, depth: int) -> list[View] | None:
    """Views of each string value of the JSON at parent.text[start:end], keyed by its key."""
    chunk = parent.text[start:end]
    try:
        doc = orjson.loads(chunk)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(doc, (dict, list)):
        return None
    tokens = [(m.start(), m.end()) for m in _JSON_STRING.finditer(chunk)]
    out: list[View] = []
    pos = 0

    def take() -> tuple[int, int]:
        nonlocal pos
        tok = tokens[pos]
        pos += 1
        return tok

    def walk(node: object, key: str | None, d: int) -> None:
        if d > MAX_JSON_DEPTH:
            raise LimitExceeded(f"JSON inside a string nested deeper than {MAX_JSON_DEPTH}")
        if isinstance(node, dict):
            for k, v in node.items():
                take()
                walk(v, k, d + 1)
        elif isinstance(node, list):
            for v in node:
                walk(v, key, d + 1)
        elif isinstance(node, str):
            s, e = take()
            lit = chunk[s:e]
            if "\\" not in lit:
                out.append(parent._child(lit[1:-1], key, "json", base=start + s + 1))
            else:
                text, st, en = _decode_json_literal(lit)
                off = start + s
                out.append(parent._child(text, key, "json", starts=[off + x for x in st],
                                         ends=[off + x for x in en]))

    try:
        walk(doc, None, depth)
    except IndexError:
        return None
    if pos != len(tokens):  # duplicate keys or odd input: alignment is not trustworthy
        return None
    return out


def _query_views(parent: View) -> list[View]:
    """Views of each query/form parameter value, URL-decoded and keyed by its name."""
    text = parent.text
    q = text.find("?")
    if q >= 0:
        body_start = q + 1
    elif _FORM.match(text) or (parent.kind == "json" and _ONE_PAIR.match(text)):
        body_start = 0
    else:
        return []
    hash_at = text.find("#", body_start)
    body_end = hash_at if hash_at >= 0 else len(text)
    out: list[View] = []
    pos = body_start
    for part in text[body_start:body_end].split("&"):
        eq = part.find("=")
        if eq > 0 and eq < len(part) - 1:
            name = percent_decode(part[:eq], True)[0]
            vstart = pos + eq + 1
            raw_value = part[eq + 1 :]
            if "%" in raw_value or "+" in raw_value:
                val, st, en = percent_decode(raw_value, True)
                out.append(parent._child(val, name, "query", starts=[vstart + s for s in st],
                                         ends=[vstart + e for e in en]))
            else:
                out.append(parent._child(raw_value, name, "query", base=vstart))
        pos += len(part) + 1
    return out


def _path_views(parent: View) -> list[View]:
    """Views of URL path segments that can hold a value (`jane@x.com`, `MRN-00482913`, `1984-03-12`),
    keyed by the segment before them (`/patients/mrn/00482913` -> `mrn`). Detectors see one segment,
    so an email is not swallowed into `api/users/jane@x.com` and then rejected for its slashes."""
    out: list[View] = []
    for m in _PATH.finditer(parent.text):
        path, pos = m.group(1), m.start(1)
        segments = path.split("/")
        if len(segments) < 3:
            continue
        prev = parent.key
        for seg in segments:
            if seg and _SEGMENT_WORTH.search(seg) and len(seg) < len(parent.text) and not _NOT_SEGMENT.search(seg):
                out.append(parent._child(seg, prev, "path", base=pos))
            slug = _slug_view(parent, seg, prev, pos)
            if slug is not None:
                out.append(slug)
            if seg.isalpha():
                prev = seg
            pos += len(seg) + 1
    return out


def _slug_view(parent: View, text: str, key: str | None, base: int) -> View | None:
    """`parent.text[base:base+len(text)]` written as a name (`maria-gonzalez` -> `Maria Gonzalez`; same
    length, so offsets map as they are) where `key`, the segment before it, names people; else None."""
    slug = _NAME_SLUG.fullmatch(text) if key and key.lower() in _PEOPLE_SEGMENTS else None
    if slug is None:
        return None
    words = slug.group(1).replace("_", "-").replace(".", "-").split("-")
    return parent._child(" ".join(w.capitalize() for w in words), key, "path", base=base)


def _kv_views(parent: View) -> list[View]:
    """Views of `key: 'value'` / `key=value` pairs in free text, keyed by their key."""
    out: list[View] = []
    for m in _KV.finditer(parent.text):
        if m.group(4) is not None and ":" in m.group(4) and parent.text[m.end(1):m.start(4)] in (":", '":', "':"):
            continue  # `text2001:db8::1`, `host:8080:x`: colons inside one token are no key/value pair
        if m.group(4) is not None and "@" in m.group(4) and parent.text.endswith("//", 0, m.start(1)):
            continue  # `https://user:password@host`: a URL's user info, no pair (`password@host` is no email)
        for g in (2, 3, 4):
            if m.group(g) is not None:
                out.append(parent._child(m.group(g), m.group(1), "kv", base=m.start(g)))
                break
    return out


def expand(raw: str, key: str | None, *, max_depth: int = 2, max_views: int = 256) -> list[View]:
    """The raw view of `raw` plus every decoded view found within it, recursively.

    Raises `LimitExceeded` past `max_views` views or `MAX_JSON_DEPTH` nesting: a value decoded only
    in part would pass unscanned. The work is linear in the text per level (each view is a slice or
    a decoding of its parent, found by single-pass regexes).
    """
    root = View(raw, key)
    views = [root]
    frontier = [root]
    for depth in range(max_depth):
        nxt: list[View] = []
        for v in frontier:
            nxt.extend(_derive(v, depth))
        if not nxt:
            break
        if len(views) + len(nxt) > max_views:
            raise LimitExceeded(f"more than {max_views} decoded views in one field")
        views.extend(nxt)
        frontier = nxt
    return views


def _derive(v: View, depth: int) -> Iterator[View]:
    text = v.text
    if len(text) < 3:
        return
    derived_json = False
    if v.kind == "raw" and ("-" in text or "_" in text):  # a route's segment after `/patients/`, keyed by it
        slug = _slug_view(v, text, v.key, 0)
        if slug is not None:
            yield slug
    if "{" in text or "[" in text:
        for start, end in _json_spans(text):
            leaves = _json_leaf_views(v, start, end, depth)
            if leaves is not None:
                derived_json = True
                yield from leaves
                break
    query = _query_views(v) if "=" in text else []
    yield from query
    if "/" in text and v.kind != "path":
        yield from _path_views(v)
    if "%" in text and _PCT.search(text):
        decoded, st, en = percent_decode(text, "?" in text or "=" in text)
        if decoded != text:
            yield v._child(decoded, v.key, "urldecoded", starts=st, ends=en)
    if not derived_json and not query and (":" in text or "=" in text) and v.kind in ("raw", "json", "urldecoded"):
        yield from _kv_views(v)
