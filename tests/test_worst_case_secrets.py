"""Worst cases for the secret recognizers: 1 MB adversarial inputs, each under a generous budget.

A quadratic pattern (a lazy body retried from every BEGIN line) took 7.8 s on 40 KB of PEM
headers; linear finders take well under a second per megabyte. The budget is wide (10 s; about 3 s is the slowest today) so a
busy 2-core machine does not make the test flaky, and still far below what quadratic work costs.
"""

from __future__ import annotations

import time

import pytest

from detectors.secrets import (
    ApiKeyRecognizer,
    AuthTokenRecognizer,
    ContextSecretRecognizer,
    CredentialRecognizer,
    PrivateKeyRecognizer,
)

BUDGET_SECONDS = 10.0
MB = 1_000_000
RECOGNIZERS = [ApiKeyRecognizer(), ContextSecretRecognizer(), AuthTokenRecognizer(), CredentialRecognizer(),
               PrivateKeyRecognizer()]


def _repeat(unit: str) -> str:
    return unit * (MB // len(unit))


ADVERSARIAL = {
    "pem BEGIN lines": _repeat("-----BEGIN RSA PRIVATE KEY-----\n"),
    "pem BEGIN with base64, no END": "-----BEGIN PRIVATE KEY-----\n" + _repeat("QUJDREVGR0hJSktMTU5PUFFSU1RVVldY\n"),
    "token= with no value": _repeat("token="),
    "password: with no value": _repeat('"password": '),
    "long base64 run": _repeat("aGVsbG8gd29ybGQgdGhpcyBpcyBiYXNlNjQ"),
    "a:a@ repeated": "redis://" + _repeat("a:a@"),
    "url schemes with userinfo": _repeat("x://a:b@"),
    "curl -u repeated": "curl" + _repeat(" -u a:"),
    "eyJ dots": _repeat("eyJhbGciOi."),
    "vendor prefixes": _repeat("ghp_glpat-xoxb-sk_live_"),
    "bearer repeated": _repeat("Bearer "),
}


@pytest.mark.parametrize("name", list(ADVERSARIAL))
def test_adversarial_megabyte_is_linear(name):
    text = ADVERSARIAL[name]
    for rec in RECOGNIZERS:
        t0 = time.perf_counter()
        rec.analyze(text, rec.supported_entities)
        elapsed = time.perf_counter() - t0
        assert elapsed < BUDGET_SECONDS, f"{rec.name} took {elapsed:.1f}s on 1 MB of {name}"


def test_repeated_pem_headers_find_no_key():
    assert PrivateKeyRecognizer().analyze(ADVERSARIAL["pem BEGIN lines"], ["PRIVATE_KEY"]) == []
