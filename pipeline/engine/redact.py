"""Redaction operators: every finding replaced in place, in values and in keys.

Operators (per entity type, with a default): `replace` (`<EMAIL_ADDRESS>`),
`redact` (removed), `mask` (all but the last N characters as `*`), `hash`
(keyed HMAC-SHA256, so joins across systems still work without the value),
`remove` (the whole field is dropped). Span replacement is Presidio
Anonymizer's. Edits go through each finding's raw `location` into the very
objects a document codec writes back, so what the scan found is what the
output no longer holds.
"""

from __future__ import annotations

import hashlib
import hmac
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from presidio_anonymizer import AnonymizerEngine
from presidio_anonymizer.entities import OperatorConfig, RecognizerResult

from core.model import Event, Finding
from core.paths import parse as parse_path
from pipeline.config import ScrubConfig
from pipeline.engine.fingerprint import normalize


class RedactionError(RuntimeError):
    """A finding could not be applied: the document must not reach clean output."""


class Scrubber:
    def __init__(self, config: ScrubConfig, hmac_key: bytes):
        self.config = config
        self._anonymizer = AnonymizerEngine()
        self._base = hmac.new(hmac_key, digestmod=hashlib.sha256)

    def _hash(self, entity: str, value: str) -> str:
        h = self._base.copy()
        h.update(normalize(entity, value).encode("utf-8", "surrogatepass"))
        return f"<{entity}:{h.hexdigest()[:16]}>"

    def _op_name(self, entity: str) -> str:
        return self.config.operators.get(entity, self.config.default_operator)

    def _operator(self, entity: str) -> OperatorConfig:
        op = self._op_name(entity)
        keep = self.config.mask_keep_last
        if op == "replace":
            return OperatorConfig("replace", {"new_value": f"<{entity}>"})
        if op == "redact":
            return OperatorConfig("redact", {})
        if op == "mask":
            return OperatorConfig("custom", {"lambda": lambda x: "*" * max(len(x) - keep, 0) + x[len(x) - keep:]
                                             if len(x) > keep else "*" * len(x)})
        return OperatorConfig("custom", {"lambda": lambda x, e=entity: self._hash(e, x)})

    def redact_text(self, text: str, found: Sequence[Finding]) -> str:
        results = [RecognizerResult(f.entity_type, f.start, f.end, f.score) for f in found]
        operators = {f.entity_type: self._operator(f.entity_type) for f in found}
        return self._anonymizer.anonymize(text=text, analyzer_results=results, operators=operators).text

    def apply(self, events: Sequence[Event], findings: Sequence[Finding]) -> None:
        """Replace every finding in its event's payload, in place. Raises RedactionError when one cannot be.

        Values first, then keys from the deepest up, so a renamed key never moves a value
        that is still to be edited.
        """
        values: dict[tuple[int, str], list[Finding]] = defaultdict(list)
        keys: dict[tuple[int, str], list[Finding]] = defaultdict(list)
        for f in findings:
            if f.location is None:
                raise RedactionError("finding without a location")
            index, path, is_key = f.location
            (keys if is_key else values)[(index, path)].append(f)
        try:
            for (index, path), found in values.items():
                self._apply_value(events[index].payload, path, found)
            for (index, path), found in sorted(keys.items(), key=lambda kv: -len(parse_path(kv[0][1]))):
                self._apply_key(events[index].payload, path, found)
        except (KeyError, IndexError, TypeError, ValueError) as exc:
            raise RedactionError(f"cannot apply a finding ({type(exc).__name__})") from None

    def _apply_value(self, payload: Any, path: str, found: list[Finding]) -> None:
        parent, key = _locate(payload, path)
        if any(self._op_name(f.entity_type) == "remove" for f in found):
            _remove(parent, key)
            return
        value = parent[key]
        parent[key] = self.redact_text(value if isinstance(value, str) else str(value), found)

    def _apply_key(self, payload: Any, path: str, found: list[Finding]) -> None:
        parent, key = _locate(payload, path)
        if not isinstance(parent, dict) or key not in parent:
            raise KeyError("key")
        value = parent.pop(key)
        if any(self._op_name(f.entity_type) == "remove" for f in found):
            return
        new = self.redact_text(str(key), found)
        while new in parent:  # two keys scrubbed alike: keep both values
            new += "_"
        parent[new] = value


def _locate(payload: Any, path: str) -> tuple[Any, Any]:
    parts = parse_path(path)
    node = payload
    for part in parts[:-1]:
        node = node[part]
    return node, parts[-1]


def _remove(parent: Any, key: Any) -> None:
    if isinstance(parent, dict):
        parent.pop(key, None)
    else:
        parent[key] = None  # keep list positions: later paths still point where they did
