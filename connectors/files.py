"""Reading JSON records from files safely: gzip/zstd, NDJSON, JSON arrays, single objects.

Every connector that reads files goes through `read_json_records`, which yields
either a `RawRecord` (a parsed JSON value with its origin) or a `BadRecord`
(origin, reason, size: never content). Limits on record size apply before
parsing, so a 2 GB line cannot exhaust memory, and junk never raises.
"""

from __future__ import annotations

import gzip
import io
import os
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import orjson

from core.model import BadRecord

try:
    from zstandard import ZstdError
except ImportError:  # pragma: no cover
    ZstdError = OSError  # type: ignore[misc,assignment]

# What a corrupt or truncated compressed stream raises: reported as bad input, never a traceback.
DECODE_ERRORS = (OSError, EOFError, gzip.BadGzipFile, ZstdError)
GZIP_MAGIC = b"\x1f\x8b"
ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
SKIP_SUFFIXES = (".md", ".key", ".duckdb", ".wal", ".yaml", ".yml", ".py")
PROTOBUF_SUFFIXES = (".pb", ".binpb", ".protobuf")  # OTLP export requests (the OTel file exporter's names)


@dataclass(slots=True, unsafe_hash=True)  # one an event: not frozen (see VALUE in core/model.py)
class RawRecord:
    """One parsed JSON value read from a file, before a connector makes it an `Event`."""

    value: Any
    origin: str
    size: int
    file: str
    position: int  # 1-based line (NDJSON) or 0-based array index; 0 for a single object
    layout: str  # "ndjson" | "array" | "object" | "protobuf" (an OTLP request, decoded to its JSON shape)


def iter_input_files(paths: Iterable[str | Path], on_skip=None) -> Iterator[Path]:
    """Files named directly, and every file below named directories (sorted).

    Inside directories, hidden entries, phiscan's own files (docs, keys, databases,
    configs), labels files and phiscan output directories are not read; each one is
    told to `on_skip(path, reason)`, so a scan can say what it left out and why.
    """
    skip = on_skip or (lambda path, reason: None)
    for p in paths:
        path = Path(p)
        if not path.is_dir():
            yield path
            continue
        for root, dirs, files in os.walk(path):
            if "findings.duckdb" in files:  # a phiscan output directory: never scan our own findings
                skip(Path(root), "a phiscan output directory")
                dirs[:] = []
                continue
            for d in sorted(d for d in dirs if d.startswith(".")):
                skip(Path(root) / d, "hidden directory")
            dirs[:] = sorted(d for d in dirs if not d.startswith("."))
            for name in sorted(files):
                reason = ("hidden file" if name.startswith(".") else
                          f"not telemetry ({Path(name).suffix})" if name.endswith(SKIP_SUFFIXES) else
                          "a labels file" if name == "labels.jsonl" else None)
                if reason:
                    skip(Path(root) / name, reason)
                    continue
                yield Path(root) / name


def open_decompressed(path: Path) -> IO[bytes]:
    """A binary stream of the file's content, transparently gunzipped or zstd-decoded."""
    raw = open(path, "rb")
    head = raw.peek(4)[:4] if hasattr(raw, "peek") else b""
    if head.startswith(GZIP_MAGIC):
        return gzip.GzipFile(fileobj=raw)  # type: ignore[return-value]
    if head.startswith(ZSTD_MAGIC):
        import zstandard

        return zstandard.ZstdDecompressor().stream_reader(raw, closefd=True)  # type: ignore[return-value]
    return raw


def read_whole(path: Path, source: str, max_bytes: int, what: str) -> bytes | BadRecord:
    """A whole (decompressed) file that is one document, bounded: its bytes, or why it cannot be read."""
    name = str(path)
    try:
        with open_decompressed(path) as stream:
            data = stream.read(max_bytes + 1)
    except DECODE_ERRORS as exc:
        return BadRecord(source, name, f"cannot read {what} ({type(exc).__name__})", 0)
    if len(data) > max_bytes:
        return BadRecord(source, name, f"{what} over {max_bytes} bytes", len(data))
    return data


def _json_error(exc: Exception) -> str:
    # orjson's message names the problem and position, never the text; keep only that.
    msg = str(exc).split(":")[0] if isinstance(exc, orjson.JSONDecodeError) else type(exc).__name__
    return f"invalid JSON ({msg})"


def _read_lines(stream: IO[bytes], max_bytes: int, first_lineno: int = 1,
                stop_after: int | None = None) -> Iterator[tuple[int, bytes | None, int]]:
    """(line number, line or None if over the limit, size) without loading oversize lines.

    With `stop_after`, no line is started once that many bytes were consumed: a
    byte range owns exactly the lines that start inside it.
    """
    lineno = first_lineno - 1
    consumed = 0
    while stop_after is None or consumed < stop_after:
        line = stream.readline(max_bytes + 1)
        if not line:
            return
        lineno += 1
        consumed += len(line)
        if len(line) > max_bytes and not line.endswith(b"\n"):
            size = len(line)
            while True:  # drain the rest of the oversize line
                more = stream.readline(1 << 20)
                size += len(more)
                consumed += len(more)
                if not more or more.endswith(b"\n"):
                    break
            yield lineno, None, size
            continue
        yield lineno, line, len(line)


@dataclass(frozen=True, slots=True)
class ByteRange:
    """A slice of an uncompressed line-oriented file: lines starting in [start, end)."""

    start: int
    end: int
    first_lineno: int


def split_lines_file(path: Path, target_bytes: int) -> list[ByteRange]:
    """Ranges of about `target_bytes`, cut at line ends, with the line number each starts at."""
    size = path.stat().st_size
    if size <= target_bytes:
        return [ByteRange(0, size, 1)]
    ranges: list[ByteRange] = []
    with open(path, "rb") as fh:
        start, lineno, pos = 0, 1, 0
        buf_lines = 0
        while pos < size:
            chunk = fh.read(max(1, min(1 << 20, size - pos, start + target_bytes - pos)))  # up to the target
            if not chunk:
                break
            buf_lines += chunk.count(b"\n")
            pos += len(chunk)
            if pos - start >= target_bytes:
                line = fh.readline()  # finish the current line
                pos += len(line)
                buf_lines += line.count(b"\n")
                ranges.append(ByteRange(start, pos, lineno))
                lineno += buf_lines
                buf_lines = 0
                start = pos
        if start < size:
            ranges.append(ByteRange(start, size, lineno))
    return ranges


def read_range(path: Path, source: str, rng: ByteRange, *, max_record_bytes: int,
               text: bool) -> Iterator[RawRecord | BadRecord]:
    """Records of one byte range of an uncompressed NDJSON (or plain-text) file."""
    name = str(path)
    with open(path, "rb") as fh:
        fh.seek(rng.start)
        for lineno, line, size in _read_lines(fh, max_record_bytes, rng.first_lineno, rng.end - rng.start):
            yield from _line_record(name, source, lineno, line, size, max_record_bytes, text)


def _line_record(name: str, source: str, lineno: int, line: bytes | None, size: int, max_record: int,
                 text: bool) -> Iterator[RawRecord | BadRecord]:
    origin = f"{name}:{lineno}"
    if line is None:
        yield BadRecord(source, origin, f"record over {max_record} bytes", size)
        return
    if text:
        value = line.decode("utf-8", "replace").rstrip("\r\n")
        if value.strip():
            yield RawRecord(value, origin, size, name, lineno, "lines")
        return
    if not line.strip():
        return
    try:
        yield RawRecord(orjson.loads(line), origin, size, name, lineno, "ndjson")
    except orjson.JSONDecodeError as exc:
        yield BadRecord(source, origin, _json_error(exc), size)


def read_json_records(path: Path, source: str, *, max_record_bytes: int,
                      max_file_bytes_for_arrays: int = 1 << 30,
                      split_arrays: bool = True) -> Iterator[RawRecord | BadRecord]:
    """Parsed JSON records of `path`, its layout detected from the content.

    With `split_arrays=False` a top-level JSON array is one record (a document a
    connector splits itself: a Sentry envelope saved as a list, a Snuba row)."""
    name = str(path)
    try:
        stream = open_decompressed(path)
    except OSError as exc:
        yield BadRecord(source, name, f"cannot open file ({exc.strerror or type(exc).__name__})", 0)
        return
    with stream:
        try:
            buffered = io.BufferedReader(stream) if not hasattr(stream, "peek") else stream
            head = buffered.peek(8192)[:8192]
        except DECODE_ERRORS as exc:
            yield BadRecord(source, name, f"cannot read file ({type(exc).__name__})", 0)
            return
        first = head.lstrip()[:1]
        if not head.strip():
            yield BadRecord(source, name, "empty file", 0)
            return
        if b"\x00" in head:
            yield BadRecord(source, name, "binary file, not JSON or NDJSON", path.stat().st_size)
            return
        try:
            if first == b"[":
                yield from _read_array(buffered, name, source, max_record_bytes, max_file_bytes_for_arrays,
                                       split_arrays)
            else:
                yield from _read_ndjson(buffered, name, source, max_record_bytes)
        except DECODE_ERRORS as exc:
            yield BadRecord(source, name, f"truncated or corrupt file ({type(exc).__name__})", 0)


def _read_array(stream: IO[bytes], name: str, source: str, max_record: int, max_file: int,
                split: bool = True) -> Iterator[RawRecord | BadRecord]:
    data = stream.read(max_file + 1)
    if len(data) > max_file:
        yield BadRecord(source, name, f"JSON array file over {max_file} bytes; use NDJSON", len(data))
        return
    try:
        value = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        yield BadRecord(source, name, _json_error(exc), len(data))
        return
    if not split:
        yield RawRecord(value, name, len(data), name, 0, "array")
        return
    for i, item in enumerate(value):
        size = len(orjson.dumps(item))
        origin = f"{name}#{i}"
        if size > max_record:
            yield BadRecord(source, origin, f"record over {max_record} bytes", size)
            continue
        yield RawRecord(item, origin, size, name, i, "array")


def _read_ndjson(stream: IO[bytes], name: str, source: str, max_record: int) -> Iterator[RawRecord | BadRecord]:
    for lineno, line, size in _read_lines(stream, max_record):
        stripped = line.strip() if line is not None else b""
        if lineno == 1 and stripped.startswith(b"{") and not stripped.endswith(b"}"):
            # A pretty-printed single object spans many lines: read it whole.
            yield _read_single_object(line + stream.read(max_record + 1 - len(line)), name, source, max_record)
            return
        yield from _line_record(name, source, lineno, line, size, max_record, text=False)


def _read_single_object(data: bytes, name: str, source: str, max_record: int) -> RawRecord | BadRecord:
    if len(data) > max_record:
        return BadRecord(source, name, f"record over {max_record} bytes", len(data))
    try:
        return RawRecord(orjson.loads(data), name, len(data), name, 0, "object")
    except orjson.JSONDecodeError as exc:
        return BadRecord(source, name, _json_error(exc), len(data))


PARQUET_MAGIC = b"PAR1"
ENVELOPE_HEADER_KEYS = frozenset({"event_id", "dsn", "sent_at", "sdk", "trace"})
ENVELOPE_ITEM_TYPES = frozenset({"event", "transaction", "attachment", "session", "sessions", "user_report", "feedback",
                                 "client_report", "replay_event", "replay_recording", "replay_video", "profile",
                                 "profile_chunk", "check_in", "log", "otel_log", "span", "statsd", "metric_meta"})


def _base_name(path: Path) -> str:
    name = path.name.lower()
    for ext in (".gz", ".zst", ".zstd"):
        if name.endswith(ext):
            name = name[: -len(ext)]
    return name


def _looks_like_envelope(head: bytes) -> bool:
    """A header line of envelope keys, then an item header line naming a `type`."""
    lines = head.split(b"\n", 2)
    if len(lines) < 2:
        return False
    try:
        header, item = orjson.loads(lines[0]), orjson.loads(lines[1])
    except orjson.JSONDecodeError:
        return False
    if not (isinstance(header, dict) and isinstance(item, dict) and "type" in item
            and bool(set(header) & ENVELOPE_HEADER_KEYS)):
        return False
    if set(header) <= ENVELOPE_HEADER_KEYS | {"type"}:
        return True
    # a header with keys of its own (SDKs add them): still an envelope when the next line is an item
    # header, small and of a known item type, not an event (NDJSON of events also starts `event_id`)
    return (str(item.get("type")) in ENVELOPE_ITEM_TYPES and len(item) <= 8
            and not any(k in item for k in ("event_id", "message", "exception", "spans", "contexts")))


def sniff_layout(path: Path) -> str:
    """`json`, `text`, `envelope`, `csv`, `parquet`, `protobuf`, `binary` or `empty`, from the file's first bytes."""
    try:
        with open(path, "rb") as raw:
            if raw.read(4) == PARQUET_MAGIC:
                return "parquet"
        with open_decompressed(path) as stream:
            head = stream.read(65536)
    except DECODE_ERRORS:
        return "binary"
    except Exception:  # zstandard.ZstdError and friends: a corrupt compressed file
        return "binary"
    if not head.strip():
        return "empty"
    base = _base_name(path)
    if base.endswith(PROTOBUF_SUFFIXES):
        return "protobuf"  # binary by nature: named, never guessed
    if base.endswith(".envelope") or _looks_like_envelope(head):
        return "envelope"  # before the NUL check: envelopes carry binary attachments
    if b"\x00" in head:
        return "binary"
    if base.endswith(".csv"):
        return "csv"
    start = head.lstrip()
    if start[:1] == b"{":
        return "json" if start[1:].lstrip()[:1] in (b'"', b"}") else "text"
    if start[:1] == b"[":
        nxt = start[1:].lstrip()[:1]
        if nxt and nxt in b'{["]':
            return "json"
        # `[1, 2]` is JSON; `[2018-10-17 12:04:41,718] INFO …` and `[10.30 16:49:06] …` are log lines
        return "json" if _JSON_SCALAR_ITEM.match(start) else "text"
    return "text"


# a top-level array whose first item is a number or literal, followed by `,` or `]`
_JSON_SCALAR_ITEM = re.compile(rb"\[\s*(?:-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?|true|false|null)\s*[,\]]")


def read_text_lines(path: Path, source: str, *, max_record_bytes: int) -> Iterator[RawRecord | BadRecord]:
    """Each non-empty line of a plain-text log as a record (invalid UTF-8 replaced, never fatal)."""
    name = str(path)
    try:
        stream = open_decompressed(path)
    except OSError as exc:
        yield BadRecord(source, name, f"cannot open file ({exc.strerror or type(exc).__name__})", 0)
        return
    with stream:
        try:
            for lineno, line, size in _read_lines(stream, max_record_bytes):
                yield from _line_record(name, source, lineno, line, size, max_record_bytes, text=True)
        except DECODE_ERRORS as exc:
            yield BadRecord(source, name, f"truncated or corrupt file ({type(exc).__name__})", 0)
