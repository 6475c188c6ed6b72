"""Secrets by context: a value assigned to, or stored under, a name that says secret.

Logs and configs name their secrets in every syntax: JSON `"client_secret": "v"`,
YAML `token: v`, env `DB_PASSWORD=v`, `export K="v"`, Go `k := "v"`, PHP
`$k = 'v';` and `'k' => 'v'`, make `K ?= v`, headers `X-Api-Key: v`,
`Authorization: Bearer v`, CLI flags `--token v`, XML `<apiToken>v</apiToken>`.
The scan is keyword-driven: each secret word found in the text is widened to
the whole key, and one anchored, bounded pattern reads the operator and the
value after it. Every step is bounded, so the work is linear in the text.

The name decides the entity (password -> CREDENTIAL, token/auth -> AUTH_TOKEN,
secret/api key -> API_KEY); the value must then look like a secret of that kind
(`secrets_validate`). Only the value's span is reported, never the key's.
"""

from __future__ import annotations

import re
from functools import lru_cache

from detectors.secrets_validate import (
    basic_auth_ok,
    has_repeated_block,
    is_placeholder,
    is_time_uuid,
    looks_fake,
    min_entropy_for,
    plausible_password,
    shannon_entropy,
)
from detectors.prefilter import SpanFinder
from detectors.secrets_vendors import keyed_match, vendor_formats

_KEY_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-$@")
_MAX_KEY = 100
_MAX_VALUE = 4096
_SECRET_WORDS = (r"pass|pwd|\bpw\b|_pw\b|secret|token|api.?key|auth|credential|creds|private.?key|access.?key"
                 r"|account.?key|master.?key|signing.?key|encryption.?key|license.?key|shared.?key|bearer|jwt")
_KEY_PARTS = re.compile(r"[A-Z]?[a-z]+|[A-Z]+(?![a-z])|\d+")
# after the key: its closing quote, the operator, the value's opening quote
_AFTER_KEY = re.compile(r"""(?P<kq>\\?["'])?\]?(?P<typ>[ \t]{1,4}[A-Za-z_][\w.*\[\]]{0,40})?[ \t]{0,8}"""
                        r"""(?P<op>={1,3}>?|!={1,2}|:{1,3}=|[?+.]=|=>|->|:|,|\()[ \t]{0,8}(?P<q>\\?["'`])?"""
                        r"""(?P<scheme>(?i:bearer|basic|token|api-token|digest)[ \t]{1,4})?""")
_FLAG_VALUE = re.compile(r"""[ \t]{1,4}(?P<q>["'])?""")  # `--token abc`, `--password 'abc'`
_SCHEME = re.compile(r"(?i:(bearer|basic|token|api-token|digest)[ \t]{1,4})")
# `accessKeyId=AKIA...`: another pair as the value, checked where the value starts (bounded, before the
# value is read: `token=token=token=...` must not read 4 KB per word); base64 padding (`...cQ==`) is no pair
_NESTED_PAIR = re.compile(r"[A-Za-z_]\w{0,40}=(?![=\s\"'`;,()<>\[\]{}&|\\]|$)")
# what a token value is not: a word or identifier, a number, a timestamp; a dotted name (`process.env.TOKEN`)
_WORD_NUMBER_OR_TIME = re.compile(r"[A-Za-z_.-]+|\d+|[\d.:TZ+-]+")
_DOTTED_IDENTIFIER = re.compile(r"[A-Za-z_$][\w$]*(?:\.[A-Za-z_$][\w$]*)+(?:\(\)|@[0-9a-f]{1,16})?")
_UNQUOTED = re.compile(r"[^\s\"'`;,()<>\[\]{}&|\\]{1,%d}" % _MAX_VALUE)

_PASSWORD_WORDS = frozenset({"password", "passwd", "pwd", "pass", "passphrase", "pw", "passwords"})
_TOKEN_WORDS = frozenset({"token", "tokens", "auth", "authorization", "bearer", "jwt"})
_KEY_WORDS = frozenset({"secret", "secrets", "credential", "credentials", "creds", "apikey"})
_KEY_COMPOUNDS = ("apikey", "accesskey", "secretkey", "privatekey", "accountkey", "masterkey", "signingkey",
                  "encryptionkey", "licensekey", "clientsecret", "sharedkey", "authkey")
# Words that make a secret-sounding key name something else: public keys, CSRF nonces, pagination cursors.
_DENY_WORDS = frozenset({"public", "publishable", "pub", "csrf", "xsrf", "page", "next", "cursor", "continuation",
                         "sync", "foreign", "primary", "not", "no", "is", "has", "use", "enable", "enabled", "show"})
# Last words of names that hold metadata about a secret, not the secret (`token_url`, `password_length`).
_META_LAST = frozenset({
    "id", "ids", "name", "names", "url", "uri", "urls", "endpoint", "path", "file", "filename", "dir", "length",
    "len", "size", "type", "types", "version", "format", "count", "expires", "expiry", "expiration", "ttl",
    "header", "prefix", "field", "param", "params", "policy", "mode", "provider", "scope", "scopes", "required",
    "status", "kind", "method", "label", "alg", "algorithm", "timeout", "limit", "region", "host", "port", "user",
    "username", "owner", "index", "hint", "reset", "hash", "rotation", "strength", "min", "max", "regex",
    "pattern", "style", "class", "placeholder", "template", "at", "on", "by", "env", "var", "location", "store",
    "vault", "manager", "service", "issuer", "audience", "error",
})


def key_words(key: str) -> list[str]:
    return [w.lower() for w in _KEY_PARTS.findall(key)]


def entity_for_key(words: list[str]) -> str | None:
    """The secret entity a key names, by its words (`DB_PASSWORD`, `authToken`, `client_secret`)."""
    joined = "".join(words)
    if not words or words[-1] in _META_LAST or any(w in _DENY_WORDS for w in words) or any(
            d in joined for d in ("csrf", "xsrf", "public")):
        return None
    if any(w in _PASSWORD_WORDS or "password" in w or "passwd" in w for w in words):
        return "CREDENTIAL"
    if any(w in _TOKEN_WORDS or w.endswith("token") for w in words):
        return "AUTH_TOKEN"
    if any(w in _KEY_WORDS or "secret" in w for w in words) or any(c in joined for c in _KEY_COMPOUNDS):
        return "API_KEY"
    return None


_NORMALIZED_SUFFIXES = (
    (("password", "passwd", "pwd", "passphrase"), "CREDENTIAL"),
    (("token", "tokens", "auth", "authorization", "bearer", "jwt"), "AUTH_TOKEN"),
    (("secret", "secrets", "apikey", "accesskey", "secretkey", "privatekey", "clientsecret", "credentials",
      "accountkey", "signingkey", "encryptionkey"), "API_KEY"),
)
_NORMALIZED_DENY = ("public", "publishable", "csrf", "xsrf", "page", "next", "cursor", "continuation", "sync")


def entity_for_normalized_key(key: str) -> str | None:
    """The secret entity of a key the engine has already normalized (`etsytoken`, `clientsecret`)."""
    if any(d in key for d in _NORMALIZED_DENY):
        return None
    for suffixes, entity in _NORMALIZED_SUFFIXES:
        if key.endswith(suffixes):
            return entity
    return None


def secret_value_ok(entity: str, value: str) -> bool:
    """Whether a whole value, named as `entity` by its key, is a secret of that kind."""
    if entity == "CREDENTIAL":
        return plausible_password(value) and not has_repeated_block(value)
    if entity == "PRIVATE_KEY":
        return False  # PEM blocks are the PEM recognizer's
    return token_value_ok(value)


def token_value_ok(value: str) -> bool:
    """A value that a token or key name vouches for: long, random enough, not a word, id or mask."""
    if not 10 <= len(value) <= _MAX_VALUE or any(c.isspace() for c in value):
        return False
    if is_placeholder(value) or looks_fake(value) or is_time_uuid(value) or has_repeated_block(value):
        return False
    if _WORD_NUMBER_OR_TIME.fullmatch(value) or value.startswith(("http:", "https:", "/", "-----")):
        return False  # a word or identifier, a number, a timestamp, a URL, a PEM block (its own recognizer)
    if _DOTTED_IDENTIFIER.fullmatch(value) and not any(map(_random_segment, value.split("."))):
        return False  # process.env.TOKEN, settings.SECRET_KEY, a Java object `android.os.BinderProxy@2bd79ce`
    return shannon_entropy(value) >= min_entropy_for(len(value))


def _random_segment(segment: str) -> bool:
    """A part of a dotted value no one names a thing by: 16+ letters and digits mixing upper and lower case
    and digits (a legacy Vault token `s.AEFRUXwUzsZibnD1TzjrBC8a`; not `settings.SECRET_KEY`, nor a Java
    object's `BinderProxy@2bd79ce`)."""
    return (len(segment) >= 16 and segment.isascii() and segment.isalnum() and any(c.isdigit() for c in segment)
            and any(c.isupper() for c in segment) and any(c.islower() for c in segment))


def _read_value(text: str, start: int, quote: str | None) -> tuple[int, int] | None:
    """The span of the value that starts at `start`; None where it is code (`getToken()`, `{...}`)."""
    if quote:
        end = text.find(quote, start, start + _MAX_VALUE + len(quote))
        if end < 0 or "\n" in text[start:end]:
            return None
        return start, end
    m = _UNQUOTED.match(text, start)
    end = m.end() if m else start
    if end < len(text) and text[end] in "([{":
        return None  # a call or an expression, not a literal
    return (start, end) if end > start else None


def _value_after_key(text: str, kstart: int, kend: int) -> tuple[int, int] | None:
    """Operator and value after a key, in any of the assignment syntaxes."""
    if kstart > 0 and text[kstart - 1] == "<" and text.startswith(">", kend):  # <apiToken>  v  </apiToken>
        vs = kend + 1
        while vs < len(text) and vs < kend + 64 and text[vs].isspace():
            vs += 1
        span = _read_value(text, vs, None)
        return span
    m = _AFTER_KEY.match(text, kend)
    if m and m.group("typ") and m.group("op") not in ("=", ":="):
        m = None  # `credentials loaded: ...` is prose; only `var token string = "..."` has a type before `=`
    if m and not (m.group("op") == "," and not m.group("kq")) and not (m.group("op") == "(" and not m.group("q")):
        if not m.group("q") and not m.group("scheme") and _NESTED_PAIR.match(text, m.end()):
            return None  # `credentials: accessKeyId=...`: the value is another pair
        span = _read_value(text, m.end(), m.group("q"))
        if span and m.group("scheme") and m.group("scheme").strip().lower() == "basic":
            return span if basic_auth_ok(text[span[0]:span[1]]) else None
        return span
    if text.startswith("-", kstart):  # --token abc
        m = _FLAG_VALUE.match(text, kend)
        if m:
            return _read_value(text, m.end(), m.group("q"))
    return None


def value_under_secret_key(entity: str, value: str) -> tuple[str, int, int] | None:
    """(entity, start, end) of the secret in a whole value stored under a key naming `entity`
    (`{"Authorization": "Bearer v"}`, `[["api_key", "v"]]`), or None: the reading `key: value` gets in
    text, so a header pair and the same header in a log line agree. A scheme (`Bearer `, `Token `) is
    no part of the secret; a `Basic ` one must decode to `user:password`."""
    start = 0
    scheme = _SCHEME.match(value)
    if scheme:
        start = scheme.end()
        if scheme.group(1).lower() == "basic":
            return ("AUTH_TOKEN", start, len(value)) if basic_auth_ok(value[start:]) else None
    rest = value[start:]
    if not rest or is_placeholder(rest):
        return None
    return (entity, start, len(value)) if secret_value_ok(entity, rest) else None


def _classify(words: list[str], text: str, vs: int, ve: int) -> tuple[str, int, int] | None:
    """The secret in `text[vs:ve]`, the value of a key of `words`: a vendor's shape under its name, else
    what `value_under_secret_key` reads under the entity the words name."""
    value = text[vs:ve]
    scheme = _SCHEME.match(value)  # a quoted `"Bearer v"`
    basic = scheme is not None and scheme.group(1).lower() == "basic"
    start = scheme.end() if scheme else 0
    rest = value[start:]
    if not basic and rest and not is_placeholder(rest) and keyed_match(words, rest):
        return ("API_KEY", vs + start, ve) if shannon_entropy(rest) >= 1.5 else None
    entity = "AUTH_TOKEN" if basic else entity_for_key(words)
    found = value_under_secret_key(entity, value) if entity is not None else None
    return (found[0], vs + found[1], vs + found[2]) if found else None


_VALUE_OF_KEY = re.compile(r"[A-Za-z_][\w.-]{0,40}[ \t]?[=:][ \t]?[\"']?\Z")


_OPERATOR_NEXT = re.compile(r"[\"']?[ \t]{0,2}(?:[=:]|\()")


def _is_a_value(text: str, kstart: int, kend: int) -> bool:
    """The word at `kstart` is written as the value of a key just before it (`method=password result=...`,
    `auth_type: token`), not as a key of its own: no operator follows it (`db: password=...` is a key)."""
    return (kstart > 0 and text[kstart - 1] in "=:\"' \t" and not _OPERATOR_NEXT.match(text, kend)
            and _VALUE_OF_KEY.search(text, max(0, kstart - 48), kstart) is not None)


_IDENTIFIER_WORD = re.compile(r"[a-z][a-z_]*")


def _qualifier_pair(text: str, kstart: int, span: tuple[int, int]) -> bool:
    """`pam_unix(passwd:chauthtok)`, `(sshd:auth)`: a service and a module named inside brackets, with no space
    around the colon and a lower-case identifier after it, qualify a log line; nothing is assigned."""
    vs, ve = span
    return (kstart > 0 and text[kstart - 1] in "([" and text[vs - 1:vs] == ":" and text[ve:ve + 1] in (")", "]")
            and _IDENTIFIER_WORD.fullmatch(text, vs, ve) is not None)


@lru_cache(maxsize=1)
def context_trigger() -> re.Pattern[str]:
    """Secret words and the vendor names of keyed formats: the registry's gate and the scanner's search."""
    _, keyed = vendor_formats()
    vendor_words = sorted({k for f in keyed for k in f.raw_keys if len(k) >= 3}, key=lambda w: (-len(w), w))
    loose = [r"[_.-]{0,2}".join(map(re.escape, re.split(r"[_.-]+", w))) for w in vendor_words]
    return re.compile(r"(?i:" + _SECRET_WORDS + "|" + "|".join(loose) + ")")


@lru_cache(maxsize=1)
def _trigger_spans() -> SpanFinder:
    return SpanFinder(context_trigger())  # the same matches; `re` alone took 300 us for a log line


class ContextScanner:
    """Finds values under secret-naming keys; gated by secret words and the vendor names of keyed formats."""

    def __init__(self) -> None:
        self.trigger = context_trigger()

    def find(self, text: str) -> list[tuple[str, int, int]]:
        found: list[tuple[str, int, int]] = []
        done_until = -1
        for hit in _trigger_spans().finditer(text):
            if hit.start() < done_until:
                continue
            kstart, kend = hit.start(), hit.end()
            while kstart > 0 and hit.start() - kstart < _MAX_KEY and text[kstart - 1] in _KEY_CHARS:
                kstart -= 1
            while kend < len(text) and kend - hit.end() < _MAX_KEY and text[kend] in _KEY_CHARS:
                kend += 1
            done_until = kend
            key = text[kstart:kend].lstrip("$@-.").rstrip(".-")
            if not key or _is_a_value(text, kstart, kend):
                continue  # `method=password result=failure`: the secret word is another key's value
            span = _value_after_key(text, kstart, kstart + len(text[kstart:kend].rstrip(".-")))
            if span is None:
                continue
            done_until = max(done_until, span[1])  # a value is read once, even when it is refused
            if _qualifier_pair(text, kstart, span):
                continue
            words = key_words(key)
            if not words:
                continue
            hit_value = _classify(words, text, *span)
            if hit_value:
                found.append(hit_value)
                done_until = max(done_until, hit_value[2])
        return found

