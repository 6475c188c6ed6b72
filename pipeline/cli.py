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


class JsonLogFormatter(logging.Formatter):
    """One JSON object per line for log shippers. phiscan's messages carry paths, counts and
    exception type names, never values."""

    def format(self, record: logging.LogRecord) -> str:
        import orjson

        return orjson.dumps({"ts": self.formatTime(record, "%Y-%m-%dT%H:%M:%S%z"), "level": record.levelname.lower(),
                             "logger": record.name, "msg": record.getMessage()}).decode()


def _setup_logging(verbose: bool) -> None:
    import os

    if os.environ.get("PHISCAN_LOG_FORMAT", "text").lower() == "json":
        handler: logging.Handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(JsonLogFormatter())
    else:
        handler = RichHandler(console=err_console, show_path=False, show_time=False)
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING, format="%(message)s",
                        handlers=[handler], force=True)
    for noisy in ("presidio-analyzer", "presidio-anonymizer", "kafka"):
        logging.getLogger(noisy).setLevel(logging.ERROR)


def _config(path: str | None):
    try:
        return load_config(path)
    except ConfigError as exc:
        raise click.UsageError(str(exc)) from None


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="phiscan")
@click.option("--log-format", type=click.Choice(["text", "json"]), default=None, envvar="PHISCAN_LOG_FORMAT",
              help="Log lines as text (default) or JSON (PHISCAN_LOG_FORMAT).")
def main(log_format) -> None:
    """Find and stop PHI/PII and secret leaks in logs and telemetry."""
    import os

    if log_format:
        os.environ["PHISCAN_LOG_FORMAT"] = log_format


@main.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Output directory: Parquet findings and findings.duckdb.")
@click.option("--format", "fmt", default="auto", show_default=True,
              type=click.Choice(["auto", "vercel", "sentry", "segment", "posthog", "mixpanel", "ga4", "lines"]),
              help="Input format; auto detects it per file.")
@click.option("--config", "config_path", type=click.Path(dir_okay=False), help="YAML config file.")
@click.option("--fail-on-findings", is_flag=True, help="Exit 1 when anything was found.")
@click.option("--fail-on-new", is_flag=True, help="Exit 1 when an offender is not in the baseline.")
@click.option("--suppressions", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Suppressions file (default config/suppressions.yaml).")
@click.option("--baseline", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Baseline file (default config/baseline.yaml).")
@click.option("--workers", type=click.IntRange(min=1), default=None,
              help="Worker processes (default: the number of cores).")
@click.option("--explain", is_flag=True, help="Say which format was chosen for each file.")
@click.option("-v", "--verbose", is_flag=True)
def scan(paths, out_dir, fmt, config_path, fail_on_findings, fail_on_new, suppressions, baseline, workers, explain,
         verbose):
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
    if fail_on_new:
        from pipeline.triage import count_new

        new = count_new(out_dir, suppressions, baseline)
        out_console.print(f"offenders not in the baseline: {new:,}")
        if new:
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


FORMAT_CHOICE = click.Choice(["auto", "vercel", "sentry", "segment", "posthog", "mixpanel", "ga4", "lines"])


def _kafka_options(fn):
    for opt in reversed([
        click.option("--bootstrap-servers", default=None, help="HOST:PORT[,...] (else kafka.bootstrap_servers)."),
        click.option("--topic", "topics", required=True, help="Topic(s) to read, comma-separated."),
        click.option("--group-id", required=True, help="Consumer group; add consumers to spread partitions."),
        click.option("--format", "fmt", default="auto", show_default=True, type=FORMAT_CHOICE),
        click.option("--config", "config_path", type=click.Path(dir_okay=False), help="YAML config file."),
        click.option("--consumer-config", multiple=True, metavar="NAME=VALUE", help="kafka-python consumer setting."),
        click.option("--producer-config", multiple=True, metavar="NAME=VALUE", help="kafka-python producer setting."),
        click.option("--quarantine-topic", default=None, help="Raw bytes of unscannable records, reason in a header."),
        click.option("--max-events", type=int, default=None, help="Stop after this many records."),
        click.option("--idle-timeout", type=float, default=None,
                     help="Stop after this many seconds without a record (from the first assignment)."),
        click.option("--metrics-port", type=int, default=None, help="Serve Prometheus metrics on this port."),
        click.option("-v", "--verbose", is_flag=True),
    ]):
        fn = opt(fn)
    return fn


def _run_stream(config_path, verbose, consumer_config, producer_config, **kw):
    from connectors.kafka import KafkaSettingError, parse_pairs
    from pipeline.stream import run_kafka

    _setup_logging(verbose)
    config = _config(config_path)
    try:
        stats = run_kafka(config, consumer_cli=parse_pairs(consumer_config, "--consumer-config"),
                          producer_cli=parse_pairs(producer_config, "--producer-config"), **kw)
    except KafkaSettingError as exc:
        raise click.UsageError(str(exc)) from None
    table = Table("measure", "value", title="phiscan stream")
    for name, value in [("records in", stats.records_in), ("events scanned", stats.events_in),
                        ("records out (clean)", stats.records_out), ("quarantined", stats.quarantined),
                        ("batches", stats.batches), ("findings", sum(stats.findings.values()))]:
        table.add_row(name, f"{value:,}")
    out_console.print(table)


@main.command()
@_kafka_options
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False), help="Findings directory.")
def consume(bootstrap_servers, topics, group_id, fmt, config_path, consumer_config, producer_config,
            quarantine_topic, max_events, idle_timeout, metrics_port, verbose, out_dir):
    """Consume Kafka topics as a consumer group and write findings (at-least-once, no duplicates)."""
    _run_stream(config_path, verbose, consumer_config, producer_config, bootstrap=bootstrap_servers,
                topics=topics.split(","), group_id=group_id, fmt=fmt, out_dir=out_dir,
                quarantine_topic=quarantine_topic, max_events=max_events, idle_timeout=idle_timeout,
                metrics_port=metrics_port)


@main.command()
@click.argument("input_path", required=False, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--out", "output", default=None, help="Output file (file mode) or findings directory (Kafka mode).")
@click.option("--findings", "findings_dir", default=None, type=click.Path(file_okay=False),
              help="File mode: also record findings in this directory.")
@click.option("--to-topic", default=None, help="Kafka mode: the clean topic.")
@click.option("--bootstrap-servers", default=None)
@click.option("--topic", "topics", default=None)
@click.option("--group-id", default=None)
@click.option("--format", "fmt", default="auto", show_default=True, type=FORMAT_CHOICE)
@click.option("--config", "config_path", type=click.Path(dir_okay=False))
@click.option("--consumer-config", multiple=True, metavar="NAME=VALUE")
@click.option("--producer-config", multiple=True, metavar="NAME=VALUE")
@click.option("--quarantine-topic", default=None)
@click.option("--max-events", type=int, default=None)
@click.option("--idle-timeout", type=float, default=None)
@click.option("--metrics-port", type=int, default=None)
@click.option("-v", "--verbose", is_flag=True)
def scrub(input_path, output, findings_dir, to_topic, bootstrap_servers, topics, group_id, fmt, config_path,
          consumer_config, producer_config, quarantine_topic, max_events, idle_timeout, metrics_port, verbose):
    """Write a clean copy with every finding replaced; unscannable input goes to quarantine (fails closed).

    Files: phiscan scrub INPUT --out OUTPUT. Kafka: phiscan scrub --topic raw --to-topic clean --group-id G.
    """
    if input_path is None:
        if not (topics and to_topic and group_id):
            raise click.UsageError("Kafka mode needs --topic, --to-topic and --group-id (or give an INPUT file)")
        _run_stream(config_path, verbose, consumer_config, producer_config, bootstrap=bootstrap_servers,
                    topics=topics.split(","), group_id=group_id, fmt=fmt, out_dir=output, to_topic=to_topic,
                    quarantine_topic=quarantine_topic, scrub=True, max_events=max_events,
                    idle_timeout=idle_timeout, metrics_port=metrics_port)
        return
    if not output:
        raise click.UsageError("file mode needs --out OUTPUT")
    from pipeline.scrub import scrub_file_cli

    _setup_logging(verbose)
    config = _config(config_path)
    summary = scrub_file_cli(input_path, Path(output), fmt, config, findings_dir)
    out_console.print(f"records {summary.records:,}; clean {summary.clean:,}; quarantined {summary.quarantined:,}; "
                      f"findings {len(summary.findings):,}")


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


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=int, default=8080, show_default=True)
@click.option("--config", "config_path", type=click.Path(dir_okay=False), help="YAML config (serve: ...).")
@click.option("--out", "out_dir", default=None, help="Findings directory (overrides serve.out_dir).")
@click.option("-v", "--verbose", is_flag=True)
def serve(host, port, config_path, out_dir, verbose):
    """HTTP ingest: Vercel drain endpoint, Sentry tunnel and webhook receiver, scrubbing before forwarding."""
    from pipeline.serve import serve as run_server

    _setup_logging(verbose)
    config = _config(config_path)
    if out_dir:
        config = config.model_copy(update={"serve": config.serve.model_copy(update={"out_dir": out_dir})})
    run_server(config, host, port)


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
    from pipeline.fixes import suggest
    from pipeline.query import render
    from pipeline.triage import top_offenders

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

    from pipeline.triage import DEFAULT_SUPPRESSIONS, Suppression, load_suppressions, save_suppressions

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
    from pipeline.triage import DEFAULT_BASELINE, take_baseline

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
    from pipeline.report import collect, render_html, render_markdown

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
    from pipeline.triage import purge as do_purge

    removed = do_purge(out_dir, before.date())
    out_console.print(", ".join(f"{k}: {v} day partition(s)" for k, v in removed.items()))


if __name__ == "__main__":
    main()
