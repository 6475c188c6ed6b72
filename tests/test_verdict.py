"""PHI verdict rules, table-driven, and the flagged_events table end to end."""

from datetime import datetime, timezone

import duckdb
import pytest

from core.model import Event, Finding
from pipeline.engine.verdict import Verdicts

NOW = datetime(2026, 1, 1, tzinfo=timezone.utc)


def finding(entity):
    return Finding(finding_id=entity, event_id="e", source="vercel", origin="o", event_time=None, project=None,
                   route=None, field_path="message", start=0, end=1, entity_type=entity, score=1.0, detector="t",
                   fingerprint="f", preview="p", scanned_at=NOW)


CASES = [
    (["EMAIL_ADDRESS", "MEDICAL_CONDITION"], "/api/x", True, "critical"),
    (["PERSON", "MEDICATION"], None, True, "critical"),
    (["MEDICAL_RECORD_NUMBER"], None, True, "critical"),
    (["EMAIL_ADDRESS"], "/api/labs/results", True, "critical"),
    (["EMAIL_ADDRESS"], "/api/newsletter", False, "medium"),
    (["IP_ADDRESS"], "/api/labs/results", False, "low"),
    (["US_SSN"], None, False, "high"),
    (["PERSON", "DATE_OF_BIRTH"], None, False, "high"),
    (["API_KEY"], None, False, "critical"),
    (["MEDICAL_CONDITION"], None, False, "high"),
]


@pytest.mark.parametrize("types,route,phi,severity", CASES)
def test_verdicts(types, route, phi, severity):
    ev = Event("vercel", "e", "o", {}, route=route)
    judged, flagged = Verdicts().judge(ev, [finding(t) for t in types], NOW)
    assert flagged.phi is phi
    assert flagged.severity == severity
    assert flagged.entity_types == tuple(sorted(types))
    assert flagged.reason


def test_person_with_dob_is_high_but_email_alone_medium():
    judged, _ = Verdicts().judge(Event("vercel", "e", "o", {}), [finding("PERSON"), finding("DATE_OF_BIRTH")], NOW)
    assert {f.entity_type: f.severity for f in judged} == {"PERSON": "high", "DATE_OF_BIRTH": "high"}


def test_flagged_events_table(scanned):
    out, summary = scanned
    con = duckdb.connect(str(out / "findings.duckdb"), read_only=True)
    n, phi = con.execute("SELECT count(*), count(*) FILTER (WHERE phi) FROM flagged_events").fetchone()
    assert n > 0 and 0 < phi < n and phi == summary.phi_events
    dupes = con.execute("SELECT count(*) - count(DISTINCT (source, event_id)) FROM flagged_events").fetchone()[0]
    assert dupes == 0
    # every flagged event has findings, and its severity is the max of theirs
    bad = con.execute("""
        SELECT count(*) FROM flagged_events e JOIN (
          SELECT event_id, max(CASE severity WHEN 'critical' THEN 3 WHEN 'high' THEN 2 WHEN 'medium' THEN 1 ELSE 0 END) s
          FROM findings GROUP BY 1) f USING (event_id)
        WHERE CASE e.severity WHEN 'critical' THEN 3 WHEN 'high' THEN 2 WHEN 'medium' THEN 1 ELSE 0 END <> f.s
    """).fetchone()[0]
    assert bad == 0
