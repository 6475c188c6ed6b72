"""Provenance of findings: which phiscan, config and rules produced them, and what they could not see.

An auditor signs a report only when it says what it covers. The config hash
leaves secrets out (the fingerprint key, drain and webhook secrets), so it can
be printed; the rules hash covers only what changes detection, so two scans
with the same rules hash found things the same way.
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timezone
from importlib import metadata
from typing import Any

import orjson

from pipeline.config import Config

SECRET_KEYS = {("fingerprint", "key"), ("serve", "vercel", "secret"), ("serve", "vercel", "verify_token"),
               ("serve", "sentry_webhook", "client_secret")}


def phiscan_version() -> str:
    try:
        return metadata.version("phiscan")
    except metadata.PackageNotFoundError:
        return "unknown"


def _drop_secrets(data: dict[str, Any], prefix: tuple[str, ...] = ()) -> dict[str, Any]:
    out = {}
    for key, value in data.items():
        path = (*prefix, key)
        if path in SECRET_KEYS:
            continue
        out[key] = _drop_secrets(value, path) if isinstance(value, dict) else value
    return out


def _digest(data: Any) -> str:
    return hashlib.sha256(orjson.dumps(data, option=orjson.OPT_SORT_KEYS)).hexdigest()[:16]


def describe_config(config: Config) -> dict[str, Any]:
    """Hashes and the human-readable gist of a config: what a report's scope block prints."""
    dumped = _drop_secrets(config.model_dump(mode="json"))
    det = config.detection
    return {
        "version": phiscan_version(),
        "config_hash": _digest(dumped),
        "rules_hash": _digest({"detection": dumped["detection"], "limits": dumped["limits"],
                               "version": phiscan_version()}),
        "model": det.model if det.ner else "none (NER off)",
        "score_threshold": det.score_threshold,
        "entities": list(det.entities),
        "skipped_fields": [s.path + (f" ({s.source})" if s.source else "") for s in det.selectors
                           if s.profile == "skip"],
        "machine_fields": [s.path + (f" ({s.source})" if s.source else "") for s in det.selectors
                           if s.profile == "machine"],
        "allow_rules": len(det.allow.values) + len(det.allow.regexes) + len(det.allow.field_paths),
        "deny_rules": len(det.deny),
    }


def scan_record(config: Config, summary: Any, started: datetime | None = None) -> dict[str, Any]:
    """What `pipeline.storage.manifest.write_scan_record` stores for one scan (names, hashes and counts)."""
    info = describe_config(config)
    return {
        "started": (started or datetime.now(timezone.utc)).isoformat(timespec="seconds"),
        **{k: info[k] for k in ("version", "config_hash", "rules_hash", "model", "skipped_fields")},
        "events": getattr(summary, "events", 0),
        "findings": getattr(summary, "findings", 0),
        "findings_by_source": dict(getattr(summary, "by_source", {}) or {}),
        "errors": getattr(summary, "errors", 0),
        "skipped_files": dict(getattr(summary, "skip_reasons", {}) or {}),
    }
