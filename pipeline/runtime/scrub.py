"""`phiscan scrub INPUT --out OUTPUT`: a clean copy of a file in its own layout; what cannot be scanned is quarantined.

A thin driver of the runtime (`pipeline.runtime.build`): line files (NDJSON, plain
text) are scrubbed line by line in batches, so one bad line is quarantined alone;
JSON arrays, objects and Sentry envelopes are one document each. Quarantine holds
raw input (protect it like the input): `OUTPUT.quarantine`, created mode 0600 and
rewritten on every run, with its reasons, without content, in
`OUTPUT.quarantine.reasons.ndjson`. Findings, errors and coverage are recorded
when a findings directory is given, like any other run.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import sys
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import orjson

from connectors.files import _looks_like_envelope, open_decompressed
from pipeline.runtime.build import Body, Outcome, Recorded, Runtime


@dataclass
class FileScrubSummary:
    records: int = 0
    clean: int = 0
    quarantined: int = 0
    findings: int = 0
    reasons: Counter = field(default_factory=Counter)


def _is_ndjson(head: bytes) -> bool:
    """One JSON object per line (a pretty-printed object's first line is no object on its own)."""
    first = head.lstrip().split(b"\n", 1)[0].strip()
    try:
        return isinstance(orjson.loads(first), dict)
    except orjson.JSONDecodeError:
        return False


def _units(stream: IO[bytes], name: str, per_line: bool) -> Iterator[Body]:
    if not per_line:
        yield Body(stream.read(), name)
        return
    for i, line in enumerate(stream, 1):
        if line.strip():
            yield Body(line.rstrip(b"\n"), f"{name}:{i}")


class _Quarantine:
    """The quarantine file pair of one output, opened (0600, truncated) at the first record that needs it."""

    def __init__(self, dst: Path):
        self.data_path = dst.with_name(dst.name + ".quarantine")
        self.reasons_path = dst.with_name(dst.name + ".quarantine.reasons.ndjson")
        for stale in (self.data_path, self.reasons_path):  # a re-run replaces, never appends
            stale.unlink(missing_ok=True)
        self._data: IO[bytes] | None = None
        self._reasons: IO[bytes] | None = None

    def _open(self, path: Path) -> IO[bytes]:
        return os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "wb")

    def put(self, body: Body, reason: str, per_line: bool) -> None:
        if self._data is None:
            self._data, self._reasons = self._open(self.data_path), self._open(self.reasons_path)
        self._data.write((body.data or b"") + (b"\n" if per_line else b""))
        self._reasons.write(orjson.dumps({"origin": body.origin, "reason": reason, "size": len(body.data or b"")})
                            + b"\n")

    def close(self) -> None:
        for fh in (self._data, self._reasons):
            if fh is not None:
                fh.close()


def scrub_file(src: Path, dst: Path, fmt: str, runtime: Runtime, *, batch_size: int | None = None) -> FileScrubSummary:
    """Scrub `src` (a path, or `-` for standard input) into `dst` in the same layout."""
    summary = FileScrubSummary()
    batch_size = batch_size or runtime.config.scan.batch_size
    stream = sys.stdin.buffer if str(src) == "-" else open_decompressed(src)
    head = stream.peek(65536)[:65536] if hasattr(stream, "peek") else b""
    per_line = fmt == "lines" or (head.lstrip()[:1] == b"{" and not _looks_like_envelope(head) and _is_ndjson(head))
    dst.parent.mkdir(parents=True, exist_ok=True)
    quarantine = _Quarantine(dst)
    key = "scrub-" + hashlib.sha256(str(src).encode()).hexdigest()[:20]
    opener = gzip.open if dst.name.endswith(".gz") else open
    try:
        with stream, opener(dst, "wb") as out:
            batch: list[Body] = []
            for index, body in enumerate(_units(stream, str(src), per_line)):
                batch.append(body)
                if len(batch) >= batch_size:
                    _flush(batch, fmt, runtime, out, quarantine, per_line, summary, f"{key}-{index:08d}")
                    batch = []
            if batch:
                _flush(batch, fmt, runtime, out, quarantine, per_line, summary, f"{key}-last")
    finally:
        quarantine.close()
    return summary


def _flush(batch: list[Body], fmt: str, runtime: Runtime, out: IO[bytes], quarantine: _Quarantine,
           per_line: bool, summary: FileScrubSummary, key: str) -> None:
    outcomes: list[Outcome] = runtime.process_many(batch, fmt, scrub=True)
    done = Recorded()
    for body, outcome in zip(batch, outcomes):
        summary.records += 1
        done.extend(outcome)
        if outcome.quarantined:
            summary.quarantined += 1
            summary.reasons[outcome.reason] += 1
            quarantine.put(body, outcome.reason or "unknown", per_line)
            continue
        summary.clean += 1
        summary.findings += len(outcome.findings)
        clean = outcome.clean or b""
        out.write(clean.rstrip(b"\n") + b"\n" if per_line else clean)
    runtime.record(done, key)
