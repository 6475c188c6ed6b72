"""The PHI verdict: which events are protected health information, and how severe each finding is.

HIPAA makes data PHI when an identifier of a person meets information about
their health. In telemetry that is an email next to a condition, a name next to
a medication, a record number (which only a provider issues), or any identifier
on a route that is itself about health (`/api/labs/results`). Pure functions of
an event's findings and its route: no I/O.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime

from detectors.entities import HEALTH_INFO, IDENTIFIERS, SECRETS, SEVERITY, SEVERITY_RANK
from core.model import Event, FlaggedEvent, Finding

# Identifiers a provider or payer issues: their presence says "this is a patient".
MEDICAL_IDS = frozenset({"MEDICAL_RECORD_NUMBER", "HEALTH_PLAN_ID"})
# Identifiers that single out a person (an IP alone on a health route is not enough for a verdict).
PERSON_IDS = IDENTIFIERS - {"IP_ADDRESS"}

DEFAULT_HEALTH_ROUTES: tuple[str, ...] = (
    "*patient*", "*intake*", "*prescription*", "*/rx*", "*/labs*", "*lab-result*", "*diagnos*", "*condition*",
    "*medication*", "*pharmacy*", "*symptom*", "*mental-health*", "*therapy*", "*std*", "*sti-*", "*hiv*",
    "*prep*", "*pregnan*", "*fertility*", "*telehealth/visit*", "*eligibility*", "*medical*", "*health-record*",
)


@dataclass(slots=True, unsafe_hash=True)  # one an event: not frozen (see VALUE in core/model.py)
class Verdict:
    phi: bool
    reasons: tuple[str, ...]
    name_and_dob: bool

    def severity(self, entity_type: str) -> str:
        """Critical for secrets and for the identifiers and health information of a PHI event."""
        if entity_type in SECRETS or (self.phi and (entity_type in IDENTIFIERS or entity_type in HEALTH_INFO)):
            return "critical"
        if self.name_and_dob and entity_type == "PERSON":
            return "high"
        return SEVERITY.get(entity_type, "low")


class Verdicts:
    """Decides PHI per event and adjusts finding severity accordingly."""

    def __init__(self, health_routes: Sequence[str] = DEFAULT_HEALTH_ROUTES):
        self.health_routes = [r.lower() for r in health_routes]
        self._route_memo: dict[str, bool] = {}

    def health_route(self, route: str | None) -> bool:
        if not route:
            return False
        hit = self._route_memo.get(route)
        if hit is None:
            low = route.lower()
            hit = any(fnmatch.fnmatchcase(low, pat) for pat in self.health_routes)
            if len(self._route_memo) < 50_000:
                self._route_memo[route] = hit
        return hit

    def decide(self, event: Event, types: set[str]) -> Verdict:
        """The verdict for an event whose findings are of `types`."""
        person = types & PERSON_IDS
        health = types & HEALTH_INFO
        reasons = []
        if person and health:
            reasons.append(f"identifier ({', '.join(sorted(person))}) with health information "
                           f"({', '.join(sorted(health))})")
        if types & MEDICAL_IDS:
            reasons.append(f"medical identifier ({', '.join(sorted(types & MEDICAL_IDS))})")
        if health and "IP_ADDRESS" in types and not person:
            reasons.append("IP address with health information")
        if person and self.health_route(event.route):
            reasons.append(f"identifier on a health route ({event.route})")
        phi = bool(reasons)
        if types & SECRETS:
            reasons.append(f"secret ({', '.join(sorted(types & SECRETS))})")
        return Verdict(phi, tuple(reasons), "PERSON" in types and "DATE_OF_BIRTH" in types)

    def flag(self, event: Event, verdict: Verdict, types: set[str], findings: int, scanned_at: datetime,
             index: int = -1) -> FlaggedEvent:
        """The event's row of flagged events; `index` is its place in the scanned batch (in memory only)."""
        severity = max((verdict.severity(t) for t in types), key=SEVERITY_RANK.__getitem__)
        return FlaggedEvent(
            event_id=event.event_id, source=event.source, origin=event.origin, event_time=event.timestamp,
            project=event.project, route=event.route, entity_types=tuple(sorted(types)), phi=verdict.phi,
            severity=severity, reason="; ".join(verdict.reasons) or "identifiers without health context",
            findings=findings, scanned_at=scanned_at, index=index)

    def judge(self, event: Event, findings: Sequence[Finding], scanned_at: datetime
              ) -> tuple[list[Finding], FlaggedEvent]:
        """Findings with final severities, and the event's verdict. `findings` must be non-empty."""
        types = {f.entity_type for f in findings}
        verdict = self.decide(event, types)
        out = [f if f.severity == verdict.severity(f.entity_type) else
               replace(f, severity=verdict.severity(f.entity_type)) for f in findings]
        return out, self.flag(event, verdict, types, len(out), scanned_at)
