"""The analyst policy: suppressions, the baseline and staff identifiers, as versionable YAML files.

They are meant to live in git next to the code they describe, so a false
positive, an accepted risk or a staff address is reviewed like any change.
Where they are found matters: an analyst command finds them next to the output
directory (`DIR/../config/suppressions.yaml`, `baseline.yaml`, `staff.yaml`) or
where a flag names them, never relative to whatever directory the shell is in,
and it says when one is absent (a missing baseline makes every offender "new").
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from core.model import ENTITY_TYPES, SOURCES

OFFENDER_KEY = ("source", "project", "route", "field_path", "entity_type")
KNOWN_SOURCES = SOURCES
FINGERPRINT_RE = re.compile(r"[0-9a-f]{64}")
FILE_NAMES = {"suppressions": "suppressions.yaml", "baseline": "baseline.yaml", "staff": "staff.yaml"}


class PolicyError(ValueError):
    """A policy file or a value for it is wrong; the message says which and lists what is valid."""


def check_entity(value: str) -> str:
    if value not in ENTITY_TYPES:
        raise ValueError(f"unknown entity type {value!r}; valid: {', '.join(ENTITY_TYPES)}")
    return value


def clean_fingerprint(value: str) -> str:
    """A fingerprint as `phiscan` prints it: 64 lower-case hex digits (CSV's CRLF and spaces stripped)."""
    fp = value.strip().lower()
    if not FINGERPRINT_RE.fullmatch(fp):
        raise ValueError("a fingerprint is 64 hex digits (the `fingerprint` column of findings)")
    return fp


def glob_regex(glob: str) -> str:
    """A glob as a regex: `*` any run, `?` one character, everything else literal (brackets too)."""
    return "".join(".*" if ch == "*" else "." if ch == "?" else re.escape(ch) for ch in glob)


class Suppression(BaseModel):
    """A (field_path, entity_type[, route, source, fingerprint]) pattern: a false positive or an accepted risk."""

    model_config = ConfigDict(extra="forbid")
    field_path: str = Field(min_length=1, description="glob over field paths; brackets are literal")
    entity_type: str
    route: str | None = Field(None, description="glob over routes (`/api/intake*`); none: every route")
    fingerprint: str | None = None
    source: str | None = None
    kind: Literal["false_positive", "accepted_risk"]
    reason: str = Field(min_length=3)
    author: str = Field(min_length=1)
    created: date = Field(default_factory=date.today)
    expires: date | None = None

    @field_validator("entity_type")
    @classmethod
    def _entity(cls, v: str) -> str:
        return check_entity(v)

    @field_validator("fingerprint")
    @classmethod
    def _fingerprint(cls, v: str | None) -> str | None:
        return None if v is None else clean_fingerprint(v)

    @field_validator("source")
    @classmethod
    def _source(cls, v: str | None) -> str | None:
        if v is not None and v not in KNOWN_SOURCES:
            raise ValueError(f"unknown source {v!r}; valid: {', '.join(KNOWN_SOURCES)}")
        return v

    def scope(self) -> tuple[Any, ...]:
        """What the suppression matches: two entries with one scope are one suppression."""
        return (self.field_path, self.entity_type, self.route, self.fingerprint, self.source)


class StaffFile(BaseModel):
    """Identifiers of staff and providers, so they are not counted as patients (`staff.yaml`)."""

    model_config = ConfigDict(extra="forbid")
    fingerprints: list[str] = Field(default_factory=list, description="fingerprints of staff identifiers")
    entity_types: list[str] = Field(default_factory=list, description="types that only name staff (US_NPI)")
    email_domains: list[str] = Field(default_factory=list, description="the company's own domains")

    @field_validator("fingerprints")
    @classmethod
    def _fingerprints(cls, v: list[str]) -> list[str]:
        return [clean_fingerprint(x) for x in v]

    @field_validator("entity_types")
    @classmethod
    def _entity_types(cls, v: list[str]) -> list[str]:
        return [check_entity(x) for x in v]


def describe(err: ValidationError) -> str:
    """A pydantic error as `field: message` lines (no pydantic URLs, no input echoed)."""
    return "; ".join(f"{'.'.join(str(p) for p in e['loc']) or 'value'}: {e['msg'].removeprefix('Value error, ')}"
                     for e in err.errors(include_url=False, include_input=False))


@dataclass(frozen=True)
class PolicyFiles:
    """Where each policy file is, whether it exists, and how it was found."""

    suppressions: Path
    baseline: Path
    staff: Path
    explicit: frozenset[str] = frozenset()

    def notes(self) -> list[str]:
        """One line per policy file that is absent, to be shown to the user."""
        out = []
        for kind in FILE_NAMES:
            path = getattr(self, kind)
            if not path.exists():
                how = "given" if kind in self.explicit else "looked for"
                effect = {"baseline": "every offender counts as new",
                          "suppressions": "nothing is suppressed",
                          "staff": "no identifier is treated as staff"}[kind]
                out.append(f"no {kind} file ({how} {path}): {effect}")
        return out


def default_path(out_dir: Path, kind: str) -> Path:
    """A policy file next to the output directory: `DIR/../config/<name>`."""
    return Path(out_dir).resolve().parent / "config" / FILE_NAMES[kind]


def resolve(out_dir: Path, suppressions: Path | None = None, baseline: Path | None = None,
            staff: Path | None = None) -> PolicyFiles:
    given = {"suppressions": suppressions, "baseline": baseline, "staff": staff}
    paths = {k: Path(v) if v else default_path(out_dir, k) for k, v in given.items()}
    return PolicyFiles(**paths, explicit=frozenset(k for k, v in given.items() if v))


def _read_yaml(path: Path) -> dict[str, Any]:
    if not path.exists():
        return {}
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise PolicyError(f"{path} is not valid YAML: {getattr(exc, 'problem', 'syntax error')}") from None
    if not isinstance(data, dict):
        raise PolicyError(f"{path} must be a mapping at the top level")
    return data


def load_suppressions(path: Path) -> list[Suppression]:
    items = []
    for i, raw in enumerate(_read_yaml(path).get("suppressions") or []):
        try:
            items.append(Suppression.model_validate(raw))
        except ValidationError as exc:
            raise PolicyError(f"invalid suppression #{i + 1} in {path}: {describe(exc)}") from None
    return items


def add_suppression(path: Path, item: Suppression) -> tuple[list[Suppression], bool]:
    """Add `item`, or replace the entry with the same scope; returns the list and whether it replaced one."""
    items = load_suppressions(path)
    kept = [s for s in items if s.scope() != item.scope()]
    replaced = len(kept) != len(items)
    items = [*kept, item]
    path.parent.mkdir(parents=True, exist_ok=True)
    body = {"suppressions": [s.model_dump(mode="json", exclude_none=True) for s in items]}
    path.write_text("# phiscan suppressions: review changes like code (phiscan suppress adds entries)\n"
                    + yaml.safe_dump(body, sort_keys=False), encoding="utf-8")
    return items, replaced


def load_baseline(path: Path) -> list[dict[str, Any]]:
    return [dict(o) for o in _read_yaml(path).get("offenders") or []]


def save_baseline(path: Path, offenders: list[dict[str, Any]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    body = {"created": date.today().isoformat(), "offenders": offenders}
    path.write_text("# phiscan baseline: accepted offenders; only new ones fail `phiscan scan --fail-on-new`\n"
                    + yaml.safe_dump(body, sort_keys=False, default_flow_style=False), encoding="utf-8")


def load_staff(path: Path) -> StaffFile:
    try:
        return StaffFile.model_validate(_read_yaml(path).get("staff") or {})
    except ValidationError as exc:
        raise PolicyError(f"invalid staff file {path}: {describe(exc)}") from None


def masked_domain(domain: str) -> str:
    """A domain masked like an email preview (`acme-health.com` -> `a**********.com`): matched, never stored."""
    from pipeline.engine.fingerprint import preview

    return preview("EMAIL_ADDRESS", f"x@{domain.strip().lower()}").split("@", 1)[1]


def policy_rows(files: PolicyFiles) -> dict[str, list[tuple[Any, ...]]]:
    """The rows of the policy tables in findings.duckdb (pipeline.storage.catalog.POLICY_TABLES)."""
    sup = load_suppressions(files.suppressions)
    staff = load_staff(files.staff)
    return {
        "suppressions": [(s.field_path, glob_regex(s.field_path), s.route, glob_regex(s.route) if s.route else None,
                          s.entity_type, s.fingerprint, s.source, s.kind, s.reason, s.author, s.created, s.expires)
                         for s in sup],
        "baseline": [tuple(o.get(k) for k in OFFENDER_KEY) for o in load_baseline(files.baseline)],
        "staff_identifiers": (
            [("fingerprint", None, fp, None, None) for fp in staff.fingerprints]
            + [("entity_type", t, None, None, None) for t in staff.entity_types]
            + [("email_domain", "EMAIL_ADDRESS", None, masked_domain(d), "matched on the masked domain")
               for d in staff.email_domains]),
    }


def connect(out_dir: Path, files: PolicyFiles | None = None, read_only: bool = False):
    """A findings.duckdb connection with the views and this policy loaded."""
    from pipeline.storage import catalog

    catalog.require_output_dir(out_dir)
    files = files or resolve(out_dir)
    return catalog.connect(out_dir, read_only=read_only, policy=policy_rows(files))
