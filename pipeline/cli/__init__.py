"""`phiscan`: a thin click layer; every command is a few lines over the Python API."""

from __future__ import annotations

import logging
import os
import sys

# Arrow's default allocator (mimalloc) keeps what every Parquet write allocated: 15-25 MB more peak
# memory per scanning process, for no measurable speed. phiscan's own processes use the system
# allocator unless the environment chose one (set before anything imports pyarrow).
os.environ.setdefault("ARROW_DEFAULT_MEMORY_POOL", "system")

import click
from rich.console import Console
from rich.logging import RichHandler

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

    if log_format:
        os.environ["PHISCAN_LOG_FORMAT"] = log_format


from pipeline.cli import analyst, runtime  # noqa: E402,F401  (registers the commands)

if __name__ == "__main__":
    main()
