"""The analyst commands: query, eval, triage, suppress, baseline, report, purge (never load the model)."""

from __future__ import annotations

from pathlib import Path

import click

from pipeline.cli import main, out_console


@main.command()
@click.argument("sql")
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Scan output directory holding findings.duckdb.")
@click.option("--format", "fmt", default="table", type=click.Choice(["table", "csv", "json"]), show_default=True)
def query(sql, out_dir, fmt):
    """Run SQL on the findings database (views: findings, errors, coverage)."""
    from pipeline.analyst.query import run_query, render

    import duckdb

    try:
        columns, rows = run_query(out_dir, sql)
    except duckdb.Error as exc:
        raise click.UsageError(f"query failed: {exc}") from None
    render(out_console, columns, rows, fmt)


@main.command(name="eval")
@click.argument("labels", required=False, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.argument("findings_dir", required=False, type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--cases", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="Labelled text cases (JSON lines): scan each text and score recall and false alarms.")
@click.option("--by", type=click.Choice(["source", "type", "tag"]), default="type", show_default=True,
              help="With --cases: group the scores by case source, label type or tag.")
@click.option("--misses", is_flag=True, help="With --cases: list missed labels and false alarms (index, type, note).")
@click.option("--config", "config_path", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="With --cases: the config the engine is built from.")
@click.option("--format", "fmt", default="table", type=click.Choice(["table", "json"]), show_default=True)
@click.option("--source", default=None, help="Score only the events of this source.")
@click.option("--by-source", is_flag=True, help="Also print one line per source.")
def eval_cmd(labels, findings_dir, cases, by, misses, config_path, fmt, source, by_source):
    """Score detection: findings of a scan against a labels file (LABELS FINDINGS_DIR), or text cases (--cases)."""
    if cases is not None:
        if labels or findings_dir:
            raise click.UsageError("give either --cases FILE or LABELS FINDINGS_DIR, not both")
        import secrets

        from pipeline.analyst.evaluate import evaluate_cases, render_case_report
        from pipeline.config import load_config
        from pipeline.engine.fingerprint import Fingerprinter
        from pipeline.engine.scanner import ScanEngine

        config = load_config(config_path)  # an eval stores nothing: a throwaway fingerprint key
        report = evaluate_cases(cases, ScanEngine(config, Fingerprinter(secrets.token_bytes(32))))
        render_case_report(out_console, report, by=by, fmt=fmt, misses=misses)
        return
    if labels is None or findings_dir is None:
        raise click.UsageError("give LABELS FINDINGS_DIR (a scan's labels and output) or --cases FILE")
    from pipeline.analyst.evaluate import evaluate, render_by_source, render_report

    report = evaluate(labels, findings_dir, source)
    render_report(out_console, report, fmt)
    if by_source:
        render_by_source(out_console, labels, findings_dir)


_TRIAGE_FILES = [
    click.option("--suppressions", type=click.Path(dir_okay=False, path_type=Path), default=None,
                 help="Suppressions file (default config/suppressions.yaml)."),
    click.option("--baseline", type=click.Path(dir_okay=False, path_type=Path), default=None,
                 help="Baseline file (default config/baseline.yaml)."),
]


def _triage_files(fn):
    for opt in reversed(_TRIAGE_FILES):
        fn = opt(fn)
    return fn


@main.command()
@click.option("--out", "out_dir", required=True, type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--source", default=None)
@click.option("--project", default=None)
@click.option("--since", type=click.DateTime(formats=["%Y-%m-%d"]), default=None, help="YYYY-MM-DD")
@click.option("--entity", default=None, help="Entity type, e.g. EMAIL_ADDRESS.")
@click.option("--severity", type=click.Choice(["low", "medium", "high", "critical"]), default=None,
              help="Minimum severity.")
@click.option("--include-suppressed", is_flag=True)
@click.option("--limit", type=int, default=25, show_default=True)
@click.option("--fixes", is_flag=True, help="Print the remediation for each offender.")
@click.option("--format", "fmt", default="table", type=click.Choice(["table", "json", "csv"]), show_default=True)
@_triage_files
def triage(out_dir, source, project, since, entity, severity, include_suppressed, limit, fixes, fmt, suppressions,
           baseline):
    """Top offenders (source x project x route x field x entity), worst first."""
    from pipeline.analyst.fixes import suggest
    from pipeline.analyst.query import render
    from pipeline.analyst.triage import top_offenders

    columns, rows = top_offenders(out_dir, source=source, project=project, since=since.date() if since else None,
                                  entity=entity, severity=severity, include_suppressed=include_suppressed,
                                  limit=limit, suppressions=suppressions, baseline=baseline)
    if fixes:
        columns = [*columns, "fix"]
        rows = [(*r, suggest(r[0], r[3], r[4], (r[10] or [None])[0])) for r in rows]
    render(out_console, columns, rows, fmt)


@main.command()
@click.option("--field-path", required=True, help="Field path glob, e.g. 'request.data.*'.")
@click.option("--entity", "entity_type", required=True)
@click.option("--fingerprint", default=None, help="Only this value (its fingerprint).")
@click.option("--source", default=None)
@click.option("--kind", type=click.Choice(["false_positive", "accepted_risk"]), required=True)
@click.option("--reason", required=True)
@click.option("--author", required=True)
@click.option("--expires", type=click.DateTime(formats=["%Y-%m-%d"]), default=None)
@click.option("--file", "path", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Suppressions file (default config/suppressions.yaml).")
def suppress(field_path, entity_type, fingerprint, source, kind, reason, author, expires, path):
    """Mark a (field_path, entity_type[, fingerprint]) pattern as a false positive or an accepted risk."""
    from pydantic import ValidationError

    from pipeline.analyst.triage import DEFAULT_SUPPRESSIONS, Suppression, load_suppressions, save_suppressions

    path = path or DEFAULT_SUPPRESSIONS
    try:
        item = Suppression(field_path=field_path, entity_type=entity_type, fingerprint=fingerprint, source=source,
                           kind=kind, reason=reason, author=author, expires=expires.date() if expires else None)
    except ValidationError as exc:
        raise click.UsageError(str(exc)) from None
    items = load_suppressions(path) + [item]
    save_suppressions(path, items)
    out_console.print(f"{len(items)} suppression(s) in {path}")


@main.command()
@click.option("--out", "out_dir", required=True, type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--file", "path", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Baseline file (default config/baseline.yaml).")
@click.option("--suppressions", type=click.Path(dir_okay=False, path_type=Path), default=None)
def baseline(out_dir, path, suppressions):
    """Snapshot the current offenders as accepted; `scan --fail-on-new` then fails only on new ones."""
    from pipeline.analyst.triage import DEFAULT_BASELINE, take_baseline

    path = path or DEFAULT_BASELINE
    n = take_baseline(out_dir, path, suppressions)
    out_console.print(f"baseline of {n:,} offender(s) written to {path}")


@main.command()
@click.option("--out", "out_dir", required=True, type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--html", "html_path", type=click.Path(dir_okay=False, path_type=Path), default=None)
@click.option("--md", "md_path", type=click.Path(dir_okay=False, path_type=Path), default=None)
@click.option("--format", "fmt", type=click.Choice(["html", "md"]), default=None,
              help="With no file: print this format to stdout.")
@_triage_files
def report(out_dir, html_path, md_path, fmt, suppressions, baseline):
    """A self-contained compliance report (HTML with SVG charts, or Markdown)."""
    from pipeline.analyst.report import collect, render_html, render_markdown

    data = collect(out_dir, suppressions, baseline)
    if html_path:
        html_path.write_text(render_html(data), encoding="utf-8")
        out_console.print(f"report written to {html_path}")
    if md_path:
        md_path.write_text(render_markdown(data), encoding="utf-8")
        out_console.print(f"report written to {md_path}")
    if not html_path and not md_path:
        click.echo(render_html(data) if fmt == "html" else render_markdown(data))


@main.command()
@click.option("--out", "out_dir", required=True, type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--before", required=True, type=click.DateTime(formats=["%Y-%m-%d"]), help="YYYY-MM-DD")
def purge(out_dir, before):
    """Delete findings, flagged events, errors and coverage older than a date (whole day partitions)."""
    from pipeline.analyst.triage import purge as do_purge

    removed = do_purge(out_dir, before.date())
    out_console.print(", ".join(f"{k}: {v} day partition(s)" for k, v in removed.items()))
