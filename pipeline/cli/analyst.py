"""The analyst commands: query, eval, triage, suppress, baseline, report, purge (never load the model).

They only read what scans wrote, so each one checks that `--out` is a phiscan
output directory (and creates nothing inside a foreign one), says which policy
files it used or could not find, and turns a wrong value into an error that
lists the valid ones instead of an empty result that reads as "all clear".
"""

from __future__ import annotations

from pathlib import Path

import click

from pipeline.cli import err_console, main, out_console

OUT_DIR = click.Path(exists=True, file_okay=False, path_type=Path)
POLICY_FILE = click.Path(dir_okay=False, path_type=Path)


def _fail(message: str) -> None:
    raise click.UsageError(message)


def _analyst_errors(fn):
    """Turn analyst-side errors (foreign directory, bad policy file, unknown filter) into usage errors."""
    import functools

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        from pipeline.analyst.evaluate import LabelsError
        from pipeline.analyst.policy import PolicyError
        from pipeline.analyst.triage import TriageError
        from pipeline.storage.catalog import NotAnOutputDir

        try:
            return fn(*args, **kwargs)
        except (NotAnOutputDir, PolicyError, TriageError, LabelsError) as exc:
            raise click.UsageError(str(exc)) from None
    return wrapper


def _policy_files(out_dir: Path, suppressions: Path | None, baseline: Path | None, staff: Path | None = None,
                  quiet: bool = False):
    from pipeline.analyst.policy import resolve

    files = resolve(out_dir, suppressions, baseline, staff)
    if not quiet:
        for note in files.notes():
            err_console.print(f"note: {note}", soft_wrap=True, markup=False, highlight=False)
    return files


@main.command()
@click.argument("sql")
@click.option("--out", "out_dir", required=True, type=OUT_DIR, help="Scan output directory holding findings.duckdb.")
@click.option("--format", "fmt", default="table", type=click.Choice(["table", "tsv", "csv", "json"]),
              show_default=True, help="table on a terminal; off a terminal table is written as TSV.")
@_analyst_errors
def query(sql, out_dir, fmt):
    """Run SQL on the findings database (views: findings, offenders, coverage, errors, ...)."""
    import duckdb

    from pipeline.analyst.query import render, run_query

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
@_analyst_errors
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



_POLICY_OPTIONS = [
    click.option("--suppressions", type=POLICY_FILE, default=None,
                 help="Suppressions file (default: DIR/../config/suppressions.yaml)."),
    click.option("--baseline", type=POLICY_FILE, default=None,
                 help="Baseline file (default: DIR/../config/baseline.yaml)."),
    click.option("--staff", type=POLICY_FILE, default=None,
                 help="Staff and provider identifiers (default: DIR/../config/staff.yaml)."),
]


def _policy_options(fn):
    for opt in reversed(_POLICY_OPTIONS):
        fn = opt(fn)
    return fn


@main.command()
@click.option("--out", "out_dir", required=True, type=OUT_DIR)
@click.option("--source", default=None)
@click.option("--project", default=None)
@click.option("--since", type=click.DateTime(formats=["%Y-%m-%d"]), default=None, help="YYYY-MM-DD")
@click.option("--entity", default=None, help="Entity type, e.g. EMAIL_ADDRESS.")
@click.option("--severity", type=click.Choice(["low", "medium", "high", "critical"]), default=None,
              help="Minimum severity.")
@click.option("--include-suppressed", is_flag=True)
@click.option("--limit", type=click.IntRange(min=1), default=25, show_default=True)
@click.option("--fixes", is_flag=True, help="Print the remediation for each offender.")
@click.option("--format", "fmt", default="table", type=click.Choice(["table", "tsv", "json", "csv"]),
              show_default=True)
@_policy_options
@_analyst_errors
def triage(out_dir, source, project, since, entity, severity, include_suppressed, limit, fixes, fmt, suppressions,
           baseline, staff):
    """Top offenders (source x project x route x field x entity), worst first; secrets lead their severity."""
    from pipeline.analyst.fixes import suggest
    from pipeline.analyst.query import render
    from pipeline.analyst.triage import top_offenders

    files = _policy_files(out_dir, suppressions, baseline, staff)
    result = top_offenders(out_dir, source=source, project=project, since=since.date() if since else None,
                           entity=entity, severity=severity, include_suppressed=include_suppressed, limit=limit,
                           files=files)
    columns, rows = result.columns, result.rows
    if fixes:
        columns = [*columns, "fix"]
        rows = [(*r, suggest(r[0], r[3], r[4], (r[10] or [None])[0], r[2])) for r in rows]
    render(out_console, columns, rows, fmt)
    err_console.print(f"showing {len(rows):,} of {result.total:,} offender(s)"
                      + (" (raise --limit to see more)" if result.total > len(rows) else ""), soft_wrap=True)


@main.command()
@click.option("--field-path", required=True, help="Field path glob, e.g. 'request.data.*'.")
@click.option("--entity", "entity_type", required=True)
@click.option("--route", default=None, help="Route glob, e.g. '/api/intake*' (default: every route).")
@click.option("--fingerprint", default=None, help="Only this value (its fingerprint, 64 hex digits).")
@click.option("--source", default=None)
@click.option("--kind", type=click.Choice(["false_positive", "accepted_risk"]), required=True)
@click.option("--reason", required=True)
@click.option("--author", required=True)
@click.option("--expires", type=click.DateTime(formats=["%Y-%m-%d"]), default=None, help="YYYY-MM-DD, in the future.")
@click.option("--out", "out_dir", type=OUT_DIR, default=None,
              help="Output directory: the file defaults to DIR/../config/suppressions.yaml and the pattern is "
                   "checked against its findings.")
@click.option("--file", "path", type=POLICY_FILE, default=None, help="Suppressions file.")
@_analyst_errors
def suppress(field_path, entity_type, route, fingerprint, source, kind, reason, author, expires, out_dir, path):
    """Mark a (field_path, entity_type[, route, source, fingerprint]) pattern as a false positive or accepted risk."""
    from datetime import date

    from pydantic import ValidationError

    from pipeline.analyst.policy import Suppression, add_suppression, default_path, describe

    if path is None and out_dir is None:
        _fail("say where the suppressions file is: --out DIR (uses DIR/../config/suppressions.yaml) or --file PATH")
    if expires and expires.date() <= date.today():
        _fail(f"--expires {expires.date().isoformat()} is not in the future: a suppression must expire later")
    path = path or default_path(out_dir, "suppressions")
    try:
        item = Suppression(field_path=field_path, entity_type=entity_type, route=route, fingerprint=fingerprint,
                           source=source, kind=kind, reason=reason, author=author,
                           expires=expires.date() if expires else None)
    except ValidationError as exc:
        raise click.UsageError(describe(exc)) from None
    if out_dir is not None:
        from pipeline.analyst.triage import suppression_matches

        matched = suppression_matches(out_dir, item)
        if not matched:
            err_console.print(f"warning: the pattern matches no finding in {out_dir}", soft_wrap=True)
    items, replaced = add_suppression(path, item)
    out_console.print(f"{'updated the' if replaced else 'added a'} suppression; {len(items)} in {path}",
                      soft_wrap=True)


@main.command()
@click.option("--out", "out_dir", required=True, type=OUT_DIR)
@click.option("--file", "path", type=POLICY_FILE, default=None,
              help="Baseline file (default: DIR/../config/baseline.yaml).")
@click.option("--suppressions", type=POLICY_FILE, default=None)
@_analyst_errors
def baseline(out_dir, path, suppressions):
    """Snapshot the current offenders as accepted; `scan --fail-on-new` then fails only on new ones."""
    from pipeline.analyst.triage import take_baseline

    files = _policy_files(out_dir, suppressions, path, quiet=True)
    n = take_baseline(out_dir, files)
    out_console.print(f"baseline of {n:,} offender(s) written to {files.baseline}", soft_wrap=True)


@main.command()
@click.option("--out", "out_dir", required=True, type=OUT_DIR)
@click.option("--html", "html_path", type=click.Path(dir_okay=False, path_type=Path), default=None)
@click.option("--md", "md_path", type=click.Path(dir_okay=False, path_type=Path), default=None)
@click.option("--format", "fmt", type=click.Choice(["html", "md"]), default="md", show_default=True,
              help="With no file: print this format to stdout.")
@click.option("--config", "config_path", type=click.Path(dir_okay=False),
              help="The config the scans used (for the scope block's hashes and skipped fields).")
@_policy_options
@_analyst_errors
def report(out_dir, html_path, md_path, fmt, config_path, suppressions, baseline, staff):
    """A self-contained compliance report (HTML with SVG charts, or Markdown); exit 1 when nothing was scanned."""
    import sys

    from pipeline.analyst.report import collect
    from pipeline.analyst.report_render import render_html, render_markdown
    from pipeline.cli import _config

    files = _policy_files(out_dir, suppressions, baseline, staff)
    data = collect(out_dir, files, _config(config_path))
    if html_path:
        html_path.write_text(render_html(data), encoding="utf-8")
        err_console.print(f"report written to {html_path}", soft_wrap=True)
    if md_path:
        md_path.write_text(render_markdown(data), encoding="utf-8")
        err_console.print(f"report written to {md_path}", soft_wrap=True)
    if not html_path and not md_path:
        click.echo(render_html(data) if fmt == "html" else render_markdown(data))
    if data.empty:
        err_console.print(f"error: nothing was scanned into {out_dir}: the report is no evidence", soft_wrap=True)
        sys.exit(1)


@main.command()
@click.option("--out", "out_dir", required=True, type=OUT_DIR)
@click.option("--before", required=True, type=click.DateTime(formats=["%Y-%m-%d"]), help="YYYY-MM-DD")
@click.option("--dry-run", is_flag=True, help="Say what would be deleted; delete nothing.")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation (needed off a terminal and for a future "
                                          "cut-off).")
@_analyst_errors
def purge(out_dir, before, dry_run, yes):
    """Delete findings, flagged events, errors and coverage older than a date (whole day partitions)."""
    import sys
    from datetime import date

    from pipeline.analyst.triage import plan_purge, purge as do_purge
    from pipeline.storage.catalog import require_output_dir

    require_output_dir(out_dir)
    cutoff = before.date()
    plan = plan_purge(out_dir, cutoff)
    if dry_run or not plan.days:
        out_console.print(f"{'would delete' if plan.days else 'nothing to delete:'} {plan.describe()}",
                          soft_wrap=True)
        return
    if cutoff > date.today() and not yes:
        _fail(f"--before {cutoff.isoformat()} is in the future: it deletes everything scanned so far "
              f"({plan.describe()}); add --yes if that is what you mean, or --dry-run to look first")
    if not yes:
        if not sys.stdin.isatty():
            _fail(f"purge would delete {plan.describe()}; confirm with --yes (no terminal to ask on)")
        click.confirm(f"delete {plan.describe()}?", abort=True, err=True)
    do_purge(out_dir, plan)
    out_console.print(f"deleted {plan.describe()}", soft_wrap=True)
