"""The runtime commands: scan, consume, scrub, serve. Each is a few lines over `pipeline.runtime`."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from rich.table import Table

from pipeline.cli import _config, _setup_logging, err_console, main, out_console
from pipeline.cli.display import ScanProgress, print_new_offenders, print_summary, serve_address, total_input_bytes


class InputPath(click.ParamType):
    """A local file or directory that exists, `-` for standard input, or an object-store URL (`s3://...`)."""

    name = "path"

    def convert(self, value, param, ctx):
        from connectors.objectstore import is_remote

        if isinstance(value, str) and is_remote(value):
            return value  # a str: a Path would fold `s3://` into `s3:/`
        return click.Path(exists=True, allow_dash=True, path_type=Path).convert(value, param, ctx)


@main.command()
@click.argument("paths", nargs=-1, required=True, type=InputPath())
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Output directory: Parquet findings and findings.duckdb.")
@click.option("--format", "fmt", default="auto", show_default=True,
              type=click.Choice(["auto", "vercel", "sentry", "segment", "posthog", "mixpanel", "ga4", "lines"]),
              help="Input format; auto detects it per file.")
@click.option("--config", "config_path", type=click.Path(dir_okay=False), help="YAML config file.")
@click.option("--fail-on-findings", is_flag=True, help="Exit 1 when anything was found.")
@click.option("--fail-on-new", is_flag=True, help="Exit 1 when an offender is not in the baseline.")
@click.option("--suppressions", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Suppressions file (default: DIR/../config/suppressions.yaml).")
@click.option("--baseline", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Baseline file (default: DIR/../config/baseline.yaml).")
@click.option("--workers", type=click.IntRange(min=1), default=None,
              help="Worker processes (default: the number of cores).")
@click.option("--explain", is_flag=True, help="Say which format was chosen for each file.")
@click.option("--dask", "dask", default=None, metavar="ADDRESS|local[:N]",
              help="Run on a Dask cluster: a scheduler address (tcp://host:8786) or local[:N] (N worker "
                   "processes; default one per core). Needs phiscan[dask]; the output is written here.")
@click.option("-v", "--verbose", is_flag=True)
def scan(paths, out_dir, fmt, config_path, fail_on_findings, fail_on_new, suppressions, baseline, workers, explain,
         dask, verbose):
    """Scan log files (Vercel drains: NDJSON, JSON arrays, objects; .gz/.zst) for PHI, PII and secrets."""
    from connectors.registry import FormatError
    from detectors.analyzer import ModelNotInstalled
    from pipeline.config import ConfigError
    from pipeline.runtime.scan import default_workers, scan_paths

    _setup_logging(verbose or explain)
    config = _config(config_path)
    if dask and workers:
        raise click.UsageError("--dask and --workers: choose one (a local cluster of N workers is --dask local:N)")
    progress = ScanProgress(total_input_bytes(paths), err_console)
    on_progress = lambda nbytes, events: progress.advance(nbytes, events)  # noqa: E731
    try:
        with progress:
            if dask:
                summary = _scan_dask(list(paths), out_dir, dask, fmt, config, explain, progress, on_progress)
            else:
                progress.preparing(config.detection.model)
                runtime = _runtime(config, out_dir)
                progress.scanning()
                summary = scan_paths(list(paths), out_dir, fmt=fmt, config=config, explain=explain,
                                     runtime=runtime, workers=workers or default_workers(), on_progress=on_progress)
    except (FormatError, ModelNotInstalled, ConfigError) as exc:
        raise click.UsageError(str(exc)) from None
    new_rows, notes = None, []
    if fail_on_new:
        from pipeline.analyst.triage import new_offenders

        new_rows, notes = new_offenders(out_dir, suppressions, baseline)
    print_summary(out_console, summary, new=None if new_rows is None else len(new_rows))
    if fail_on_findings and summary.findings:
        sys.exit(1)
    if new_rows is not None:
        print_new_offenders(out_console, new_rows, notes)
        if new_rows:
            sys.exit(1)


def _scan_dask(paths, out_dir, scheduler, fmt, config, explain, progress, on_progress):
    """`scan --dask`: the workers load the model and scan; this process plans and writes the output."""
    import logging

    from pipeline.runtime.distributed import ClusterError, local_workers, require_dask, scan_paths_dask

    try:
        require_dask()
        local_workers(scheduler)
    except (ImportError, ClusterError) as exc:
        raise click.UsageError(str(exc)) from None
    logging.getLogger("distributed").setLevel(logging.WARNING)  # its INFO lines are cluster chatter
    progress.scanning()
    try:
        return scan_paths_dask(paths, out_dir, scheduler=scheduler, fmt=fmt, config=config, explain=explain,
                               on_progress=on_progress)
    except ClusterError as exc:
        raise click.UsageError(str(exc)) from None


FORMAT_CHOICE = click.Choice(["auto", "vercel", "sentry", "segment", "posthog", "mixpanel", "ga4", "otlp", "jsonlogs", "lines"])


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
    from pipeline.runtime.stream import run_kafka

    from pipeline.config import ConfigError

    _setup_logging(verbose)
    config = _config(config_path)
    try:
        stats = run_kafka(config, consumer_cli=parse_pairs(consumer_config, "--consumer-config"),
                          producer_cli=parse_pairs(producer_config, "--producer-config"), **kw)
    except (KafkaSettingError, ConfigError) as exc:
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
@click.argument("input_path", required=False,
                type=click.Path(exists=True, dir_okay=False, allow_dash=True, path_type=Path))
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
    from connectors.files import sniff_layout
    from connectors.registry import FormatError, resolve_format
    from pipeline.runtime.scrub import scrub_file

    _setup_logging(verbose)
    config = _config(config_path)
    if str(input_path) != "-" and sniff_layout(input_path) in ("csv", "parquet"):
        raise click.UsageError(f"{input_path}: CSV and Parquet exports can be scanned (phiscan scan) but not yet "
                               "scrubbed; scrub writes JSON, NDJSON, Sentry envelopes, OTLP and plain-text lines")
    runtime = _runtime(config, findings_dir)
    try:
        concrete = resolve_format(input_path, fmt, config.limits.max_record_bytes) if str(input_path) != "-" \
            else (fmt if fmt != "auto" else "auto")
    except FormatError as exc:
        raise click.UsageError(str(exc)) from None
    summary = scrub_file(input_path, Path(output), concrete, runtime)
    runtime.refresh_catalog()
    out_console.print(f"records {summary.records:,}; clean {summary.clean:,}; quarantined {summary.quarantined:,}; "
                      f"findings {summary.findings:,}")


def _runtime(config, out_dir):
    """The runtime a config describes; a bad fingerprint key is a usage error (exit 2), not a traceback."""
    from pipeline.config import ConfigError
    from pipeline.runtime.build import build

    try:
        return build(config, out_dir=out_dir)
    except ConfigError as exc:
        raise click.UsageError(str(exc)) from None



@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=int, default=8080, show_default=True)
@click.option("--config", "config_path", type=click.Path(dir_okay=False), help="YAML config (serve: ...).")
@click.option("--out", "out_dir", default=None, help="Findings directory (overrides serve.out_dir).")
@click.option("-v", "--verbose", is_flag=True)
def serve(host, port, config_path, out_dir, verbose):
    """HTTP ingest: Vercel drain endpoint, Sentry tunnel and webhook receiver, scrubbing before forwarding."""
    from pipeline.runtime.serve import serve as run_server

    _setup_logging(verbose)
    config = _config(config_path)
    if out_dir:
        config = config.model_copy(update={"serve": config.serve.model_copy(update={"out_dir": out_dir})})
    runtime = _runtime(config, config.serve.out_dir)
    cfg = config.serve
    routes = [name for name, on in (("/ingest/vercel", cfg.vercel.enabled), ("/ingest/sentry/tunnel",
              cfg.sentry_tunnel.enabled), ("/ingest/sentry/webhook", cfg.sentry_webhook.enabled)) if on]
    err_console.print(serve_address(host, port, routes), soft_wrap=True, markup=False, highlight=False)
    run_server(runtime, host, port)
