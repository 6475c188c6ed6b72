"""Vendor secret formats from `data/secret_vendors.yaml`: prefixed tokens, checksums, and vendor-named keys.

A prefixed format (`ghp_`, `glpat-`, `xoxb-`, `sk_live_`...) is recognizable on its own,
so it is matched anywhere, then checked (GitHub's CRC32, a JWT's JSON header,
a minimum entropy) and refused when it is a mask or a documentation value.
Each format runs only when one of its literal keywords is in the text, so a log
line pays for the few families it can hold, not for all of them. Every pattern
has bounded quantifiers and a fixed prefix: the work is linear in the text.

Keyed formats (`twitch...= <30 alnum>`) are vendor names in a key with the
vendor's value shape; `secrets_context` applies them to the key/value pairs it parses.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cached_property, lru_cache
from pathlib import Path

import ahocorasick
import regex
import yaml

from detectors.secrets_validate import github_checksum_ok, is_placeholder, jwt_ok, shannon_entropy

DATA_FILE = Path(__file__).parent / "data" / "secret_vendors.yaml"
_LEFT = r"(?<![A-Za-z0-9_])"
# `token ghp_…`, `githubToken = "ghp_…"`: a name that vouches for a token whose checksum fails
_NAMED_BEFORE = re.compile(r"(?i:token|key|secret|pat|password)[\s\"'`:=]{1,6}$")
_NOT_ALNUM = re.compile(r"[^a-z0-9]")
_RIGHT = r"(?![A-Za-z0-9_]|\.[A-Za-z0-9])"  # not inside a longer word, nor a file name (`x.ico-….png`)


@dataclass(frozen=True)
class PrefixedFormat:
    id: str
    entity: str
    keywords: tuple[str, ...]
    source: str  # the pattern, compiled the first time a keyword or gate lets it run
    check: str
    gate: re.Pattern | None = None  # a case-sensitive gate for formats whose keyword is too common (`SK`, `M`)

    @cached_property
    def pattern(self) -> regex.Pattern:
        return regex.compile(self.source)

    def valid(self, token: str) -> bool:
        if is_placeholder(token):
            return False
        if self.check == "github_crc32":
            return github_checksum_ok(token)
        if self.check == "jwt":
            return jwt_ok(token)
        bits = float(self.check.split(":", 1)[1]) if self.check.startswith("entropy:") else 2.5
        return shannon_entropy(token) >= bits


@dataclass(frozen=True)
class KeyedFormat:
    keys: tuple[str, ...]  # normalized (lower case, no separators)
    value_source: str
    raw_keys: tuple[str, ...] = ()  # as written, for the trigger

    @cached_property
    def value(self) -> regex.Pattern:
        return regex.compile(r"(?i:" + self.value_source + ")")


def _compile_prefixed(entry: dict) -> PrefixedFormat:
    pattern = entry["pattern"]
    left = "" if pattern.startswith("(?<") else _LEFT
    return PrefixedFormat(
        id=entry["id"], entity=entry.get("entity", "API_KEY"),
        keywords=tuple(k.lower() for k in entry["keywords"]),
        source=left + "(?:" + pattern + ")" + _RIGHT,
        check=entry.get("check", "entropy:2.5"),
        gate=re.compile(entry["gate"]) if entry.get("gate") else None,
    )


@lru_cache(maxsize=1)
def vendor_formats() -> tuple[tuple[PrefixedFormat, ...], tuple[KeyedFormat, ...]]:
    # libyaml where PyYAML has it: the pure-Python loader took 0.2 s of every start-up here
    data = yaml.load(DATA_FILE.read_text(encoding="utf-8"), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    prefixed = tuple(_compile_prefixed(e) for e in data["prefixed"])
    keyed = tuple(KeyedFormat(keys=tuple(normalize_key(k) for k in e["keys"]),
                              value_source=e["value"],
                              raw_keys=tuple(k.lower() for k in e["keys"]))
                  for e in data["keyed"])
    return prefixed, keyed


def normalize_key(key: str) -> str:
    return _NOT_ALNUM.sub("", key.lower())


def trigger_pattern() -> str:
    """One case-insensitive alternation of every prefixed format's keywords (the registry's gate)."""
    prefixed, _ = vendor_formats()
    words = sorted({k for f in prefixed if f.gate is None for k in f.keywords}, key=lambda w: (-len(w), w))
    gates = [f.gate.pattern for f in prefixed if f.gate is not None]
    return "(?i:" + "|".join(re.escape(w) for w in words) + ")|" + "|".join(gates)


def _word_index(words_of: Iterable[tuple[int, Iterable[str]]]) -> ahocorasick.Automaton:
    """An Aho-Corasick automaton of words -> (the word, the indexes of the formats that list it)."""
    opens: dict[str, list[int]] = {}
    for i, words in words_of:
        for w in words:
            opens.setdefault(w, []).append(i)
    auto = ahocorasick.Automaton()
    for w, idxs in opens.items():
        auto.add_word(w, (w, tuple(idxs)))
    auto.make_automaton()
    return auto


@lru_cache(maxsize=1)
def _keyword_automaton() -> ahocorasick.Automaton:
    """Every keyword of the formats without a gate -> the formats it opens."""
    return _word_index((i, f.keywords) for i, f in enumerate(vendor_formats()[0]) if f.gate is None)


def _formats_in(text: str) -> list[PrefixedFormat]:
    """The formats a text can hold, in file order: a keyword of theirs is in it, or their gate matches.

    One Aho-Corasick pass over the lower-cased text finds every keyword, overlapping ones too;
    testing each format's keywords with `in` was 95,000 substring searches for 1,000 texts.
    """
    prefixed, _ = vendor_formats()
    opened = {i for _, (_, idxs) in _keyword_automaton().iter(text.lower()) for i in idxs}
    opened.update(i for i, fmt in _gated() if fmt.gate.search(text))
    return [prefixed[i] for i in sorted(opened)]


@lru_cache(maxsize=1)
def _gated() -> tuple[tuple[int, PrefixedFormat], ...]:
    return tuple((i, fmt) for i, fmt in enumerate(vendor_formats()[0]) if fmt.gate is not None)


def find_prefixed(text: str) -> list[tuple[str, int, int, str]]:
    """(entity, start, end, format id) of every valid vendor token in `text`."""
    found: list[tuple[str, int, int, str]] = []
    for fmt in _formats_in(text):
        for m in fmt.pattern.finditer(text):
            token = m.group(0)
            named = _NAMED_BEFORE.search(text, max(0, m.start() - 24), m.start()) is not None
            if fmt.check == "named":  # published public keys share the shape: only a vouching name makes it one
                ok = named and not is_placeholder(token) and shannon_entropy(token) >= 3.0
            else:
                ok = fmt.valid(token) or (fmt.check == "github_crc32" and not is_placeholder(token) and named)
            if ok:
                found.append((fmt.entity, m.start(), m.end(), fmt.id))
    return found


def keyed_match(key_words: list[str], value: str) -> bool:
    """The key names a vendor (a vendor word starts one of its words) and the value has that vendor's shape."""
    _, keyed = vendor_formats()
    joined = "".join(key_words)
    starts = set()
    ends = set()
    pos = 0
    for w in key_words:
        starts.add(pos)
        pos += len(w)
        ends.add(pos)
    # the vendors the key names first (one Aho-Corasick pass), then only their value shapes: trying
    # all 71 shapes' regexes before looking at the key cost 70 us a key/value pair
    named: set[int] = set()
    for last, (k, idxs) in _key_automaton().iter(joined):
        i = last - len(k) + 1
        # it starts a word, and either ends inside that word or exactly at a later word's end
        word_end = min(e for e in ends if e > i)
        if i in starts and (i + len(k) <= word_end or (i + len(k)) in ends):
            named.update(idxs)
    return any(keyed[i].value.fullmatch(value) for i in sorted(named))


@lru_cache(maxsize=1)
def _key_automaton() -> ahocorasick.Automaton:
    """Every normalized vendor key of the keyed formats -> its formats."""
    return _word_index(enumerate(f.keys for f in vendor_formats()[1]))
