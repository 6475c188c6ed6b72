"""What the runtime commands show people: the scan progress bar, the scan summary, new offenders, serve's address.

Kept apart from the click commands so that the words and numbers a user reads
are tested on their own. Two rules shape them:
- a terminal gets a live bar, a pipe or a CI log gets plain lines (no control
  codes, nothing cut to 80 columns);
- every number says what it counts: a re-scan says that none of its findings
  are new instead of only "findings 97".
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import (BarColumn, DownloadColumn, Progress, SpinnerColumn, TaskID, TextColumn,
                           TimeElapsedColumn, TimeRemainingColumn, TransferSpeedColumn)
from rich.table import Table


def total_input_bytes(paths: Iterable[str | Path]) -> int:
    """The bytes a scan will read: files as given, directories walked (hidden entries too; sizes only)."""
    from connectors.objectstore import is_remote

    total = 0
    for p in (Path(x) for x in paths if not is_remote(x)):  # remote objects: sized when listed, not here
        if p.is_file():
            total += p.stat().st_size
        elif p.is_dir():
            for root, _dirs, files in os.walk(p):
                for name in files:
                    try:
                        total += (Path(root) / name).stat().st_size
                    except OSError:
                        continue
    return total


class ScanProgress:
    """A progress bar in bytes with a total and an ETA, building the detectors as its own phase before it.

    Use as a context manager; call `preparing()` before the engine is built,
    `scanning()` when the first byte is read, then `advance(nbytes, events)`.
    Off a terminal it draws nothing and `lines` collects the phase changes.
    """

    def __init__(self, total_bytes: int, console: Console):
        self.total_bytes = total_bytes
        self.console = console
        self.events = 0
        self.lines: list[str] = []
        self._progress = Progress(
            SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), DownloadColumn(),
            TransferSpeedColumn(), TextColumn("{task.fields[events]:,} events"), TimeElapsedColumn(),
            TextColumn("ETA"), TimeRemainingColumn(), console=console, transient=True,
            disable=not console.is_terminal)
        self._task: TaskID | None = None
        self._phase_started = time.monotonic()

    def __enter__(self) -> ScanProgress:
        self._progress.__enter__()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._progress.__exit__(*exc)

    def _phase(self, text: str) -> None:
        self.lines.append(text)
        if not self.console.is_terminal:
            self.console.print(text, soft_wrap=True)

    def preparing(self, model: str) -> None:
        """The detectors are being built; the spaCy model itself loads later, if a text needs NER."""
        self._phase(f"preparing the detectors (spaCy model {model} loads when a text needs it)")
        self._task = self._progress.add_task("preparing the detectors", total=None, events=0)
        self._phase_started = time.monotonic()

    def scanning(self) -> None:
        took = time.monotonic() - self._phase_started
        if self._task is not None:
            self._progress.remove_task(self._task)
        self._phase(f"scanning {format_bytes(self.total_bytes)}" + (f" (detectors ready in {took:.1f}s)"
                                                                     if self.lines else ""))
        self._task = self._progress.add_task("scanning", total=self.total_bytes or None, events=0)

    def advance(self, nbytes: int = 0, events: int = 0) -> None:
        if self._task is None:
            self.scanning()
        self.events += events
        self._progress.update(self._task, advance=nbytes, events=self.events)


def format_bytes(n: int) -> str:
    size = float(n)
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:,.0f} {unit}" if unit == "B" else f"{size:,.1f} {unit}"
        size /= 1024
    return f"{n} B"


def summary_table(summary: Any, new: int | None = None) -> Table:
    """The scan summary; with `new`, the findings line says how many offenders are not in the baseline."""
    table = Table(title="phiscan scan", show_header=True)
    table.add_column("measure")
    table.add_column("value", justify="right")
    table.add_row("files", f"{summary.files:,}")
    table.add_row("events", f"{summary.events:,}")
    table.add_row("findings", f"{summary.findings:,}")
    new_findings = getattr(summary, "new_findings", summary.findings)
    table.add_row("  new in this output directory",
                  "not counted (too many for the count's memory)" if new_findings is None else f"{new_findings:,}")
    if new is not None:
        table.add_row("  offenders not in the baseline", f"{new:,}" if new else "none new")
    table.add_row("PHI events", f"{summary.phi_events:,}")
    for entity, n in summary.by_entity.most_common():
        table.add_row(f"  {entity}", f"{n:,}")
    for source, n in summary.by_source.most_common():
        table.add_row(f"  source={source}", f"{n:,}")
    for fmt_name, n in summary.formats.most_common():
        table.add_row(f"  files format={fmt_name}", f"{n:,}")
    if summary.skipped:
        table.add_row("skipped (binary items)", f"{summary.skipped:,}")
    for reason, n in summary.skip_reasons.most_common():
        table.add_row(f"  skipped: {reason}", f"{n:,}")
    for reason, n in summary.skipped_files.most_common():
        table.add_row(f"  files not read: {reason}", f"{n:,}")
    table.add_row("errors", f"{summary.errors:,}")
    for reason, n in summary.error_reasons.most_common(5):
        table.add_row(f"  {reason}", f"{n:,}")
    table.add_row("seconds", f"{summary.seconds:.2f}")
    table.add_row("events/s", f"{summary.events_per_second:,.0f}")
    return table


def print_summary(console: Console, summary: Any, new: int | None = None) -> None:
    """Print the summary table (full width off a terminal: nothing is cut) and a one-line verdict."""
    console.print(summary_table(summary, new), width=None if console.is_terminal else 200)
    if new is not None:
        console.print(f"{summary.findings:,} finding(s); {new:,} offender(s) not in the baseline"
                      if new else f"{summary.findings:,} finding(s); none new against the baseline", soft_wrap=True)
    if getattr(summary, "db_path", None):
        console.print(f"findings database: {summary.db_path}", soft_wrap=True)


def print_new_offenders(console: Console, rows: Sequence[tuple], notes: Sequence[str] = (), limit: int = 50) -> None:
    """`--fail-on-new`: name the offenders that fail the job, worst first, and any absent policy file."""
    for note in notes:
        console.print(f"note: {note}", soft_wrap=True)
    console.print(f"offenders not in the baseline: {len(rows):,}", soft_wrap=True)
    for source, route, field_path, entity, findings, severity in rows[:limit]:
        console.print(f"  NEW {severity:<8} {entity:<22} {source} {route} {field_path} ({findings:,} finding(s))",
                      soft_wrap=True, markup=False, highlight=False)
    if len(rows) > limit:
        console.print(f"  … and {len(rows) - limit:,} more (phiscan triage --out DIR lists them)", soft_wrap=True)


def serve_address(host: str, port: int, routes: Sequence[str]) -> str:
    """The line `serve` logs at start: where it listens and which routes are on."""
    shown = f"[{host}]" if ":" in host else host
    return f"phiscan serve listening on http://{shown}:{port} (routes: {', '.join(routes) or 'health only'})"
