"""Secrets by vendor format, by name and by shape: true cases, look-alikes, checksums, placeholders.

The recognizers are called directly (pure: text in, matches out); one test goes through the
engine to check that a JSON leaf named `client_secret` is found through its key.
"""

from __future__ import annotations

import base64
import json

import pytest

from core.model import Event
from detectors.secrets import (
    ApiKeyRecognizer,
    AuthTokenRecognizer,
    ContextSecretRecognizer,
    CredentialRecognizer,
    PrivateKeyRecognizer,
)
from detectors.secrets_validate import basic_auth_ok, github_checksum_ok, is_placeholder, jwt_ok

RECOGNIZERS = [ApiKeyRecognizer(), ContextSecretRecognizer(), AuthTokenRecognizer(), CredentialRecognizer(),
               PrivateKeyRecognizer()]
_B64 = lambda s: base64.urlsafe_b64encode(json.dumps(s).encode()).decode().rstrip("=")  # noqa: E731
JWT = _B64({"alg": "HS256", "typ": "JWT"}) + "." + _B64({"sub": "42", "iat": 1700000000}) + ".s1gN4tur3_Qx7Kp2Lm9"
PEM_BODY = "MIIEowIBAAKCAQEA7Jd9fQ2kX8vNn3pLz0aR5tYqWcUe1hB6iG4oM0sD2fK7jV9\nbT3xE5wQ8rZ1yC6uH2nA4gL0pS7kF9mD3vJ1eX8qR5tW2oY6iU0zB4cN7hG1aK3s\n"
PEM = "-----BEGIN RSA PRIVATE KEY-----\n" + PEM_BODY + "-----END RSA PRIVATE KEY-----"


def found(text: str) -> set[str]:
    return {text[r.start:r.end] for rec in RECOGNIZERS for r in rec.analyze(text, rec.supported_entities)}


TRUE_CASES = [
    # context: every syntax, the value's span only
    ('{"client_secret": "Zq8vX2mK9pL4tR7w"}', "Zq8vX2mK9pL4tR7w"),
    ("stripe_token: 'u7Yt5Rk2Pq9Lm3Nx'", "u7Yt5Rk2Pq9Lm3Nx"),
    ("login rejected (password:Xk9mQ2rTz7) for admin", "Xk9mQ2rTz7"),  # a value, not a module name, in brackets
    ("db: password=Xk9mQ2rTz7 host=db1", "Xk9mQ2rTz7"),  # a key after another key's colon is still a key
    ('export GITHUB_TOKEN="a8Fk2Lq9Zx7Pm3Vb6Nc"', "a8Fk2Lq9Zx7Pm3Vb6Nc"),
    ('apiKey := "d474e067c56058f015fcea2bffcc91d5"', "d474e067c56058f015fcea2bffcc91d5"),
    # a dotted value with a random part is no dotted name (a legacy Vault token)
    ('vaultToken := "s.AEFRUXwUzsZibnD1TzjrBC8a"', "s.AEFRUXwUzsZibnD1TzjrBC8a"),
    ("VAULT_TOKEN=s.Kq2ZxW8mNp4RtY7vLb9cDf3H", "s.Kq2ZxW8mNp4RtY7vLb9cDf3H"),
    ('var authToken string = "Qm9v7Kp2Xz4Lr8Tw"', "Qm9v7Kp2Xz4Lr8Tw"),
    ("$db_password = 'Pl4t0n!c-Sl33p';", "Pl4t0n!c-Sl33p"),
    ("'secret_key' => 'h7Gf5Ds3Aq1Zx9Cv'", "h7Gf5Ds3Aq1Zx9Cv"),
    ("X-Api-Key: 9f8e7d6c5b4a3f2e1d0c", "9f8e7d6c5b4a3f2e1d0c"),
    ("curl -H 'Authorization: Bearer Zx9Qw8Er7Ty6Ui5Op4' https://api.example.org", "Zx9Qw8Er7Ty6Ui5Op4"),
    ("mytool --token Kd8s7Fj2Lq0Zp4Xc https://x", "Kd8s7Fj2Lq0Zp4Xc"),
    ('<apiToken>  Rk2Pq9Lm3Nx8Vb7C </apiToken>', "Rk2Pq9Lm3Nx8Vb7C"),
    ('AWS_SECRET_ACCESS_KEY=Je7MtGbClwBF/2Zp9Utk/h3yCo8nvbEXaMpLeKeY', "Je7MtGbClwBF/2Zp9Utk/h3yCo8nvbEXaMpLeKeY"),
    ('auth=Tm5Kx8Zq2Lp7Vw4R', "Tm5Kx8Zq2Lp7Vw4R"),
    ('twitch_client = "hfgzxt4w20crta2blpuia7jw907guf"', "hfgzxt4w20crta2blpuia7jw907guf"),  # a keyed vendor shape
    # URLs of every scheme, curl -u, Basic auth (decoded)
    ("redis://:Xq7pL2vR9s@cache.internal:6379/0", "Xq7pL2vR9s"),
    ("mongodb+srv://app:S3cr3tPw0rd@cluster0.mongodb.net/db", "S3cr3tPw0rd"),
    ("amqp://guest:Gu3st-R4bb1t@mq:5672", "Gu3st-R4bb1t"),
    ("curl --user roger23@gmail.com:pQ9wTxu4Fg https://example.org", "pQ9wTxu4Fg"),
    ("Authorization: Basic " + base64.b64encode(b"svc:K9x!mP2q").decode(), base64.b64encode(b"svc:K9x!mP2q").decode()),
    # base64 padding (`...==`) is no `key=value` pair nested in the value
    ("Authorization: Basic " + base64.b64encode(b"svc:K9x!mP2qZ").decode(), base64.b64encode(b"svc:K9x!mP2qZ").decode()),
    ("Authorization: Basic " + base64.b64encode(b"svc:K9x!mP2qZa").decode(),
     base64.b64encode(b"svc:K9x!mP2qZa").decode()),
    # scheme-relative URLs where a value starts
    ("fetch //deploy:Tq7!rW2zKm@mirror.example.com/pkg", "Tq7!rW2zKm"),
    ('"url": "//svc:Xq7pL2vR9s@cdn.internal/a.js"', "Xq7pL2vR9s"),
    # vendor formats
    ("token glpat-Ab3dE6gH9jK2mN5pQ8sT", "glpat-Ab3dE6gH9jK2mN5pQ8sT"),
    ("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", "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"),  # valid CRC32
    ("shpat_" + "0a1b2c3d4e5f60718293a4b5c6d7e8f9", "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"),
    ("xoxb-1234567890-0987654321-AbCdEfGhIjKlMnOp", "xoxb-1234567890-0987654321-AbCdEfGhIjKlMnOp"),
    ("sk_live_51HqLyjWDarjtT1zdp7dcXs0m3th1ng", "sk_live_51HqLyjWDarjtT1zdp7dcXs0m3th1ng"),
    ("key " + JWT, JWT),
    (PEM, PEM),
]


@pytest.mark.parametrize("text,secret", TRUE_CASES)
def test_secret_is_found_with_its_value_span(text, secret):
    assert secret in found(text)


FALSE_CASES = [
    "ghp_M7H4jxUDDWHP4kZ6A4dxlQYsQIWJuq11T4V3",  # wrong CRC32
    "phc_Xq8vZ2mK9pL4tR7wYb3nC6dF1gH5jK0l",  # PostHog's public project key
    'token: "phc_Xq8vZ2mK9pL4tR7wYb3nC6dF1gH5jK0l"',
    "pk_live_j5krY8XTgIcDaHDb3YrsAfCl",  # Stripe publishable key
    "-----BEGIN RSA PRIVATE KEY----- -----END RSA PRIVATE KEY-----",  # empty PEM
    "-----BEGIN PRIVATE KEY----- super secret private key here -----END PRIVATE KEY-----",
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ.eyJzdWIiOiIxMjM0NTY3ODkwIn0.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV",  # bad header
    "csrftoken=Zq8vX2mK9pL4tR7wYb3n",
    "token = settings.AUTH_TOKEN_SECRET_VALUE",  # dotted names, however long their parts
    "authToken: config.secrets.githubTokenForCi",
    'csrf_token: "Zq8vX2mK9pL4tR7wYb3n"',
    "next_page_token=Zq8vX2mK9pL4tR7wYb3n",
    "password=${DB_PASSWORD}", "password=$PASSWORD", "password: {{ .Values.password }}", "token=<token>",
    "api_key=changeme", "api_key=your_api_key", "secret=****", "token=null", "token=true", 'api_key = ""',
    "token=xxxxxxxxxxxxxxxxxxxx", "password=aaaaaaaaaaaa", "password = getPassword()",
    "token: process.env.API_TOKEN", "token_url=https://auth.example.org/oauth/token",
    "aws_access_key_id: AKIAIOSFODNN7EXAMPLE",
    "curl -u username:password https://x", "curl --user '$USER:$PASS' https://x", "curl -u <user:password> https://x",
    "https://url:8000 @something else", "redis://cache.internal:6379",
    "see a//b:c@d and path/to//x:y@z", "// user:pw@host in a comment",
    "credentials: accessKeyId=Zq8vX2mK9pL4tR7wYb3n",  # another pair as the value
    "Authorization: Basic " + base64.b64encode(b"no-colon-here").decode(),
    "password = somefakekey", "secret_key = 1234567890abcdef1234567890abcdef1234567890abcdefextra",
    # a secret word as another key's value: `method=password` says how, `result=` is no password
    "auth: method=password result=failure user=svc_backup",
    "login type=token status=expired_session",
    # PAM's service and module in brackets qualify a line: nothing is assigned
    "sshd[4121]: pam_unix(passwd:chauthtok): password changed for maria",
    "sudo: pam_unix(passwd:sessionopen) session opened",
]


@pytest.mark.parametrize("text", FALSE_CASES)
def test_look_alike_is_not_a_secret(text):
    assert found(text) == set()


def test_github_checksum():
    assert github_checksum_ok("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")
    assert not github_checksum_ok("ghp_HEEjXavM6wKtyhAUwDblMznMEhWyTt4XwY6g")
    assert not github_checksum_ok("ghp_short")


def test_jwt_and_basic_decoding():
    assert jwt_ok(JWT)
    assert not jwt_ok("eyJAAAA.eyJBBB")
    assert basic_auth_ok(base64.b64encode(b"user:s3cr3t-pw").decode())
    assert not basic_auth_ok(base64.b64encode(b"user:").decode())
    assert not basic_auth_ok("not base64 at all!")


@pytest.mark.parametrize("value", ["${X}", "$X", "{{x}}", "<token>", "****", "xxxx", "null", "true", "", "aaaa",
                                   "changeme", "your_api_key", "%s", "[PASSWORD]"])
def test_placeholders(value):
    assert is_placeholder(value)


def test_json_leaf_is_found_through_its_key(engine):
    event = Event(source="case", event_id="1", origin="case",
                  payload={"client_secret": "Zq8vX2mK9pL4tR7wYb3n", "etsy_token": "d77we8pw6nklzzl4msl5bxld",
                           "token": "phc_Xq8vZ2mK9pL4tR7wYb3nC6dF1gH5jK0l"})
    findings = engine.scan([event]).findings
    assert {f.field_path for f in findings if f.entity_type in ("API_KEY", "AUTH_TOKEN")} == {
        "client_secret", "etsy_token"}


@pytest.mark.parametrize("key, value, secret", [
    ("Authorization", "Bearer 123abc456def789", "123abc456def789"),  # the scheme is no part of the secret
    ("Authorization", "Basic amRvZTpYazltUTJyVHo3", "amRvZTpYazltUTJyVHo3"),  # jdoe:Xk9mQ2rTz7
    ("api_key", "q8ZxK2mN9pL4", "q8ZxK2mN9pL4"),  # 12 characters are enough in a line: so in a field
    ("password", "hunter2", "hunter2"),
    ("Authorization", "Basic bm90IGEgcGFpcg==", None),  # `not a pair`: no user:password inside
    ("api_key", "undefined", None),
    ("auth_token", "Bearer ${TOKEN}", None),
    ("secret", "changeme", None),
])
def test_a_field_under_a_secret_key_reads_as_the_same_pair_in_a_line(engine, key, value, secret):
    """`{"Authorization": "Bearer v"}`, a Sentry header pair and `Authorization: Bearer v` in a log line
    report the same span (the key-hint and context paths share `value_under_secret_key`)."""
    def spans(payload):
        event = Event(source="case", event_id="1", origin="case", payload=payload)
        return {(f.entity_type in ("API_KEY", "AUTH_TOKEN", "CREDENTIAL"), f.start, f.end)
                for f in engine.scan([event]).findings}

    line = f"{key}: {value}"
    as_field, as_pair, in_line = spans({key: value}), spans({"headers": [[key, value]]}), spans({"m": line})
    if secret is None:
        assert as_field == as_pair == set() and not any(s for s, _, _ in in_line)
        return
    start = value.index(secret)
    assert as_field == as_pair == {(True, start, start + len(secret))}
    offset = len(key) + 2
    assert in_line == {(True, offset + start, offset + start + len(secret))}
