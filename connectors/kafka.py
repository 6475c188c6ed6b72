"""Kafka clients (kafka-python) built from config, environment and CLI settings.

Every kafka-python parameter can be set, by its own name, in three places, the
later winning: `kafka.consumer` / `kafka.producer` in the config file; the
environment (`PHISCAN_KAFKA_<NAME>` for both clients, `PHISCAN_KAFKA_CONSUMER_<NAME>`
or `PHISCAN_KAFKA_PRODUCER_<NAME>` for one); and repeated `--consumer-config
NAME=VALUE` / `--producer-config NAME=VALUE` flags. Values are read as YAML
scalars (`6000` is an int, `true` a bool). phiscan itself always commits offsets
by hand, after the findings of what it consumed are on disk.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from typing import Any

import yaml
from kafka import KafkaConsumer, KafkaProducer

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the config schema is pipeline's; connectors only read its fields
    from pipeline.config import KafkaConfig

FORCED_CONSUMER = {"enable_auto_commit": False}
DEFAULT_CONSUMER = {"auto_offset_reset": "earliest"}
# batch_size: kafka-python's 16 KB default cut a 2,000-record batch of the clean topic into ~90 requests
# (1.2 CPU s to produce 20k Vercel records, 0.7 s at 256 KB); 256 KB stays well under the 1 MB a
# record batch may have on Apache Kafka, MSK and Redpanda by default, and buffer_memory still bounds it
DEFAULT_PRODUCER = {"acks": "all", "linger_ms": 5, "batch_size": 256 * 1024}


class KafkaSettingError(ValueError):
    """A client setting is malformed or unknown to kafka-python; the message names it."""


def parse_pairs(pairs: Iterable[str], flag: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for index, pair in enumerate(pairs, 1):
        name, sep, value = pair.partition("=")
        if not sep or not name.strip():  # the text is not echoed: it may be a password typed with `:`
            raise KafkaSettingError(f"{flag} number {index}: expected NAME=VALUE")
        out[name.strip()] = _scalar(value)
    return out


def _scalar(text: str) -> Any:
    try:
        value = yaml.safe_load(text)
    except yaml.YAMLError:
        return text
    return value if isinstance(value, (str, int, float, bool)) or value is None else text


def _from_env(which: str, environ: Mapping[str, str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for prefix in ("PHISCAN_KAFKA_", f"PHISCAN_KAFKA_{which.upper()}_"):
        for key, value in environ.items():
            if key.startswith(prefix):
                name = key[len(prefix):].lower()
                if name.startswith(("consumer_", "producer_")) and prefix == "PHISCAN_KAFKA_":
                    continue
                out[name] = _scalar(value)
    return out


def _check(settings: dict[str, Any], allowed: Iterable[str], which: str) -> None:
    unknown = sorted(set(settings) - set(allowed))
    if unknown:
        raise KafkaSettingError(f"unknown kafka-python {which} setting(s): {', '.join(unknown)}")


def consumer_settings(cfg: KafkaConfig, bootstrap: str | None, group_id: str, cli: dict[str, Any],
                      environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    environ = os.environ if environ is None else environ
    settings = {**DEFAULT_CONSUMER, **cfg.consumer, **_from_env("consumer", environ), **cli, **FORCED_CONSUMER,
                "group_id": group_id}
    settings["bootstrap_servers"] = _servers(bootstrap or settings.get("bootstrap_servers") or cfg.bootstrap_servers)
    _check(settings, KafkaConsumer.DEFAULT_CONFIG, "consumer")
    return settings


def producer_settings(cfg: KafkaConfig, bootstrap: str | None, cli: dict[str, Any],
                      environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    environ = os.environ if environ is None else environ
    settings = {**DEFAULT_PRODUCER, **cfg.producer, **_from_env("producer", environ), **cli}
    settings["bootstrap_servers"] = _servers(bootstrap or settings.get("bootstrap_servers") or cfg.bootstrap_servers)
    _check(settings, KafkaProducer.DEFAULT_CONFIG, "producer")
    return settings


def _servers(value: Any) -> list[str]:
    if not value:
        raise KafkaSettingError("no bootstrap servers: pass --bootstrap-servers or set kafka.bootstrap_servers")
    return [v.strip() for v in value.split(",")] if isinstance(value, str) else list(value)


def crc_check_is_slow(settings: dict[str, Any]) -> bool:
    """Whether the consumer would check record CRC-32Cs in pure Python (~0.2 s of CPU per MB read).

    kafka-python uses the `crc32c` package's C code when it can import it (a phiscan
    dependency); without it every fetched byte goes through a Python loop.
    """
    if not settings.get("check_crcs", True):
        return False
    try:
        from kafka.record import util
    except ImportError:
        return False
    return getattr(util, "crc32c_c", True) is None


def redacted(settings: dict[str, Any]) -> dict[str, Any]:
    """Settings safe to log: passwords, tokens and key material hidden."""
    return {k: ("***" if any(w in k for w in ("password", "token", "secret", "key")) else v)
            for k, v in settings.items()}
