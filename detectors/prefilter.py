"""One pass over a text to learn which recognizers can match in it at all.

Each recognizer has a cheap trigger regex. With Hyperscan installed, all
triggers are compiled into one database and a text is scanned once, whatever
their number (about 1 µs for a log line, against 20+ µs for the same triggers
run one by one with `re`). Without Hyperscan, or for a trigger it cannot
compile, Python's `re` does the same job more slowly. Either way the answer is
the same set of names.

Compiling the database takes about half a second, most of a scan's start-up
once the model loads lazily; the compiled form is kept in a cache directory
(`PHISCAN_CACHE_DIR`, else `$XDG_CACHE_HOME/phiscan`, else `~/.cache/phiscan`)
under a digest of the patterns, flags and Hyperscan version, and loaded in
about a millisecond. A missing, unwritable or corrupt cache only costs the compile.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path

log = logging.getLogger("phiscan")

try:  # optional accelerator; wheels exist for x86_64 Linux and macOS
    import hyperscan
except ImportError:  # pragma: no cover - depends on the platform
    hyperscan = None


class TriggerSet:
    """Names of the triggers that match a text."""

    def __init__(self, triggers: Mapping[str, re.Pattern[str]], use_hyperscan: bool = True, cache: bool = False):
        self.names = list(triggers)
        self._fallback: list[tuple[int, re.Pattern[str]]] = []  # (place in `names`, trigger) run by `re`
        self._db = None
        if hyperscan is not None and use_hyperscan:
            self._db = self._database(triggers, cache)
        else:
            self._fallback = list(enumerate(triggers.values()))
        self.engine = "hyperscan" if self._db is not None else "re"

    def _database(self, triggers: Mapping[str, re.Pattern[str]], cache: bool):
        """One Hyperscan database of every trigger it can compile; the others go to `re`."""
        rxs = list(triggers.values())
        ids = list(range(len(rxs)))
        try:
            return _compiled(rxs, ids, cache)
        except Exception:  # hyperscan.error: some trigger uses a construct it lacks; find which
            ok = [i for i in ids if self._hs_ok(rxs[i])]
            self._fallback = [(i, rxs[i]) for i in ids if i not in set(ok)]
            return _compiled([rxs[i] for i in ok], ok, cache) if ok else None

    @staticmethod
    def _hs_ok(rx: re.Pattern[str]) -> bool:
        try:
            _compiled([rx], [0], cache=False)
            return True
        except Exception:  # hyperscan.error: unsupported construct
            return False

    def hits(self, text: str) -> set[str]:
        """Names of the triggers that match `text`."""
        names = self.names
        return {names[i] for i in self.matching(text)}

    def matching(self, text: str) -> list[int]:
        """Places in `names` of the triggers that match `text`, in ascending order (the order they were given)."""
        if self._db is not None:
            ids: list[int] = []
            try:
                self._db.scan(text.encode("utf-8", "surrogatepass"), match_event_handler=_collect_id, context=ids)
            except Exception:  # invalid UTF-8 from lone surrogates: be safe, run everything
                return list(range(len(self.names)))
            if not self._fallback:
                return sorted(set(ids)) if len(ids) > 1 else ids
            found = set(ids)
        else:
            found = set()
        for i, rx in self._fallback:
            if rx.search(text):
                found.add(i)
        return sorted(found)


def _collect_id(pid: int, _from: int, _to: int, _flags: int, ids: list[int]) -> None:
    ids.append(pid)


class SpanFinder:
    """`rx.finditer(text)`, with Hyperscan saying where a match can be so that `re` runs only there.

    A large case-insensitive alternation (`ContextScanner`'s secret words and vendor names)
    costs `re` a try of every branch at every position: 300 us for a 200-character log
    line. Hyperscan finds, in one pass, each end of a match with its leftmost start; every
    `re` match lies inside one of those spans, so `re` searches the merged spans (one
    character past each, for a trailing `\b`) and its matches are the ones the whole-text
    search gives, for texts of every length (`GET /api/auth/session 200 in 12ms` cost `re` alone
    60 us, and 6 us this way). Non-ASCII texts (Hyperscan counts bytes) go to `re` directly.
    """

    def __init__(self, rx: re.Pattern[str]):
        self.rx = rx
        self._db = None
        if hyperscan is not None:
            try:
                db = hyperscan.Database()
                flags = (_hs_flags(rx) & ~hyperscan.HS_FLAG_SINGLEMATCH) | hyperscan.HS_FLAG_SOM_LEFTMOST
                db.compile(expressions=[rx.pattern.encode()], ids=[0], elements=1, flags=[flags])
                self._db = db
            except Exception:  # a construct Hyperscan cannot track starts for: `re` alone
                self._db = None

    def finditer(self, text: str) -> Iterator[re.Match[str]]:
        if self._db is None or not text.isascii():
            yield from self.rx.finditer(text)
            return
        spans: list[tuple[int, int]] = []

        def on_match(_pid: int, start: int, end: int, _flags: int, _ctx: object) -> None:
            spans.append((start, end))

        try:
            self._db.scan(text.encode("ascii"), match_event_handler=on_match)
        except Exception:  # be safe: the whole-text search
            yield from self.rx.finditer(text)
            return
        spans.sort()
        merged: list[list[int]] = []
        for start, end in spans:
            if merged and start <= merged[-1][1] + 1:
                merged[-1][1] = max(merged[-1][1], end)
            else:
                merged.append([start, end])
        pos, n = 0, len(text)
        for start, end in merged:
            for m in self.rx.finditer(text, max(start, pos), min(n, end + 1)):
                if m.end() > end and m.end() == min(n, end + 1) < n:
                    continue  # ends at the window's edge, where `re` saw an end of text that is not there
                yield m
                pos = m.end()


def _hs_flags(rx: re.Pattern[str]) -> int:
    flags = hyperscan.HS_FLAG_SINGLEMATCH | hyperscan.HS_FLAG_UTF8
    if rx.flags & re.IGNORECASE:
        flags |= hyperscan.HS_FLAG_CASELESS
    if rx.flags & re.DOTALL:
        flags |= hyperscan.HS_FLAG_DOTALL
    if rx.flags & re.MULTILINE:
        flags |= hyperscan.HS_FLAG_MULTILINE
    return flags


def cache_dir() -> Path:
    """Where compiled trigger databases are kept between runs."""
    explicit = os.environ.get("PHISCAN_CACHE_DIR")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "phiscan"


def _compiled(rxs: list[re.Pattern[str]], ids: list[int], cache: bool):
    """A compiled block-mode database of `rxs`; from the cache when an identical one was compiled before."""
    expressions = [rx.pattern.encode() for rx in rxs]
    flags = [_hs_flags(rx) for rx in rxs]
    path = None
    if cache:
        digest = hashlib.sha256(repr((getattr(hyperscan, "__version__", ""), expressions, flags, ids)).encode())
        path = cache_dir() / f"triggers-{digest.hexdigest()[:32]}.hsdb"
        try:
            db = hyperscan.loadb(path.read_bytes(), hyperscan.HS_MODE_BLOCK)
            db.scratch = hyperscan.Scratch(db)  # a loaded database has none; scans would fail without it
            return db
        except Exception:  # absent, unreadable or not a database of this build: compile it
            pass
    db = hyperscan.Database()
    db.compile(expressions=expressions, ids=ids, elements=len(ids), flags=flags)
    if path is not None:
        _store(path, hyperscan.dumpb(db))
    return db


def _store(path: Path, data: bytes) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".triggers-")
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
    except OSError as exc:
        log.debug("trigger cache not written (%s): compiling at each start", exc.strerror or type(exc).__name__)
