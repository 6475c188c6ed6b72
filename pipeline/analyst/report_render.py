"""Rendering the compliance report: one self-contained HTML page (inline SVG, no script, no network) or Markdown.

The page prints well (the browser's print to PDF is how it becomes an audit
attachment): print colours are kept, tables do not split rows across pages and
each section avoids starting at the foot of a page. The trend chart plots every
day of the period, zero days included, with full dates, so the header's date
range and the chart agree and a gap is visible rather than skipped.
"""

from __future__ import annotations

import html
from datetime import date, datetime, timedelta
from typing import Any

from pipeline.analyst.report import EVIDENCE_PRESENT, EXCEPTIONS, ReportData, summary_paragraph


def _fmt(v: Any) -> str:
    if v is None:
        return "-"
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, int):
        return f"{v:,}"
    if isinstance(v, datetime):
        return v.strftime("%Y-%m-%d")
    if isinstance(v, (list, tuple)):
        return ", ".join(_fmt(x) for x in v) or "-"
    return str(v)


def daily_points(d: ReportData) -> list[tuple[date, int]]:
    """One point per day from the first to the last day of the period, zero where nothing was found."""
    first, last = d.headline["first_day"], d.headline["last_day"]
    if not first or not last:
        return []
    by_day = {day: int(n or 0) for day, n in d.trend}
    return [(first + timedelta(i), by_day.get(first + timedelta(i), 0)) for i in range((last - first).days + 1)]


def _bars_svg(points: list[tuple[date, int]], missing: set[date], width: int = 720, height: int = 180) -> str:
    if not points:
        return '<p class="muted">No data.</p>'
    top = max(v for _, v in points) or 1
    n = len(points)
    gap = 2
    bar_w = max((width - 40 - gap * n) / n, 1)
    step = -(-n // max(int((width - 40) // 72), 1))  # full dates are ~64px wide: never let them overlap
    parts = [f'<svg class="chart" role="img" aria-label="unsuppressed findings per day" '
             f'viewBox="0 0 {width} {height + 40}" width="100%" xmlns="http://www.w3.org/2000/svg">',
             f'<line x1="36" y1="{height}" x2="{width}" y2="{height}" stroke="#98a2b3"/>',
             f'<text x="30" y="12" font-size="11" text-anchor="end" fill="#475467">{top:,}</text>',
             f'<text x="30" y="{height}" font-size="11" text-anchor="end" fill="#475467">0</text>']
    for i, (day, v) in enumerate(points):
        h = (height - 16) * v / top
        x = 40 + i * (bar_w + gap)
        if day in missing:  # not scanned: hatched, so a gap never reads as a clean day
            parts.append(f'<rect x="{x:.1f}" y="16" width="{bar_w:.1f}" height="{height - 16}" fill="#f2f4f7" '
                         f'stroke="#d0d5dd" stroke-dasharray="3 2"><title>{day.isoformat()}: not scanned</title>'
                         "</rect>")
        parts.append(f'<rect x="{x:.1f}" y="{height - h:.1f}" width="{bar_w:.1f}" height="{h:.1f}" fill="#b42318">'
                     f"<title>{day.isoformat()}: {v:,}</title></rect>")
        if i % step == 0 or i == n - 1:
            parts.append(f'<text x="{x + bar_w / 2:.1f}" y="{height + 16}" font-size="10" text-anchor="middle" '
                         f'fill="#475467">{day.isoformat()}</text>')
    parts.append("</svg>")
    return "".join(parts)


def _hbars_svg(points: list[tuple[str, int]], width: int = 720) -> str:
    if not points:
        return '<p class="muted">No data.</p>'
    top = max(v for _, v in points) or 1
    row = 22
    parts = [f'<svg class="chart" role="img" aria-label="findings by entity type" viewBox="0 0 {width} '
             f'{row * len(points) + 8}" width="100%" xmlns="http://www.w3.org/2000/svg">']
    for i, (label, v) in enumerate(points):
        w = (width - 260) * v / top
        y = 4 + i * row
        parts.append(f'<text x="190" y="{y + 14}" font-size="12" text-anchor="end" fill="#101828">'
                     f'{html.escape(label)}</text>'
                     f'<rect x="200" y="{y + 3}" width="{w:.1f}" height="14" fill="#1d4ed8"/>'
                     f'<text x="{206 + w:.1f}" y="{y + 14}" font-size="12" fill="#344054">{v:,}</text>')
    parts.append("</svg>")
    return "".join(parts)


def _table(headers: list[str], rows: list[tuple], empty: str = "None.", status_col: int | None = None) -> str:
    if not rows:
        return f'<p class="muted">{html.escape(empty)}</p>'
    head = "".join(f"<th>{html.escape(h)}</th>" for h in headers)
    body = []
    for r in rows:
        cells = []
        for i, c in enumerate(r):
            cls = f' class="status {_status_class(c)}"' if i == status_col else ""
            cells.append(f"<td{cls}>{html.escape(_fmt(c))}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def _status_class(status: Any) -> str:
    return {EVIDENCE_PRESENT: "ok", EXCEPTIONS: "bad"}.get(status, "warn")


def scope_rows(d: ReportData) -> list[tuple[str, str]]:
    """The scope block as (what, value) rows: the provenance an auditor checks first."""
    s = d.scope
    first, last = s["period"]
    recorded = (f"{s['scans_recorded']} scan(s) recorded; versions {_fmt(s['scan_versions'])}; config hashes "
                f"{_fmt(s['scan_config_hashes'])}; rules hashes {_fmt(s['scan_rules_hashes'])}"
                if s["scans_recorded"] else "the scans did not record their configuration; the rows above describe "
                                            "the config given to `phiscan report`")
    missing = s["days_missing"]
    return [
        ("phiscan version", s["version"]),
        ("config hash / rules hash", f"{s['config_hash']} / {s['rules_hash']} (secrets excluded from the hash)"),
        ("rule set", f"{len(s['entities'])} entity types; NER model {s['model']}; score threshold "
                     f"{s['score_threshold']}; {s['allow_rules']} allow and {s['deny_rules']} deny rule(s)"),
        ("scan records", recorded),
        ("period", f"{_fmt(first)} to {_fmt(last)}" if first else "nothing scanned"),
        ("days missing", (f"{len(missing)}: " + ", ".join(x.isoformat() for x in missing[:20])
                          + (" …" if len(missing) > 20 else "")) if missing else "none"),
        ("sources and events scanned", "; ".join(f"{src}: {n:,} events on {days} day(s)"
                                                 for src, n, days, *_ in s["events_per_source"]) or "none"),
        ("fields skipped by selectors", ", ".join(s["skipped_fields"]) or "none"),
        ("fields with pattern detectors only", ", ".join(s["machine_fields"]) or "none"),
        ("input not scanned", ("; ".join(f"{reason}: {n:,}" for reason, n in s["errors"]) or "no bad input recorded")
         + (f"; {s['skipped_files']:,} file(s) skipped" if s["skipped_files"] else "")),
        ("policy files", "; ".join(f"{k}: {path}{'' if exists else ' (absent)'}"
                                   for k, (path, exists) in s["policy"].items())),
    ]


CSS = """
body{font:14px/1.45 system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;color:#101828;margin:0;background:#f8fafc}
main{max-width:1040px;margin:0 auto;padding:28px 32px 48px;background:#fff}
h1{font-size:24px;margin:0 0 4px} h2{font-size:17px;margin:30px 0 10px;border-bottom:1px solid #e4e7ec;padding-bottom:6px}
.muted{color:#667085} .cards{display:grid;grid-template-columns:repeat(4,1fr);gap:12px;margin-top:18px}
.card{border:1px solid #e4e7ec;border-radius:8px;padding:12px 14px} .card b{display:block;font-size:24px}
.card small{display:block;color:#667085;font-size:11.5px} .card.alert b{color:#b42318}
.summary{background:#f9fafb;border-left:4px solid #1d4ed8;padding:12px 16px;margin:16px 0}
.empty{background:#fef3f2;border:2px solid #b42318;color:#7a271a;padding:16px;font-size:16px;margin:16px 0}
table{border-collapse:collapse;width:100%;font-size:12.5px}
th,td{text-align:left;padding:5px 8px;border-bottom:1px solid #eaecf0;vertical-align:top} th{background:#f2f4f7}
.scope th{width:230px} td.status{font-weight:600} td.ok{color:#067647} td.bad{color:#b42318} td.warn{color:#b54708}
.chart{display:block;margin:6px 0} footer{margin-top:36px;font-size:12px;color:#667085}
@media print{body{background:#fff} main{max-width:none;padding:0} tr,.card,svg{break-inside:avoid}
 h2{break-after:avoid} *{-webkit-print-color-adjust:exact;print-color-adjust:exact} @page{margin:14mm}}
"""


def render_html(d: ReportData) -> str:
    h = d.headline
    new_card = ("New vs baseline", d.new_count, d.new_count > 0, "offenders not in the accepted baseline") \
        if d.has_baseline else ("New vs baseline", "no baseline", False, "run `phiscan baseline` to accept one")
    cards = [("Findings (unsuppressed)", h["unsuppressed"], True, f"of {h['findings']:,} in all"),
             ("Events flagged", h["flagged_events"], True, "events with at least one finding"),
             ("of which PHI", h["phi_events"], True, "identifier with health information or on a health route"),
             ("Estimated individuals", h["estimated_individuals"], True,
              f"from {h['identifiers']:,} identifiers seen together; {h['staff_excluded']:,} staff excluded"),
             ("Secrets", h["secrets"], True, "keys, tokens, passwords: rotate"),
             ("Events scanned", h["events_scanned"], False, f"{h['sources']} source(s), {h['days']} day(s)"),
             ("Days missing", len(d.scope["days_missing"]), True, "days in the period with no scan"), new_card]
    card_html = "".join(f'<div class="card{" alert" if alert and v else ""}"><span class="muted">{html.escape(t)}'
                        f"</span><b>{html.escape(_fmt(v))}</b><small>{html.escape(sub)}</small></div>"
                        for t, v, alert, sub in cards)
    period = f"{_fmt(h['first_day'])} to {_fmt(h['last_day'])}" if h["first_day"] else "no events"
    empty = ('<div class="empty"><b>NOTHING WAS SCANNED.</b> This output directory holds no scanned events. This '
             "report is not evidence of anything: not of exposure, and not of its absence.</div>") if d.empty else ""
    notes = "".join(f"<li>{html.escape(n)}</li>" for n in d.notes)
    sections = [
        "<h1>phiscan: PHI and secret exposure in telemetry</h1>"
        f'<p class="muted">Generated {html.escape(d.generated)} · period {html.escape(period)} · '
        f"values are never shown: counts, routes, field paths and entity types only</p>",
        empty,
        f'<section class="summary"><b>Summary.</b> {html.escape(summary_paragraph(d))}</section>',
        f'<section class="cards">{card_html}</section>',
        "<h2>Scope of this report</h2>" + _table(["what", "value"], scope_rows(d)).replace(
            "<table>", '<table class="scope">', 1) + (f'<ul class="muted">{notes}</ul>' if notes else ""),
        "<h2>Control mapping (SOC 2, HIPAA)</h2>" + _table(
            ["control", "objective", "what phiscan evidences", "status", "unsuppressed exceptions"], d.controls,
            status_col=3),
        "<h2>Trend: unsuppressed findings per day</h2>"
        + _bars_svg(daily_points(d), set(d.scope["days_missing"])),
        "<h2>Findings by entity type</h2>" + _hbars_svg([(a, int(b)) for a, b in d.by_entity]),
        "<h2>Top offenders by route and field</h2>" + _table(
            ["source", "route", "field path", "entity", "findings", "distinct values", "max severity", "first seen",
             "last seen"], d.offenders),
        "<h2>Affected individuals (estimated)</h2>" + _table(
            ["identifier", "distinct identifiers", "estimated individuals with it", "seen in several sources",
             "sources"], d.individuals),
        "<h2>Coverage: what was scanned</h2>" + _table(
            ["source", "events scanned", "days", "from", "to"], d.coverage, "Nothing scanned."),
        (f"<h2>New against the accepted baseline ({d.new_count:,})</h2>"
         + _table(["source", "route", "field path", "entity", "findings", "max severity"], d.new,
                  "No new offenders: everything found is in the baseline.")) if d.has_baseline else
        "<h2>New against the accepted baseline</h2><p class=\"muted\">No baseline has been accepted, so no offender "
        "is new or accepted yet. Run <code>phiscan baseline</code> to accept today's offenders.</p>",
        "<h2>Suppressions and their reasons</h2>" + _table(
            ["field path", "route", "entity", "kind", "reason", "author", "expires"], d.suppressions,
            "No suppressions."),
        "<h2>Methodology</h2><ul>" + "".join(f"<li>{html.escape(m)}</li>" for m in d.methodology) + "</ul>",
        "<h2>Known limits</h2><ul>" + "".join(f"<li>{html.escape(m)}</li>" for m in d.limits) + "</ul>",
        f"<footer>Evidence: {h['events_scanned']:,} events scanned across {h['sources']} source(s) on "
        f"{h['days']} day(s). Produced by phiscan {html.escape(d.scope['version'])} from findings.duckdb.</footer>",
    ]
    return (f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>phiscan report</title>'
            f'<meta name="viewport" content="width=device-width,initial-scale=1"><style>{CSS}</style></head>'
            f"<body><main>{''.join(sections)}</main></body></html>")


def render_markdown(d: ReportData) -> str:
    def table(headers, rows, empty="_None._"):
        if not rows:
            return empty + "\n"
        lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
        lines += ["| " + " | ".join(_fmt(c).replace("|", "\\|") for c in r) + " |" for r in rows]
        return "\n".join(lines) + "\n"
    h = d.headline
    out = ["# phiscan report\n", f"Generated {d.generated}. Values are never shown.\n"]
    if d.empty:
        out.append("> **NOTHING WAS SCANNED.** This report is not evidence of anything.\n")
    out += [f"**Summary.** {summary_paragraph(d)}\n",
            "## Scope\n", table(["what", "value"], scope_rows(d)),
            *[f"- {n}" for n in d.notes], "",
            "## Control mapping\n", table(["control", "objective", "evidence", "status", "exceptions"], d.controls),
            "## Trend (per day)\n", table(["day", "findings"], daily_points(d)),
            "## By entity type\n", table(["entity", "findings"], d.by_entity),
            "## Top offenders\n", table(["source", "route", "field path", "entity", "findings", "distinct",
                                          "severity", "first", "last"], d.offenders),
            f"## Affected individuals (estimated: {h['estimated_individuals']:,})\n",
            table(["identifier", "identifiers", "estimated individuals", "in several sources", "sources"],
                  d.individuals),
            "## Coverage\n", table(["source", "events", "days", "from", "to"], d.coverage),
            "## New vs baseline\n", table(["source", "route", "field path", "entity", "findings", "severity"], d.new)
            if d.has_baseline else "_No baseline accepted yet._\n",
            "## Suppressions\n", table(["field path", "route", "entity", "kind", "reason", "author", "expires"],
                                       d.suppressions),
            "## Methodology\n", *[f"- {m}" for m in d.methodology], "",
            "## Known limits\n", *[f"- {m}" for m in d.limits]]
    return "\n".join(out) + "\n"
