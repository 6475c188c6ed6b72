"""Writes `scrubber_style_cases.jsonl`: our own cases of the idioms Sentry Relay's PII scrubber covers.

Relay's builtin rules (@ip, @email, @creditcard, @pemkey, @urlauth, @usssn, @password keys, bearer
tokens) and its legacy data scrubbing (sensitive keys, cookies, query strings) name the shapes; the
strings here are ours, every value drawn at random from a fixed seed (none is anyone's real secret).
Run `python -m tests.data.gen_scrubber_cases` to regenerate (or give an output path); the test
reads the committed file and checks that it is what this script writes.
"""

from __future__ import annotations

import base64
import json
import random
import sys
import string
from pathlib import Path

OUT = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).with_name("scrubber_style_cases.jsonl")
rng = random.Random(20261202)
B62 = string.ascii_letters + string.digits


def tok(n: int, alphabet: str = B62) -> str:
    return "".join(rng.choice(alphabet) for _ in range(n))


def password() -> str:
    return tok(4, string.ascii_lowercase) + rng.choice("!#%^*_") + tok(3, string.digits) + tok(4, string.ascii_letters)


def url_password() -> str:
    """A password as it stands in a URL's user info: unreserved and sub-delimiter characters only."""
    return tok(4, string.ascii_lowercase) + rng.choice("!$*~._-") + tok(3, string.digits) + tok(4, string.ascii_letters)


def pem_body(n_bytes: int, width: int = 64, sep: str = "\n") -> str:
    raw = base64.b64encode(bytes(rng.randrange(256) for _ in range(n_bytes))).decode()
    return sep.join(raw[i:i + width] for i in range(0, len(raw), width))


def luhn_complete(prefix: str, length: int) -> str:
    digits = prefix + "".join(rng.choice(string.digits) for _ in range(length - len(prefix) - 1))
    for check in string.digits:
        cand = digits + check
        total = 0
        for i, ch in enumerate(reversed(cand)):
            n = int(ch) * (2 if i % 2 else 1)
            total += n - 9 if n > 9 else n
        if total % 10 == 0:
            return cand
    raise AssertionError


def ssn() -> str:
    area = rng.choice([n for n in range(1, 900) if n != 666])
    return f"{area:03d}-{rng.randrange(1, 100):02d}-{rng.randrange(1, 10000):04d}"


cases: list[dict] = []


def case(tag: str, text: str, *values: tuple[str, str], note: str = "") -> None:
    """A labelled case: each (type, value) must be found where the value first occurs after the last one."""
    expect, pos = [], 0
    for typ, value in values:
        start = text.index(value, pos)
        expect.append({"type": typ, "start": start, "end": start + len(value)})
        pos = start + len(value)
    cases.append({"source": "scrubber-style", "text": text, "expect": expect, "tags": [tag], "note": note or tag})


def negative(tag: str, text: str, neg_type: str = "ANY", note: str = "") -> None:
    cases.append({"source": "scrubber-style", "text": text, "expect": [], "neg_type": neg_type, "tags": [tag],
                  "note": note or tag})


# -- PEM private keys of every kind, with a real-looking body, in the layouts logs carry them ------------
for kind, nbytes in (("RSA ", 1190), ("EC ", 121), ("DSA ", 440), ("", 1217), ("ENCRYPTED ", 1300),
                     ("OPENSSH ", 400)):
    body = pem_body(nbytes, 70 if kind == "OPENSSH " else 64)
    block = f"-----BEGIN {kind}PRIVATE KEY-----\n{body}\n-----END {kind}PRIVATE KEY-----"
    case("pemkey", f"deploy note: the key I used\n\n    {block}\n", ("PRIVATE_KEY", block), note=f"pem {kind}multi-line")
    crlf = block.replace("\n", "\r\n")
    case("pemkey", f"{crlf}\r\n", ("PRIVATE_KEY", crlf), note=f"pem {kind}CRLF")
    escaped = json.dumps(block)[1:-1]  # a key inside a JSON string: `\n` escapes, as a raw log line holds it
    case("pemkey", '{"level":"error","config":{"tls_key":"' + escaped + '"}}', ("PRIVATE_KEY", escaped),
         note=f"pem {kind}JSON-escaped")
pgp = ("-----BEGIN PGP PRIVATE KEY BLOCK-----\nVersion: GnuPG v2\n\n" + pem_body(900)
       + "\n=" + tok(4) + "\n-----END PGP PRIVATE KEY BLOCK-----")
case("pemkey", pgp, ("PRIVATE_KEY", pgp), note="pgp private key block")
one_line = "-----BEGIN PRIVATE KEY----- " + pem_body(600, 10_000) + " -----END PRIVATE KEY-----"
case("pemkey", f"key={one_line}", ("PRIVATE_KEY", one_line), note="pem on one line, spaces for newlines")
negative("pemkey", "-----BEGIN PUBLIC KEY-----\n" + pem_body(270) + "\n-----END PUBLIC KEY-----", "PRIVATE_KEY",
         note="a public key is no secret")
negative("pemkey", "-----BEGIN RSA PRIVATE KEY-----\n...\n-----END RSA PRIVATE KEY-----", "PRIVATE_KEY",
         note="an elided key")
negative("pemkey", "-----BEGIN CERTIFICATE-----\n" + pem_body(800) + "\n-----END CERTIFICATE-----", "PRIVATE_KEY",
         note="a certificate")

# -- credentials in URLs, every scheme ---------------------------------------------------------------
for scheme, host in (("https", "api.example.com/v1/"), ("http", "10.2.3.4:8080/admin"), ("ftp", "files.example.org/"),
                     ("sftp", "backup.example.net:22/"), ("redis", "cache.internal:6379/0"),
                     ("rediss", "cache.example.com:6380"), ("amqp", "mq.internal:5672/vhost"),
                     ("amqps", "broker.example.com/"), ("mongodb", "db1.example.com:27017/app"),
                     ("mongodb+srv", "cluster0.abcde.mongodb.net/test?retryWrites=true"),
                     ("postgres", "pg.internal:5432/app"), ("postgresql", "db.example.com/app?sslmode=require"),
                     ("mysql", "127.0.0.1:3306/shop"), ("smtp", "mail.example.com:587"),
                     ("ldap", "ldap.example.com/dc=example"), ("git+https", "git.example.com/org/repo.git"),
                     ("ssh", "host.example.com")):
    user, pw = rng.choice(["admin", "svc_app", "jane.doe", "deploy", "u1"]), url_password()
    url = f"{scheme}://{user}:{pw}@{host}"
    case("urlauth", f"connecting to {url} failed: timeout", ("CREDENTIAL", pw), note=f"url auth {scheme}")
pw = url_password()
case("urlauth", f'"dsn": "redis://:{pw}@redis-master:6379"', ("CREDENTIAL", pw), note="url auth, password only")
pw = url_password()
case("urlauth", f"fetch //deploy:{pw}@mirror.example.com/pkg", ("CREDENTIAL", pw), note="scheme-relative url auth")
pw = tok(5, string.ascii_lowercase) + "%40" + tok(6)
case("urlauth", f"proxy=http://user:{pw}@proxy.corp:3128", ("CREDENTIAL", pw), note="percent-encoded password")
negative("urlauth", "see https://example.com/users/@jane and mailto:jane@example.com", "CREDENTIAL",
         note="an @ in a path, a mailto")
negative("urlauth", "git clone git@github.com:org/repo.git", "CREDENTIAL", note="ssh user, no password")

# -- password-named keys, in every syntax -----------------------------------------------------------------
for key, typ in (("password", "CREDENTIAL"), ("passwd", "CREDENTIAL"), ("mysql_pwd", "CREDENTIAL"),
                 ("new_password", "CREDENTIAL"), ("a_password_here", "CREDENTIAL"), ("secret", "API_KEY"),
                 ("the_secret", "API_KEY"), ("client_secret", "API_KEY"), ("api_key", "API_KEY"),
                 ("apikey", "API_KEY"), ("apiKey", "API_KEY"), ("private_key", "API_KEY"), ("privateKey", "API_KEY"),
                 ("credentials", "API_KEY"), ("auth", "AUTH_TOKEN"), ("access_token", "AUTH_TOKEN"),
                 ("refresh_token", "AUTH_TOKEN"), ("X-Auth-Token", "AUTH_TOKEN")):
    value = password() if typ == "CREDENTIAL" else tok(32)
    case("password-key", json.dumps({"user": "jane", key: value}), (typ, value), note=f"JSON key {key}")
    value = url_password() if typ == "CREDENTIAL" else tok(32)
    case("password-key", f"GET /login?user=jane&{key}={value}&next=/home HTTP/1.1", (typ, value),
         note=f"query string {key}")
    value = password() if typ == "CREDENTIAL" else tok(32)
    case("password-key", f"{key}: {value}", (typ, value), note=f"yaml/header {key}")
for key in ("password", "secret", "session", "sessionid", "auth_token", "sid"):
    value = tok(32)
    typ = "API_KEY" if key == "secret" else ("CREDENTIAL" if key == "password" else "AUTH_TOKEN")
    case("cookie", f"Cookie: theme=dark; {key}={value}; lang=en", (typ, value), note=f"cookie {key}")
value = tok(40)
case("cookie", json.dumps({"headers": {"Cookie": f"foo=bar; sessionid={value}"}}), ("AUTH_TOKEN", value),
     note="cookie header in JSON")
value = tok(36, B62 + "-_")
case("header", f"Authorization: Bearer {value}", ("AUTH_TOKEN", value), note="bearer header")
value = tok(36, B62 + "-_.")
case("header", json.dumps({"headers": {"authorization": f"Bearer {value}"}}), ("AUTH_TOKEN", value),
     note="bearer in JSON headers")
value = tok(40)
case("header", f"upstream said: invalid token Bearer {value} for tenant 4", ("AUTH_TOKEN", value),
     note="bearer in prose")
basic = base64.b64encode(f"svc:{password()}".encode()).decode()
case("header", f"Authorization: Basic {basic}", ("AUTH_TOKEN", basic), note="basic header")
value = tok(40)
case("header", f"X-Api-Key: {value}", ("API_KEY", value), note="api key header")
value = tok(40)
case("header", f"Proxy-Authorization: Bearer {value}", ("AUTH_TOKEN", value), note="proxy bearer header")
negative("password-key", json.dumps({"password": "[Filtered]", "api_key": "********", "token": None}), "SECRET",
         note="already scrubbed values")
negative("password-key", "password_reset_url=https://example.com/reset&password_length=12", "SECRET",
         note="metadata about a password")
negative("password-key", "Cookie: csrftoken=" + tok(32) + "; theme=dark", "SECRET", note="a csrf cookie")
negative("password-key", "the password was wrong, please try again", "SECRET", note="the word in prose")

# -- SSNs in the shapes Relay masks ---------------------------------------------------------------------------
for template in ("Hi I'm {n} and my SSN is {s}", "ssn={s}", "{{\"ssn\": \"{s}\"}}", "SSN: {s} (verified)",
                 "social security number {s}", "applicant ssn {s}, dob on file"):
    s = ssn()
    case("usssn", template.format(n=rng.choice(["Hilda", "Ravi", "Noor"]), s=s), ("US_SSN", s), note="ssn " + template)
s = ssn()
case("usssn", f"my social security number is {s.replace('-', '')}", ("US_SSN", s.replace("-", "")),
     note="ssn unseparated, labelled")
s = ssn()
case("usssn", f"SSN {s.replace('-', ' ')}", ("US_SSN", s.replace("-", " ")), note="ssn spaced, labelled")
negative("usssn", "order 000-12-3456 shipped", "US_SSN", note="area 000 is never issued")
negative("usssn", "build 666-12-3456", "US_SSN", note="area 666 is never issued")

# -- cards with separators ---------------------------------------------------------------------------------------
for prefix, length, groups in (("4", 16, (4, 4, 4, 4)), ("51", 16, (4, 4, 4, 4)), ("2221", 16, (4, 4, 4, 4)),
                               ("37", 15, (4, 6, 5)), ("6011", 16, (4, 4, 4, 4)), ("65", 16, (4, 4, 4, 4)),
                               ("36", 14, (4, 6, 4)), ("35", 16, (4, 4, 4, 4))):
    number = luhn_complete(prefix, length)
    for sep in ("", " ", "-"):
        parts, pos = [], 0
        for g in groups:
            parts.append(number[pos:pos + g])
            pos += g
        printed = sep.join(parts)
        case("creditcard", f"John Appleseed {printed}!", ("CREDIT_CARD", printed), note=f"card {prefix} sep {sep!r}")
number = luhn_complete("4", 16)
case("creditcard", json.dumps({"payment": {"card_number": number, "exp": "09/29"}}), ("CREDIT_CARD", number),
     note="card in JSON")
bad = luhn_complete("4", 16)
bad = bad[:-1] + str((int(bad[-1]) + 1) % 10)
negative("creditcard", f"card {bad} declined", "CREDIT_CARD", note="Luhn fails")
negative("creditcard", "ts=1718000000000000 span=4111", "CREDIT_CARD", note="an epoch in microseconds")

# -- IPv4 / IPv6 -------------------------------------------------------------------------------------------
for text, value in (("before 127.0.0.1 after", "127.0.0.1"), ("client 203.0.113.77 connected", "203.0.113.77"),
                    ("remote_addr=10.20.30.40", "10.20.30.40"), ("before ::1 after", "::1"),
                    ("[2001:0db8:85a3:0000:0000:8a2e:0370:7334]", "2001:0db8:85a3:0000:0000:8a2e:0370:7334"),
                    ("peer 2001:db8::ff00:42:8329 port 443", "2001:db8::ff00:42:8329"),
                    ("from fe80::1ff:fe23:4567:890a%eth0 ok", "fe80::1ff:fe23:4567:890a"),
                    ("mapped ::ffff:192.0.2.128 seen", "::ffff:192.0.2.128"),
                    ('{"ip_address": "198.51.100.23"}', "198.51.100.23"),
                    ("X-Forwarded-For: 198.51.100.7, 10.0.0.1", "198.51.100.7")):
    case("ip", text, ("IP_ADDRESS", value), note="ip " + text[:20])
negative("ip", "foo::1 bar", "IP_ADDRESS", note="a C++ scope, not an address")
negative("ip", "Chrome/131.0.0.0 Safari/537.36", "IP_ADDRESS", note="a browser version")

# -- emails ------------------------------------------------------------------------------------------
for text, value in (("contact jane.doe+billing@example.com today", "jane.doe+billing@example.com"),
                    ("GET /api/users/maria.lopez@gmail.com/records", "maria.lopez@gmail.com"),
                    ('{"user":{"email":"o.brien@mail.example.co.uk"}}', "o.brien@mail.example.co.uk"),
                    ("<a href=\"mailto:kim_lee@example.org\">", "kim_lee@example.org")):
    case("email", text, ("EMAIL_ADDRESS", value), note="email " + text[:20])

OUT.write_text("".join(json.dumps(c, ensure_ascii=False) + "\n" for c in cases))
print(f"{len(cases)} cases written to {OUT}")
