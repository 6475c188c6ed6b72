"""Checks that tell a secret from a placeholder, a name or a look-alike: entropy, checksums, decodings.

Every check here is pure and bounded (it looks at one candidate value, never the
whole text), so the recognizers that call them stay linear in their input.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import re
import zlib
from collections import Counter

_DOTTED_NAME = re.compile(r"[A-Za-z_$][\w$]*(?:\.[A-Za-z_$][\w$]*)+")
# Whole-value templates and variables: `${DB_PASSWORD}`, `$TOKEN`, `{{ .Values.pw }}`, `<token>`, `%s`, `[PASSWORD]`.
_TEMPLATE = re.compile(r"\$\{[^}]{0,200}\}|\$\(.{0,200}\)|\$[A-Za-z_]\w*|\$\d+|\{\{.{0,200}\}\}"
                       r"|\{[A-Za-z_.\s-]{1,100}\}|<[^<>]{0,200}>|%[-+ #0]?[sdqvx]|%\([\w]+\)s|%[A-Za-z_]+%|\[[^\]]{0,100}\]|@[A-Za-z_]+@", re.S)
_PLACEHOLDER_WORDS = frozenset({
    "", "null", "nil", "none", "undefined", "true", "false", "yes", "no", "on", "off", "required", "optional",
    "invalid", "redacted", "filtered", "hidden", "masked", "secret", "secrets", "password", "passwd", "pass", "pwd",
    "token", "apikey", "api_key", "changeme", "changeit", "letmein", "default", "test", "testing", "admin",
    "root", "user", "username", "string", "value", "example", "sample", "dummy", "placeholder", "notset", "empty",
})
# Marks of documentation and test values in generic (name-vouched) values, as detect-secrets' filters use.
_FAKE_MARKERS = ("example", "fake", "dummy", "sample", "placeholder", "changeme", "your_", "your-", "yourkey",
                 "insert", "replace_me", "replaceme", "todo", "notreal", "not_real", "redacted")
_MASK_RUN = re.compile(r"(?i:x{4,})|\*{3,}|•{3,}|\.{3,}|_{5,}|#{4,}")
_PUBLIC_PREFIXES = ("phc_", "pk_live_", "pk_test_", "pk.eyJ")  # PostHog project keys, Stripe/Mapbox publishable keys
_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-([0-9a-fA-F])[0-9a-fA-F]{3}-[89abAB][0-9a-fA-F]{3}-[0-9a-fA-F]{12}")
_BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


_NAME_LIKE = re.compile(r"[a-z]+(?:[_-][a-z]+)+|[a-z]+(?:[A-Z][a-z]+)+|[A-Z]+(?:_[A-Z]+)+")  # `user_password`

def shannon_entropy(value: str) -> float:
    if not value:
        return 0.0
    counts = Counter(value)
    n = len(value)
    return -sum(c / n * math.log2(c / n) for c in counts.values())


def min_entropy_for(length: int, ceiling: float = 3.0) -> float:
    """Shannon entropy a random value of this length reaches easily (short values cannot reach 3 bits)."""
    return min(ceiling, math.log2(max(length, 2)) * 0.8)


def is_template(value: str) -> bool:
    return bool(_TEMPLATE.fullmatch(value.strip()))


def is_masked(value: str) -> bool:
    """`xxxx`, `****`, `…`: a value someone already hid, or a documentation stand-in."""
    return bool(_MASK_RUN.search(value)) or len(set(value)) <= 1


def is_public_key(value: str) -> bool:
    """Keys that vendors publish by design (PostHog `phc_`, Stripe and Mapbox publishable keys)."""
    return value.startswith(_PUBLIC_PREFIXES)


def has_repeated_block(value: str, block: int = 8) -> bool:
    """Mostly repeats of itself (`abcd1234abcd1234…`): under 60% distinct 8-grams, which random values never are."""
    grams = len(value) - block + 1
    if grams < 8:
        return False
    return len({value[i:i + block] for i in range(grams)}) < 0.6 * grams


def is_time_uuid(value: str) -> bool:
    """A version-1 (time and MAC) UUID identifies, it does not authenticate."""
    m = _UUID.fullmatch(value)
    return bool(m) and m.group(1) == "1"


def is_placeholder(value: str) -> bool:
    """Values that fill a secret's slot without being one: empty, templates, masks, stock words."""
    v = value.strip().strip("'\"`")
    low = v.lower()
    return (low in _PLACEHOLDER_WORDS or is_template(v) or is_masked(v) or "EXAMPLE" in v
            or low.startswith(("your", "my_", "insert", "enter")) or is_public_key(v))


def looks_fake(value: str) -> bool:
    low = value.lower()
    return any(m in low for m in _FAKE_MARKERS)


def looks_random(value: str, min_len: int = 16, min_entropy: float = 3.0) -> bool:
    """A token-like value: long enough, mixed, random; not a word, path, name, mask or known-public key."""
    if len(value) < min_len or value.startswith(("[", "<", "$", "{", "/", "~")):
        return False
    if sum(c.isdigit() for c in value) < 2 or not any(c.isalpha() for c in value):
        return False
    if _DOTTED_NAME.fullmatch(value):  # android.os.BinderProxy, com.example.Service
        return False
    if is_placeholder(value) or looks_fake(value) or has_repeated_block(value) or is_time_uuid(value):
        return False
    return shannon_entropy(value) >= min_entropy


def plausible_password(value: str) -> bool:
    """A password named as such: not a placeholder, a path, an identifier or a code expression."""
    v = value.strip()
    if len(v) < 6 or len(v) > 256 or any(c.isspace() for c in v) or is_placeholder(v) or looks_fake(v):
        return False
    if v.startswith(("/", "~", "./", "$", "%", "{", "<", "[")) or _DOTTED_NAME.fullmatch(v):
        return False
    if _NAME_LIKE.fullmatch(v):
        return False  # `user_password`, `newPassword`, `DB_PASSWORD`: a name, not a value
    return shannon_entropy(v) >= 2.0


def github_checksum_ok(token: str) -> bool:
    """GitHub's `gh?_` tokens end in 6 base62 digits of the CRC32 of the 30 random characters before them."""
    body = token.split("_", 1)[1] if "_" in token else ""
    if len(body) != 36:
        return False
    n = zlib.crc32(body[:30].encode())
    digits = ""
    while n:
        n, r = divmod(n, 62)
        digits = _BASE62[r] + digits
    return digits.rjust(6, "0") == body[30:]


def _b64url_json(part: str) -> object | None:
    try:
        raw = base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))
        return json.loads(raw.decode("utf-8"))
    except (binascii.Error, ValueError, UnicodeDecodeError):
        return None


def jwt_ok(token: str) -> bool:
    """A JWT decodes: a JSON header with `alg` (or `typ`), a JSON payload, an optional signature."""
    parts = token.split(".")
    if len(parts) not in (2, 3) or len(token) > 16_384:
        return False
    header = _b64url_json(parts[0])
    if not isinstance(header, dict) or not ({"alg", "typ"} & header.keys()):
        return False
    return isinstance(_b64url_json(parts[1]), dict)


def basic_auth_ok(encoded: str) -> bool:
    """`Basic` credentials decode to `user:password` with a real password."""
    try:
        decoded = base64.b64decode(encoded + "=" * (-len(encoded) % 4), validate=True).decode("utf-8")
    except (binascii.Error, ValueError, UnicodeDecodeError):
        return False
    user, sep, password = decoded.partition(":")
    return bool(sep) and decoded.isprintable() and len(password) >= 3 and not is_placeholder(password)


_PEM_NOISE = re.compile(r"\\[nr]|\s|^[\w-]+:.*$", re.M)  # literal `\n` in JSON strings, whitespace, `Proc-Type:` headers
_BASE64_BODY = re.compile(r"[A-Za-z0-9+/=]+")


def pem_body_ok(body: str, min_chars: int = 64) -> bool:
    """A PEM body of base64 of a plausible length (an empty or prose body is a mention, not a key)."""
    cleaned = _PEM_NOISE.sub("", body)
    return len(cleaned) >= min_chars and bool(_BASE64_BODY.fullmatch(cleaned)) and not is_masked(cleaned)
