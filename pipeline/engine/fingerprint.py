"""Keyed fingerprints and masked previews: how a finding refers to a value without holding it.

A fingerprint is HMAC-SHA256 over the normalized value with a key the user
controls, so the same email seen in Vercel, Sentry and Segment joins to one
person, while nobody without the key can confirm a guess. Previews keep only the
shape an analyst needs (`j***@g****.com`, `***-**-6789`), never enough to rebuild
the value.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import re
import secrets
import tempfile
import time
from pathlib import Path

from core.text import digits_only

log = logging.getLogger("phiscan")

KEY_ENV = "PHISCAN_FINGERPRINT_KEY"
KEY_FILE = ".phiscan-key"

_SPACES = re.compile(r"\s+")
_SECRETS = frozenset({"API_KEY", "AUTH_TOKEN", "CREDENTIAL", "PRIVATE_KEY"})
_DIGIT_TYPES = frozenset({"US_SSN", "CREDIT_CARD", "PHONE_NUMBER", "US_NPI"})


_ALNUM = re.compile(r"[A-Za-z0-9]")


def resolve_key(configured: str | None, out_dir: Path | None) -> bytes:
    """The fingerprint key: env var, then config, then a 0600 key file under `out_dir`.

    A generated key is written once (O_EXCL, mode 0600) and reused by later scans
    into the same directory so fingerprints stay comparable across runs.
    """
    env = os.environ.get(KEY_ENV)
    if env:
        return env.encode()
    if configured:
        return configured.encode()
    if out_dir is None:
        raise ValueError(f"no fingerprint key: set {KEY_ENV} or fingerprint.key in the config")
    path = Path(out_dir) / KEY_FILE
    if path.exists():
        return _read_key(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_hex(32).encode()
    # Written whole under a temporary name, then linked into place: the key file appears complete or
    # not at all, so a second consumer starting at the same moment never reads it half written.
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".phiscan-key-")  # mode 0600
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(key)
            fh.flush()
            os.fsync(fh.fileno())
        try:
            os.link(tmp, path)
        except FileExistsError:  # another worker won the race: use its key
            return _read_key(path)
        except OSError:  # a file system without hard links: create it exclusively instead
            try:
                excl = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            except FileExistsError:
                return _read_key(path)
            with os.fdopen(excl, "wb") as fh:
                fh.write(key)
    finally:
        os.unlink(tmp)
    log.warning("generated a fingerprint key at %s (mode 0600); set %s to choose your own", path, KEY_ENV)
    return key


def _read_key(path: Path) -> bytes:
    """The key in a key file; an empty one (written by an older version still writing it) is waited for."""
    for _ in range(100):
        key = path.read_bytes().strip()
        if key:
            return key
        time.sleep(0.02)
    return key


def normalize(entity_type: str, value: str) -> str:
    """The canonical form of a value, so trivially different spellings fingerprint alike."""
    value = value.strip()
    if entity_type in _DIGIT_TYPES:
        digits = digits_only(value)
        if entity_type == "PHONE_NUMBER" and len(digits) == 11 and digits.startswith("1"):
            digits = digits[1:]
        return digits or value
    if entity_type in _SECRETS:
        return value
    return _SPACES.sub(" ", value.casefold())


class Fingerprinter:
    """HMAC-SHA256 fingerprints with one key; the key is never exposed."""

    __slots__ = ("_base",)

    def __init__(self, key: bytes):
        if not key:
            raise ValueError("fingerprint key is empty")
        self._base = hmac.new(key, digestmod=hashlib.sha256)  # keyed once, copied per value

    def __repr__(self) -> str:
        return "Fingerprinter(<key hidden>)"

    def __call__(self, entity_type: str, value: str) -> str:
        h = self._base.copy()
        h.update(normalize(entity_type, value).encode("utf-8", "surrogatepass"))
        return h.hexdigest()


def _mask_word(word: str) -> str:
    return word[:1] + "*" * (len(word) - 1) if word else word


def _mask_keep_last(value: str, keep: int) -> str:
    """Digits and letters become `*` except the last `keep` alphanumerics; separators stay."""
    total = sum(ch.isalnum() for ch in value)
    keep = min(keep, max(0, total - 4))  # never reveal more than total-4 characters
    seen = 0
    out = []
    for ch in value:
        if ch.isalnum():
            seen += 1
            out.append(ch if seen > total - keep else "*")
        else:
            out.append(ch)
    return "".join(out)


def _mask_email(value: str) -> str:
    local, _, domain = value.partition("@")
    labels = domain.split(".")
    if len(labels) > 1:
        masked_domain = ".".join([_mask_word(x) for x in labels[:-1]] + [labels[-1]])
    else:
        masked_domain = _mask_word(domain)
    return f"{local[:1]}***@{masked_domain}"


def preview(entity_type: str, value: str, limit: int = 40) -> str:
    """A masked preview of `value` for analysts; never the value itself."""
    value = value.strip()
    if entity_type == "EMAIL_ADDRESS" and "@" in value:
        out = _mask_email(value)
    elif entity_type in ("US_SSN", "CREDIT_CARD"):
        out = _mask_keep_last(value, 4)
    elif entity_type in ("PHONE_NUMBER", "MEDICAL_RECORD_NUMBER", "HEALTH_PLAN_ID", "US_NPI", "US_DEA"):
        out = _mask_keep_last(value, 2)
    elif entity_type == "IP_ADDRESS":
        sep = ":" if ":" in value else "."
        parts = value.split(sep)
        out = sep.join([parts[0]] + ["*" for _ in parts[1:]])
    elif entity_type == "DATE_OF_BIRTH":
        out = _ALNUM.sub("*", value)
    elif entity_type in _SECRETS:
        head = value[:4] if len(value) >= 20 else ""
        out = f"{head}…[{len(value)} chars]"
    else:
        out = " ".join(_mask_word(w) for w in value.split())
    if len(out) > limit:
        out = out[: limit - 1] + "…"
    if len(value) >= 4 and value in out:  # belt and braces: a preview never contains the value
        out = "*" * min(len(value), limit)
    return out
