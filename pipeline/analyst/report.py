"""The compliance report's content: what leaks, where, since when, for about how many people, and on what evidence.

Written to be signed: every figure says what it counts, the scope block says
which phiscan, config, rules, sources and days the figures cover (and which
days are missing), each control has a status, and a report over nothing says so
instead of rendering zeros that read as a clean bill of health. It reads only
the analyst views and counts, routes, field paths and entity types: never a
value, never a preview. Rendering is in `pipeline.analyst.report_render`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from pipeline.analyst import policy
from pipeline.storage.provenance import describe_config
from pipeline.config import Config
from pipeline.storage.catalog import INDIVIDUALS_METHOD, SECRET_TYPES
from pipeline.storage.manifest import read_scan_records

_SECRETS = ", ".join(f"'{s}'" for s in SECRET_TYPES)
# (control, objective, the findings that are exceptions to it, what phiscan evidences)
CONTROLS = [
    ("SOC 2 CC6.1", "Logical access: credentials and keys are protected", f"entity_type IN ({_SECRETS})",
     "secrets printed into logs and telemetry (keys, tokens, passwords)"),
    ("SOC 2 CC6.7", "Transmission of confidential data to third parties is restricted",
     "source <> 'vercel' OR field_path LIKE 'proxy.%'", "PHI/PII sent to vendors (Sentry, analytics, drains)"),
    ("SOC 2 CC7.2", "System components are monitored for anomalies", None,
     "telemetry scanned every day of the period; every finding with first and last seen"),
    ("SOC 2 C1.1", "Confidential information is identified", None, "entity types and field paths identified"),
    ("SOC 2 P4.x", "Personal information is used, retained and disposed of per policy",
     "entity_type IN ('PERSON', 'EMAIL_ADDRESS', 'PHONE_NUMBER', 'STREET_ADDRESS', 'DATE_OF_BIRTH', 'IP_ADDRESS')",
     "personal information outside its system of record; retention via `phiscan purge`"),
    ("HIPAA §164.312(b)", "Audit controls record and examine activity in systems with ePHI", None,
     "scan coverage per source and day; findings table and flagged events"),
    ("HIPAA §164.514(b)", "De-identification: the 18 identifiers are removed", f"entity_type NOT IN ({_SECRETS})",
     "identifiers found in telemetry, by type and field"),
]
EVIDENCE_PRESENT, EXCEPTIONS, EVIDENCE_MISSING, GAPS = ("evidence present", "exceptions", "evidence missing",
                                                        "evidence with gaps")

METHODOLOGY = [
    "Every string field of every event is visited with its field path; URL-encoded text, JSON inside strings "
    "and key=value pairs are decoded first, and spans map back to the raw field.",
    "Detectors: Microsoft Presidio with a spaCy NER model for names, and phiscan's recognizers for emails, phones, "
    "SSNs (with validation), cards (Luhn), MRNs, NPI/DEA (checksums), health plan ids, dates of birth (with birth "
    "context), ICD-10 codes (CDC list), condition and medication dictionaries, and secrets (vendor key prefixes, "
    "JWT/bearer tokens, session cookies, URL passwords, PEM keys).",
    "An event is PHI when an identifier meets health information, when it carries an MRN or a health plan id, or "
    "when an identifier appears on a health route.",
    "Findings hold a keyed HMAC-SHA256 fingerprint and a masked preview, never the value; this report shows "
    "neither, only counts, routes, field paths and entity types.",
    "Estimated individuals: " + INDIVIDUALS_METHOD + ".",
]
LIMITS = [
    "Only the telemetry that was scanned is covered: sources, projects and days absent from the scope block are "
    "not evidence either way.",
    "Fields skipped by selectors (listed in the scope) are not scanned; machine fields get pattern detectors only.",
    "Detection is statistical: names in unusual forms, free-text clinical notes and identifiers in formats phiscan "
    "has no recognizer for can be missed; dictionary terms can be false positives. Measured recall and precision "
    "come from `phiscan eval` on labelled data.",
    "Binary items (attachments, replays, images) are skipped and counted, not scanned.",
    "Estimated individuals is an estimate: one person with two unrelated identifiers never seen together counts "
    "twice, and a shared identifier not marked as staff joins people into one.",
]


@dataclass
class ReportData:
    generated: str
    scope: dict[str, Any]
    headline: dict[str, Any]
    trend: list[tuple[date, int]]
    by_entity: list[tuple[str, int]]
    offenders: list[tuple]
    individuals: list[tuple]
    coverage: list[tuple]
    new: list[tuple]
    new_count: int
    has_baseline: bool
    suppressions: list[tuple]
    controls: list[tuple[str, str, str, str, int]]
    notes: list[str] = field(default_factory=list)
    methodology: list[str] = field(default_factory=lambda: list(METHODOLOGY))
    limits: list[str] = field(default_factory=lambda: list(LIMITS))

    @property
    def empty(self) -> bool:
        """Nothing was scanned: the report is no evidence of anything and must say so."""
        return not self.headline["events_scanned"]


def _missing_days(days: list[date], first: date | None, last: date | None) -> list[date]:
    if not first or not last:
        return []
    have = set(days)
    return [first + timedelta(d) for d in range((last - first).days + 1) if first + timedelta(d) not in have]


def _scope(q, config: Config, out_dir: Path, files: policy.PolicyFiles) -> dict[str, Any]:
    info = describe_config(config)
    records = read_scan_records(out_dir)
    days = [r[0] for r in q("SELECT DISTINCT day FROM coverage WHERE day IS NOT NULL ORDER BY 1")]
    first, last = (days[0], days[-1]) if days else (None, None)
    return {
        **info,
        "scan_versions": sorted({str(r.get("version")) for r in records}),
        "scan_config_hashes": sorted({str(r.get("config_hash")) for r in records}),
        "scan_rules_hashes": sorted({str(r.get("rules_hash")) for r in records}),
        "scans_recorded": len(records),
        "skipped_files": sum(sum((r.get("skipped_files") or {}).values()) for r in records),
        "period": (first, last),
        "days_missing": _missing_days(days, first, last),
        "events_per_source": q("SELECT source, sum(events), count(DISTINCT day), min(day), max(day) FROM coverage "
                               "GROUP BY 1 ORDER BY 2 DESC"),
        "errors": q("SELECT reason, count(*) FROM errors GROUP BY 1 ORDER BY 2 DESC LIMIT 8"),
        "policy": {k: (str(getattr(files, k)), getattr(files, k).exists()) for k in policy.FILE_NAMES},
    }


def _controls(q, covered_days: int, missing_days: int) -> list[tuple[str, str, str, str, int]]:
    out = []
    for cid, title, exception_sql, what in CONTROLS:
        n = q(f"SELECT count(*) FROM findings WHERE NOT suppressed AND ({exception_sql})")[0][0] if exception_sql else 0
        if not covered_days:
            status = EVIDENCE_MISSING
        elif n:
            status = EXCEPTIONS
        elif missing_days:
            status = GAPS
        else:
            status = EVIDENCE_PRESENT
        out.append((cid, title, what, status, n))
    return out


def collect(out_dir: str | Path, files: policy.PolicyFiles | None = None, config: Config | None = None) -> ReportData:
    """Everything the report shows, read from DIR/findings.duckdb (raises NotAnOutputDir for a foreign DIR)."""
    out = Path(out_dir)
    files = files or policy.resolve(out)
    con = policy.connect(out, files)
    try:
        q = lambda sql: con.execute(sql).fetchall()  # noqa: E731
        total, active = q("SELECT count(*), count(*) FILTER (WHERE NOT suppressed) FROM findings")[0]
        phi, flagged = q("SELECT count(*) FILTER (WHERE phi), count(*) FROM flagged_events")[0]
        est, identifiers, staff, _ = q("SELECT * FROM individuals_estimate")[0]
        scanned, sources = q("SELECT coalesce(sum(events), 0), count(DISTINCT source) FROM coverage")[0]
        trend = q("SELECT day, sum(unsuppressed) FROM daily_trend GROUP BY day ORDER BY day")
        scope = _scope(q, config or Config(), out, files)
        plotted = [d for d, _ in trend] + [d for d in scope["period"] if d]
        has_baseline = files.baseline.exists()
        headline = {"findings": total, "unsuppressed": active, "phi_events": phi, "flagged_events": flagged,
                    "estimated_individuals": est, "identifiers": identifiers, "staff_excluded": staff,
                    "events_scanned": scanned, "sources": sources,
                    "days": len({d for d, *_ in q("SELECT DISTINCT day FROM coverage")}),
                    "first_day": min(plotted) if plotted else None, "last_day": max(plotted) if plotted else None,
                    "secrets": q(f"SELECT count(*) FROM findings WHERE NOT suppressed AND entity_type IN ({_SECRETS})"
                                 )[0][0]}
        return ReportData(
            generated=datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
            scope=scope, headline=headline, trend=trend,
            by_entity=q("SELECT entity_type, count(*) FROM findings WHERE NOT suppressed GROUP BY 1 ORDER BY 2 DESC"),
            offenders=q("SELECT source, coalesce(route, '-'), field_path, entity_type, findings, distinct_values, "
                        "max_severity, CAST(first_seen AS DATE), CAST(last_seen AS DATE) FROM offenders "
                        "WHERE NOT suppressed ORDER BY CASE max_severity WHEN 'critical' THEN 3 WHEN 'high' THEN 2 "
                        "WHEN 'medium' THEN 1 ELSE 0 END DESC, findings DESC LIMIT 20"),
            individuals=q("SELECT entity_type, identifiers, estimated_individuals, seen_in_several_sources, "
                          "array_to_string(sources, ', ') FROM affected_individuals_total ORDER BY identifiers DESC"),
            coverage=scope["events_per_source"],
            new=q("SELECT source, coalesce(route, '-'), field_path, entity_type, findings, max_severity "
                  "FROM new_findings WHERE NOT suppressed ORDER BY findings DESC LIMIT 15") if has_baseline else [],
            new_count=q("SELECT count(*) FROM new_findings WHERE NOT suppressed")[0][0],
            has_baseline=has_baseline,
            suppressions=q("SELECT field_path, coalesce(route, '*'), entity_type, kind, reason, author, "
                           "CAST(expires AS VARCHAR) FROM suppressions ORDER BY created"),
            controls=_controls(q, headline["days"], len(scope["days_missing"])),
            notes=files.notes(),
        )
    finally:
        con.close()


def summary_paragraph(d: ReportData) -> str:
    """Plain language a compliance lead can paste into an audit response."""
    h, s = d.headline, d.scope
    if d.empty:
        return ("No telemetry was scanned for this output directory, so this report is not evidence of anything: "
                "it neither shows exposure nor its absence.")
    first, last = s["period"]
    gap = (f" {len(s['days_missing'])} day(s) in that period have no scan and are not covered."
           if s["days_missing"] else " Every day in that period was scanned.")
    sources = ", ".join(r[0] for r in s["events_per_source"])
    people = (f"about {h['estimated_individuals']:,} individual(s) (estimated from {h['identifiers']:,} distinct "
              f"identifiers seen together in events)")
    secrets = (f" {h['secrets']:,} finding(s) are secrets (keys, tokens, passwords), which must be rotated."
               if h["secrets"] else " No secrets were found.")
    new = (f" {d.new_count:,} offender(s) are new against the accepted baseline." if d.has_baseline
           else " No baseline has been accepted yet, so no offender is marked as new or accepted.")
    return (f"From {first} to {last}, phiscan {s['version']} scanned {h['events_scanned']:,} events from {sources}."
            f"{gap} It found {h['unsuppressed']:,} unsuppressed finding(s) of personal or health information or "
            f"secrets in {h['flagged_events']:,} event(s); {h['phi_events']:,} of those events are PHI (an identifier "
            f"together with health information, or on a health route). The identifiers belong to {people}.{secrets}"
            f"{new}")
