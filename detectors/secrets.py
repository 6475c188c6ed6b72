"""Secret recognizers: vendor API keys by documented prefix/shape, tokens, credentials, PEM keys.

Prefix patterns follow the vendors' published token formats (Stripe `sk_live_`,
AWS `AKIA`, GitHub `ghp_`/`github_pat_`, Slack `xox?-`, SendGrid `SG.`, OpenAI
`sk-`/`sk-proj-`, Anthropic `sk-ant-`, Twilio `SK`, Google `AIza`, Vercel `vc?_`).
Generic `key = value` assignments are kept only when the value has enough
entropy, so `token=true` or `secret: [Filtered]` stay quiet.
"""

from __future__ import annotations

import math
import re
from collections import Counter

from presidio_analyzer import Pattern

from detectors.base import CasedPatternRecognizer

_ASSIGN = r"""["']?\s*[:=]\s*["']?"""
_DOTTED_NAME = re.compile(r"[A-Za-z_$][\w$]*(?:\.[A-Za-z_$][\w$]*)+")


def shannon_entropy(value: str) -> float:
    if not value:
        return 0.0
    counts = Counter(value)
    n = len(value)
    return -sum(c / n * math.log2(c / n) for c in counts.values())


def looks_random(value: str, min_len: int = 16, min_entropy: float = 3.0) -> bool:
    """A token-like value: long enough, mixed, and not a word, path or placeholder."""
    if len(value) < min_len or value.startswith(("[", "<", "$", "{")):
        return False
    if sum(c.isdigit() for c in value) < 2 or not any(c.isalpha() for c in value):
        return False
    if _DOTTED_NAME.fullmatch(value):  # android.os.BinderProxy, com.example.Service
        return False
    return shannon_entropy(value) >= min_entropy


class ApiKeyRecognizer(CasedPatternRecognizer):
    ENTITY = "API_KEY"
    PATTERNS = [
        Pattern("stripe secret", r"\b(?:sk|rk)_(?:live|test)_[0-9A-Za-z]{16,128}\b", 0.95),
        Pattern("stripe webhook secret", r"\bwhsec_[0-9A-Za-z]{24,64}\b", 0.95),
        Pattern("aws access key id", r"\b(?:AKIA|ASIA|ABIA|ACCA)[0-9A-Z]{16}\b", 0.9),
        Pattern("github token", r"\b(?:gh[pousr]_[A-Za-z0-9]{36,255}|github_pat_[A-Za-z0-9_]{22,255})\b", 0.95),
        Pattern("slack token", r"\bxox[abposr]-(?:\d+-)?[A-Za-z0-9-]{10,}\b", 0.9),
        Pattern("slack webhook", r"hooks\.slack\.com/services/T[A-Z0-9]+/B[A-Z0-9]+/[A-Za-z0-9]{16,}", 0.9),
        Pattern("sendgrid key", r"\bSG\.[A-Za-z0-9_-]{16,32}\.[A-Za-z0-9_-]{16,64}\b", 0.95),
        Pattern("anthropic key", r"\bsk-ant-[A-Za-z0-9_-]{20,}", 0.95),
        Pattern("openai key", r"\bsk-(?:proj-|svcacct-|admin-)?[A-Za-z0-9_-]{20,}T3BlbkFJ[A-Za-z0-9_-]{20,}", 0.95),
        Pattern("openai key (project)", r"\bsk-(?:proj|svcacct|admin)-[A-Za-z0-9_-]{40,}", 0.9),
        Pattern("openai key (legacy)", r"\bsk-[A-Za-z0-9]{40,60}\b", 0.8),
        Pattern("twilio api key", r"\bSK[0-9a-f]{32}\b", 0.8),
        Pattern("google api key", r"\bAIza[0-9A-Za-z_-]{35}\b", 0.9),
        Pattern("vercel token", r"\b(?:vercel_[A-Za-z0-9]{24,}|vc[pkiar]_[A-Za-z0-9]{24,})\b", 0.9),
        Pattern("postmark/mailgun key", r"\bkey-[0-9a-f]{32}\b", 0.8),
        Pattern("sentry auth token", r"\bsntry[su]_[A-Za-z0-9+/=_-]{32,}", 0.95),
        Pattern("npm token", r"\bnpm_[A-Za-z0-9]{36}\b", 0.95),
        Pattern("generic api key assignment",
                r"(?i:(?<=\b(?:api[_-]?key|apikey|x-api-key|access[_-]?key(?:[_-]?id)?|secret[_-]?key|"
                r"client[_-]?secret|app[_-]?secret|secret)" + _ASSIGN + r"))[A-Za-z0-9+/_.\-]{16,256}", 0.6),
    ]
    CONTEXT = ["key", "api", "secret", "token"]

    def validate_result(self, pattern_text: str) -> bool | None:
        # Vendor prefixes are specific enough; generic assignments must look random.
        if pattern_text[:3] in ("sk_", "rk_", "sk-", "gh", "xox", "SG.", "AKI", "ASI", "AIz"):
            return None
        return True if looks_random(pattern_text) else False


class AuthTokenRecognizer(CasedPatternRecognizer):
    ENTITY = "AUTH_TOKEN"
    PATTERNS = [
        Pattern("jwt", r"\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}", 0.95),
        Pattern("bearer", r"(?i:(?<=\bbearer\s{1,3}))[A-Za-z0-9._~+/=-]{16,}", 0.85),
        Pattern("google oauth access token", r"\bya29\.[0-9A-Za-z_-]{20,}", 0.9),
        Pattern("basic auth header", r"(?i:(?<=\bauthorization" + _ASSIGN + r"basic\s{1,3}))[A-Za-z0-9+/=]{12,}", 0.85),
        Pattern("session cookie",
                r"(?i:(?<=\b(?:session|sessionid|session_id|sid|connect\.sid|__session|jsessionid|phpsessid|"
                r"(?:__Secure-|__Host-)?(?:next-auth|authjs)\.session-token|sb-access-token|sb-refresh-token|"
                r"access_token|refresh_token|id_token|auth_token|csrftoken)=))[^;\s\"'&,]{16,}", 0.85),
        Pattern("token assignment",
                r"(?i:(?<=\b(?:token|access[_-]?token|refresh[_-]?token|id[_-]?token|auth[_-]?token|"
                r"session[_-]?token)" + _ASSIGN + r"))[A-Za-z0-9._~+/=-]{16,512}", 0.6),
    ]
    CONTEXT = ["token", "bearer", "session", "cookie", "authorization", "auth"]

    def validate_match(self, pattern_name: str, value: str) -> bool | None:
        if value.startswith(("eyJ", "ya29.")):
            return None
        if pattern_name in ("bearer", "session cookie", "basic auth header"):
            # the header or cookie name vouches for it; only placeholders are refused
            return None if shannon_entropy(value) >= 3.0 and not value.startswith(("[", "<", "$", "{")) else False
        return True if looks_random(value) else False


class CredentialRecognizer(CasedPatternRecognizer):
    ENTITY = "CREDENTIAL"
    PATTERNS = [
        # the password of scheme://user:password@host (database URLs, Redis, AMQP, SMTP...)
        # the password runs to the last `@` before the host (people do not percent-encode `@`)
        Pattern("url userinfo password", r"(?<=\b[a-z][a-z0-9+.-]{1,20}://[^/\s:@]{1,128}:)[^\s/]{3,256}"
                                         r"(?=@[A-Za-z0-9.-]+(?::\d+)?(?:[/?#\s\"',;)]|$))", 0.95),
        Pattern("password assignment",
                r"(?i:(?<=\b(?:password|passwd|pwd|pass|db_pass(?:word)?|passphrase)" + _ASSIGN + r"))"
                r"[^\s\"',;&}{)]{4,128}", 0.75),
    ]
    CONTEXT = ["password", "credential", "login", "database", "connection"]

    _PLACEHOLDERS = frozenset({"[filtered]", "********", "redacted", "[redacted]", "null", "undefined",
                               "none", "true", "false", "required", "invalid", "password", "xxxx"})

    _TEMPLATE = re.compile(r"\$\{?[A-Z_][A-Z0-9_]*\}?|\{\{.*\}\}|<[^>]*>|%[sd]|:[A-Za-z_]+")

    def validate_result(self, pattern_text: str) -> bool | None:
        low = pattern_text.lower()
        if low in self._PLACEHOLDERS or set(low) <= {"*", "x", "•"} or self._TEMPLATE.fullmatch(pattern_text):
            return False  # placeholders and template variables (`$DB_PASSWORD`, `{{password}}`)
        return None


class PrivateKeyRecognizer(CasedPatternRecognizer):
    ENTITY = "PRIVATE_KEY"
    PATTERNS = [
        Pattern(
            "pem private key",
            r"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----(?:\\n|\\r|\s|[A-Za-z0-9+/=:,-])+?"
            r"(?:-----END (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----|\Z)",
            1.0,
        ),
    ]
    CONTEXT = ["key", "private", "pem"]
