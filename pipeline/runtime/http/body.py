"""Request bodies, read as they stream in: content-encodings undone and sizes bounded at every step.

Why streaming: a limit checked only after reading is no limit (a 1 MB gzip can inflate
to gigabytes, and an envelope with a 50 MB attachment would be refused whole though the
attachment is dropped anyway). So each decoder yields bounded pieces, and a sink counts
what it keeps: `Collect` keeps everything up to the body limit, `EnvelopeSlimmer` keeps a
Sentry envelope's headers and JSON items and lets binary payloads stream past.

Errors are `HttpError`s whose messages name sizes and encodings, never content.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator

import orjson

from connectors.sentry import is_json_item

STEP = 1 << 20  # the most a decoder yields at once: memory stays bounded whatever the ratio


class HttpError(Exception):
    """An answer to give instead of processing: status and a content-free message."""

    def __init__(self, status: int, message: str, retry: bool = False):
        super().__init__(message)
        self.status, self.message, self.retry = status, message, retry


class _Zlib:
    """gzip (every member, NUL padding between them ignored) or deflate (zlib-wrapped or raw)."""

    def __init__(self, name: str):
        self.name = name
        self.wbits = 16 + zlib.MAX_WBITS if name == "gzip" else None  # deflate: decided by its first bytes
        self.d = zlib.decompressobj(self.wbits) if self.wbits else None
        self.head = b""
        self.done = False  # the current member ended
        self.started = False

    def _start_deflate(self, data: bytes) -> bytes:
        self.head += data
        if len(self.head) < 2:
            return b""
        b0, b1 = self.head[0], self.head[1]
        # RFC 9110 says deflate is zlib-wrapped; some clients send raw deflate: both are read
        self.wbits = zlib.MAX_WBITS if (b0 & 0x0F) == 8 and ((b0 << 8) | b1) % 31 == 0 else -zlib.MAX_WBITS
        self.d = zlib.decompressobj(self.wbits)
        data, self.head = self.head, b""
        return data

    def feed(self, data: bytes) -> Iterator[bytes]:
        if self.d is None:
            data = self._start_deflate(data)
        try:
            while data:
                if self.done:
                    data = data.lstrip(b"\x00")
                    if not data:
                        return
                    if self.name != "gzip":
                        raise HttpError(400, f"data after the {self.name} body")
                    self.d, self.done = zlib.decompressobj(self.wbits), False
                self.started = True
                out = self.d.decompress(data, STEP)
                if out:
                    yield out
                while self.d.unconsumed_tail:
                    yield self.d.decompress(self.d.unconsumed_tail, STEP)
                if self.d.eof:
                    self.done, data = True, self.d.unused_data
                else:
                    data = b""
        except zlib.error:
            raise HttpError(400, f"invalid {self.name} body") from None

    def close(self) -> None:
        if self.head or (self.started and not self.done):
            raise HttpError(400, f"truncated {self.name} body")


class _Brotli:
    def __init__(self):
        import brotli

        self.brotli = brotli
        self.d = brotli.Decompressor()
        self.started = False

    def feed(self, data: bytes) -> Iterator[bytes]:
        try:
            if data:
                self.started = True
                yield self.d.process(data, output_buffer_limit=STEP)
            while not self.d.can_accept_more_data():
                yield self.d.process(b"", output_buffer_limit=STEP)
        except self.brotli.error:
            raise HttpError(400, "invalid br body") from None

    def close(self) -> None:
        if self.started and not self.d.is_finished():
            raise HttpError(400, "truncated br body")


class _Identity:
    @staticmethod
    def feed(data: bytes) -> Iterator[bytes]:
        yield data

    @staticmethod
    def close() -> None:
        return None


def decoder(encoding: str | None):
    """The incremental decoder of a Content-Encoding header (one coding); 415 for any other."""
    name = (encoding or "identity").strip().lower()
    if name in ("", "identity"):
        return _Identity()
    if name in ("gzip", "x-gzip"):
        return _Zlib("gzip")
    if name == "deflate":
        return _Zlib("deflate")
    if name == "br":
        return _Brotli()
    raise HttpError(415, "unsupported content-encoding (gzip, deflate, br or none)")


class Collect:
    """Keeps every decoded byte, up to `limit`."""

    def __init__(self, limit: int, what: str = "body"):
        self.limit, self.what = limit, what
        self.parts: list[bytes] = []
        self.size = 0

    def write(self, piece: bytes) -> None:
        self.size += len(piece)
        if self.size > self.limit:
            raise HttpError(413, f"{self.what} over {self.limit} bytes")
        self.parts.append(piece)

    def finish(self) -> bytes:
        return b"".join(self.parts)


def decode_all(data: bytes, encoding: str | None, limit: int) -> bytes:
    """A whole body already read (a signed Vercel drain: the signature covers the raw bytes), decoded."""
    dec, sink = decoder(encoding), Collect(limit, "decompressed body" if encoding else "body")
    for piece in dec.feed(data):
        sink.write(piece)
    dec.close()
    return sink.finish()


class EnvelopeSlimmer:
    """A Sentry envelope with its binary payloads dropped as they stream past.

    Attachments, replays and profiles are dropped by the scrubber anyway (unless
    `scrub.keep_binary_items`), so refusing an event because its attachment is large
    would lose the event for nothing. A dropped item keeps its header, rewritten with
    `length: 0`: the header is still scanned and the item still counted as skipped.
    What is kept is bounded by `keep_limit`; everything read by `total_limit`.
    Bad framing is passed on unchanged for the envelope parser to refuse.
    """

    def __init__(self, keep_limit: int, total_limit: int):
        self.kept = Collect(keep_limit, "envelope without its binary items")
        self.total_limit, self.total = total_limit, 0
        self.line = bytearray()
        self.state = "header"  # header | item_header | payload | after_payload | verbatim
        self.remaining: int | None = None  # payload bytes left; None: up to the next newline
        self.keep_payload = True
        self.dropped = 0

    def write(self, piece: bytes) -> None:
        self.total += len(piece)
        if self.total > self.total_limit:
            raise HttpError(413, f"envelope over {self.total_limit} bytes")
        pos, n = 0, len(piece)
        while pos < n:
            if self.state == "verbatim":
                self.kept.write(piece[pos:])
                return
            if self.state in ("header", "item_header"):
                nl = piece.find(b"\n", pos)
                end = n if nl < 0 else nl
                self.line += piece[pos:end]
                if len(self.line) > self.kept.limit:
                    raise HttpError(413, f"envelope header over {self.kept.limit} bytes")
                pos = n if nl < 0 else nl + 1
                if nl >= 0:
                    self._line_done(bytes(self.line))
                    self.line.clear()
            elif self.state == "after_payload":  # the newline that may end a length-delimited payload
                if piece[pos:pos + 1] == b"\n":
                    pos += 1
                self.state = "item_header"
            elif self.remaining is None:
                nl = piece.find(b"\n", pos)
                self._payload(piece[pos:n if nl < 0 else nl])
                pos = n if nl < 0 else nl + 1
                if nl >= 0:
                    self._payload(b"\n")
                    self.state = "item_header"
            else:
                take = min(self.remaining, n - pos)
                self._payload(piece[pos:pos + take])
                self.remaining -= take
                pos += take
                if self.remaining == 0:
                    self.state = "after_payload"
                    if self.keep_payload:
                        self.kept.write(b"\n")

    def _payload(self, data: bytes) -> None:
        if self.keep_payload and data:
            self.kept.write(data)

    def _line_done(self, line: bytes) -> None:
        if self.state == "header":
            self.kept.write(line + b"\n")
            self.state = "item_header"
            return
        if not line.strip():
            return
        try:
            header = orjson.loads(line)
        except orjson.JSONDecodeError:
            header = None
        if not isinstance(header, dict):  # bad framing: kept as it is, for the parser to refuse
            self.kept.write(line + b"\n")
            self.state = "verbatim"
            return
        length = header.get("length")
        self.remaining = length if isinstance(length, int) and length >= 0 else None
        self.keep_payload = is_json_item(header)
        if self.keep_payload:
            self.kept.write(line + b"\n")
        else:
            self.dropped += 1
            self.kept.write(orjson.dumps({**header, "length": 0}) + b"\n\n")
        self.state = "after_payload" if self.remaining == 0 else "payload"
        if self.remaining == 0 and self.keep_payload:
            self.kept.write(b"\n")

    def finish(self) -> bytes:
        if self.line:
            self._line_done(bytes(self.line))
            self.line.clear()
        if self.state == "payload" and self.remaining and not self.keep_payload:
            raise HttpError(400, "envelope item shorter than its length (truncated)")
        return self.kept.finish()
