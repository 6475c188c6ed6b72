"""Secret recognizers: vendor formats, values under secret names, URL and curl credentials, tokens, PEM keys.

The finders live beside this module (`secrets_vendors`, `secrets_context`,
`secrets_validate`) as pure functions over a text; here they become Presidio
recognizers with one entity vocabulary (API_KEY, AUTH_TOKEN, CREDENTIAL,
PRIVATE_KEY). Every finder is linear in its input: literal gates, bounded
quantifiers, and two-step scans (find BEGIN, then the END after it) instead of
patterns that run to a far terminator from every start.
"""

from __future__ import annotations

import bisect
import re

import regex

from presidio_analyzer import AnalysisExplanation, EntityRecognizer, RecognizerResult

from detectors.base import remove_duplicates
from detectors.secrets_context import ContextScanner
from detectors.secrets_validate import (  # noqa: F401  (re-exported: key hints use looks_random)
    is_placeholder,
    is_template,
    looks_random,
    pem_body_ok,
    shannon_entropy,
)
from detectors.secrets_vendors import find_prefixed

SECRET_ENTITIES = ["API_KEY", "AUTH_TOKEN", "CREDENTIAL", "PRIVATE_KEY"]


class SecretFinderRecognizer(EntityRecognizer):
    """A Presidio recognizer around a pure finder: `find(text) -> [(entity, start, end)]`."""

    ENTITIES: list[str] = SECRET_ENTITIES
    CONTEXT: list[str] = ["key", "secret", "token", "password", "credential"]
    SCORE = 0.95

    def __init__(self) -> None:
        super().__init__(supported_entities=list(self.ENTITIES), name=type(self).__name__, context=self.CONTEXT)

    def load(self) -> None:  # Presidio's hook; nothing to load
        pass

    def find(self, text: str) -> list[tuple[str, int, int]]:
        raise NotImplementedError

    def analyze(self, text, entities, nlp_artifacts=None):
        meta = {RecognizerResult.RECOGNIZER_NAME_KEY: self.name, RecognizerResult.RECOGNIZER_IDENTIFIER_KEY: self.id}
        out = []
        for entity, start, end in self.find(text):
            if end > start and (not entities or entity in entities):
                explanation = AnalysisExplanation(recognizer=self.name, original_score=self.SCORE)
                out.append(RecognizerResult(entity, start, end, self.SCORE, explanation, dict(meta)))
        return remove_duplicates(out)


class ApiKeyRecognizer(SecretFinderRecognizer):
    """Vendor tokens by documented format, checksum and entropy (`data/secret_vendors.yaml`)."""

    def find(self, text):
        return [(entity, start, end) for entity, start, end, _ in find_prefixed(text)]


class ContextSecretRecognizer(SecretFinderRecognizer):
    """Values assigned to names that say secret, in the syntaxes of logs and configs."""

    SCORE = 0.9

    def __init__(self) -> None:
        super().__init__()
        self._scanner = ContextScanner()

    def find(self, text):
        return self._scanner.find(text)


_SESSION_COOKIE = regex.compile(
    r"(?i:(?<=\b(?:session|sessionid|session_id|sid|connect\.sid|__session|jsessionid|phpsessid|"
    r"(?:__Secure-|__Host-)?(?:next-auth|authjs)\.session-token|sb-access-token|sb-refresh-token|"
    r"access_token|refresh_token|id_token|auth_token)=))[^;\s\"'&,]{16,4096}")
_BEARER = regex.compile(r"(?i:(?<=\bbearer[ \t]{1,3}))[A-Za-z0-9._~+/=-]{16,4096}")


class AuthTokenRecognizer(SecretFinderRecognizer):
    """Bearer tokens and session cookies; JWTs and vendor tokens are `ApiKeyRecognizer`'s formats."""

    ENTITIES = ["AUTH_TOKEN"]
    SCORE = 0.85

    def find(self, text):
        out = []
        for rx in (_BEARER, _SESSION_COOKIE):
            for m in rx.finditer(text):
                value = m.group(0)
                if not is_placeholder(value) and shannon_entropy(value) >= 3.0:
                    out.append(("AUTH_TOKEN", m.start(), m.end()))
        return out


# `scheme://`, or a scheme-relative `//` where a value starts (`fetch //user:pw@host`, `"//u:p@h"`)
_URL_START = re.compile(r"\b[a-zA-Z][a-zA-Z0-9+.-]{1,20}://|(?:^|(?<=[\s\"'=(<,]))//(?=[^/\s])")
_AUTHORITY_END = frozenset("/?#\"'`<>\\ \t\r\n,;)")
_HOST = re.compile(r"[A-Za-z0-9._-]{1,253}(?::\d{1,5})?")
_CURL_USER = re.compile(r"(?:^|\s)(?:-u|--user)(?:=|[ \t]{1,5})")
_CURL_PLACEHOLDERS = frozenset({"pass", "password", "pwd", "test", "token", "changeme", "changeit", "secret"})


def _url_passwords(text: str):
    """`scheme://user:password@host`: the password, in every scheme (`redis://:pw@`, `mongodb+srv://`)."""
    for m in _URL_START.finditer(text):
        start = m.end()
        end = start
        limit = min(len(text), start + 512)
        while end < limit and text[end] not in _AUTHORITY_END:
            end += 1
        at = text.rfind("@", start, end)
        colon = text.find(":", start, at) if at > 0 else -1
        if colon < 0 or not _HOST.fullmatch(text, at + 1, end):
            continue
        password = text[colon + 1:at]
        if len(password) >= 3 and not is_placeholder(password):
            yield "CREDENTIAL", colon + 1, at


def _read_shell_word(text: str, start: int) -> int:
    """End of one shell word from `start`: quoted parts may hold spaces (bounded)."""
    end, limit, quote = start, min(len(text), start + 1024), None
    while end < limit:
        c = text[end]
        if quote:
            quote = None if c == quote else quote
        elif c in "\"'":
            quote = c
        elif c.isspace():
            break
        end += 1
    return end


def _curl_passwords(text: str):
    """`curl -u user:password` and `--user "user:password"`: the password part."""
    first = text.find("curl")
    if first < 0:
        return
    for m in _CURL_USER.finditer(text, first):
        end = _read_shell_word(text, m.end())
        if is_template(text[m.end():end].strip("\"'")):
            continue  # `-u <user:password>`
        colon = text.find(":", m.end(), end)
        if colon < 0:
            continue
        ps, pe = colon + 1, end
        while ps < pe and text[ps] in "\"'":
            ps += 1
        while pe > ps and text[pe - 1] in "\"'":
            pe -= 1
        password = text[ps:pe]
        if (len(password) >= 3 and not is_placeholder(password) and password.lower() not in _CURL_PLACEHOLDERS
                and not password.startswith(("$", "{{", "<", "[")) and shannon_entropy(password) >= 2.0):
            yield "CREDENTIAL", ps, pe


class CredentialRecognizer(SecretFinderRecognizer):
    """Passwords in URLs of every scheme and in curl's `-u user:password`."""

    ENTITIES = ["CREDENTIAL"]

    def find(self, text):
        return list(_url_passwords(text)) + list(_curl_passwords(text))


_PEM_BEGIN = re.compile(r"-----BEGIN ((?:[A-Z0-9]{1,20} ){0,4})PRIVATE KEY(?: BLOCK)?-----")
_PEM_END = re.compile(r"-----END (?:[A-Z0-9]{1,20} ){0,4}PRIVATE KEY(?: BLOCK)?-----")
_PEM_ANY_BEGIN = "-----BEGIN "
_MAX_PEM_BODY = 16_384
_PEM_BODY_RUN = re.compile(r"(?:\\[nr]|[\sA-Za-z0-9+/=]){0,16384}")


class PrivateKeyRecognizer(SecretFinderRecognizer):
    """PEM private keys in two steps: each BEGIN, then the first END after it and before the next BEGIN.

    Bodies never overlap (a body stops at the next BEGIN), so the work is linear
    even for megabytes of BEGIN lines. A block counts when its body is base64 of
    a plausible length; a truncated key (no END) counts by the base64 after BEGIN.
    """

    ENTITIES = ["PRIVATE_KEY"]
    SCORE = 1.0

    def find(self, text):
        end_spans = {m.start(): m.end() for m in _PEM_END.finditer(text)}
        ends = sorted(end_spans)
        out = []
        for m in _PEM_BEGIN.finditer(text):
            body_start = m.end()
            next_begin = text.find(_PEM_ANY_BEGIN, body_start, body_start + _MAX_PEM_BODY)
            limit = next_begin if next_begin >= 0 else min(len(text), body_start + _MAX_PEM_BODY)
            i = bisect.bisect_left(ends, body_start)
            if i < len(ends) and ends[i] <= limit:
                if pem_body_ok(text[body_start:ends[i]]):
                    out.append(("PRIVATE_KEY", m.start(), end_spans[ends[i]]))
            else:  # truncated in the log: the key is out all the same if enough of its body is
                run = _PEM_BODY_RUN.match(text, body_start, limit)
                if run and pem_body_ok(run.group(0), min_chars=256):
                    out.append(("PRIVATE_KEY", m.start(), run.end()))
        return out
