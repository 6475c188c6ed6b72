"""`phiscan`: a thin click layer; every command is a few lines over the Python API."""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import click
from rich.console import Console
from rich.logging import RichHandler
from rich.table import Table

from pipeline.config import ConfigError, load_config

err_console = Console(stderr=True)
out_console = Console()


def _setup_logging(verbose: bool) -> None:
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING, format="%(message)s",
                        handlers=[RichHandler(console=err_console, show_path=False, show_time=False)])
    for noisy in ("presidio-analyzer", "presidio-anonymizer", "kafka"):
        logging.getLogger(noisy).setLevel(logging.ERROR)


def _config(path: str | None):
    try:
        return load_config(path)
    except ConfigError as exc:
        raise click.UsageError(str(exc)) from None


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="phiscan")
def main() -> None:
    """Find and stop PHI/PII and secret leaks in logs and telemetry."""


@main.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Output directory: Parquet findings and findings.duckdb.")
@click.option("--format", "fmt", default="auto", show_default=True,
              type=click.Choice(["auto", "vercel", "sentry", "segment", "posthog", "mixpanel", "ga4", "lines"]),
              help="Input format; auto detects it per file.")
@click.option("--config", "config_path", type=click.Path(dir_okay=False), help="YAML config file.")
@click.option("--fail-on-findings", is_flag=True, help="Exit 1 when anything was found.")
@click.option("--workers", type=click.IntRange(min=1), default=None,
              help="Worker processes (default: the number of cores).")
@click.option("--explain", is_flag=True, help="Say which format was chosen for each file.")
@click.option("-v", "--verbose", is_flag=True)
def scan(paths, out_dir, fmt, config_path, fail_on_findings, workers, explain, verbose):
    """Scan log files (Vercel drains: NDJSON, JSON arrays, objects; .gz/.zst) for PHI, PII and secrets."""
    from connectors.registry import FormatError
    from detectors.analyzer import ModelNotInstalled
    from pipeline.scan import default_workers, scan_paths

    _setup_logging(verbose or explain)
    config = _config(config_path)
    progress = _progress()
    try:
        with progress:
            task = progress.add_task("scanning", total=None)
            summary = scan_paths(list(paths), out_dir, fmt=fmt, config=config, explain=explain,
                                 workers=workers or default_workers(),
                                 on_progress=lambda n: progress.advance(task, n))
    except FormatError as exc:
        raise click.UsageError(str(exc)) from None
    except ModelNotInstalled as exc:
        raise click.UsageError(str(exc)) from None
    _print_summary(summary)
    if fail_on_findings and summary.findings:
        sys.exit(1)


def _progress():
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    return Progress(SpinnerColumn(), TextColumn("{task.description}"), TextColumn("{task.completed:,} events"),
                    TimeElapsedColumn(), console=err_console, transient=True, disable=not err_console.is_terminal)


def _print_summary(summary) -> None:
    table = Table(title="phiscan scan", show_header=True)
    table.add_column("measure")
    table.add_column("value", justify="right")
    table.add_row("files", f"{summary.files:,}")
    table.add_row("events", f"{summary.events:,}")
    table.add_row("findings", f"{summary.findings:,}")
    table.add_row("PHI events", f"{summary.phi_events:,}")
    for entity, n in summary.by_entity.most_common():
        table.add_row(f"  {entity}", f"{n:,}")
    for source, n in summary.by_source.most_common():
        table.add_row(f"  source={source}", f"{n:,}")
    for fmt_name, n in summary.formats.most_common():
        table.add_row(f"  files format={fmt_name}", f"{n:,}")
    if summary.skipped:
        table.add_row("skipped (binary items)", f"{summary.skipped:,}")
    table.add_row("errors", f"{summary.errors:,}")
    for reason, n in summary.error_reasons.most_common(5):
        table.add_row(f"  {reason}", f"{n:,}")
    table.add_row("seconds", f"{summary.seconds:.2f}")
    table.add_row("events/s", f"{summary.events_per_second:,.0f}")
    out_console.print(table)
    if summary.db_path:
        out_console.print(f"findings database: {summary.db_path}")


@main.command()
@click.argument("sql")
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Scan output directory holding findings.duckdb.")
@click.option("--format", "fmt", default="table", type=click.Choice(["table", "csv", "json"]), show_default=True)
def query(sql, out_dir, fmt):
    """Run SQL on the findings database (views: findings, errors, coverage)."""
    from pipeline.query import run_query, render

    import duckdb

    try:
        columns, rows = run_query(out_dir, sql)
    except duckdb.Error as exc:
        raise click.UsageError(f"query failed: {exc}") from None
    render(out_console, columns, rows, fmt)


@main.command(name="eval")
@click.argument("labels", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.argument("findings_dir", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--format", "fmt", default="table", type=click.Choice(["table", "json"]), show_default=True)
@click.option("--source", default=None, help="Score only the events of this source.")
@click.option("--by-source", is_flag=True, help="Also print one line per source.")
def eval_cmd(labels, findings_dir, fmt, source, by_source):
    """Score findings against a labels file: recall and precision per entity type."""
    from pipeline.evaluate import evaluate, render_by_source, render_report

    report = evaluate(labels, findings_dir, source)
    render_report(out_console, report, fmt)
    if by_source:
        render_by_source(out_console, labels, findings_dir)


if __name__ == "__main__":
    main()
