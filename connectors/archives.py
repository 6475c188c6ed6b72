"""`.zip` archives: each member read as a file of its own, named `archive.zip!member`.

Members are inflated into a private spool directory (the scan's, removed when it
ends) and handed to the ordinary readers as `SpooledPath`s: a path whose name is
`archive.zip!member` (origins, event ids and part keys use it, so a re-scan of the
same archive gives the same ids) and whose bytes are the spooled copy.

Limits, each reported as an error with the archive's name, never its content:
- at most `max_members` files are read (the rest are reported, not scanned);
- at most `max_total_bytes` are inflated, counted as they are written (a member's
  declared size is not trusted: a zip bomb stops at the limit);
- nested archives are not followed; encrypted or corrupt members are bad input.
"""

from __future__ import annotations

import hashlib
import shutil
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path, PosixPath
from typing import IO

from connectors.files import SKIP_SUFFIXES
from core.model import BadRecord

MAX_MEMBERS = 10_000
MAX_TOTAL_BYTES = 4 << 30
ARCHIVE_SUFFIXES = (".zip",)
CHUNK = 1 << 20


class SpooledPath(PosixPath):
    """A spooled copy of a file that lives elsewhere (an archive member, an object in a bucket).

    `str()` and `.name` are the name it has where it lives (`a.zip!logs/app.ndjson`,
    `s3://bucket/key`); opening and `stat()` reach the spooled bytes (`os.fspath`).
    """

    def __new__(cls, display: str, spool: str | Path):
        self = super().__new__(cls, display)
        self._display, self._spool = display, str(spool)  # the display as given: `s3://` keeps its `//`
        return self

    if sys.version_info >= (3, 12):  # pragma: no cover - 3.12 initialises paths in __init__
        def __init__(self, display: str, spool: str | Path):
            super().__init__(display)

    def __str__(self) -> str:
        return getattr(self, "_display", None) or super().__str__()

    def __fspath__(self) -> str:
        return getattr(self, "_spool", None) or super().__str__()  # a derived path (`.parent`) is a plain name

    def __reduce__(self):  # workers get units by pickle
        return (SpooledPath, (self._display, self._spool))


def is_archive(path: Path) -> bool:
    return path.name.lower().endswith(ARCHIVE_SUFFIXES)


def copy_bounded(src: IO[bytes], dst: Path, budget: int) -> int | None:
    """Copy at most `budget` bytes; None (and no file left) when there was more."""
    written = 0
    with open(dst, "wb") as out:
        while chunk := src.read(CHUNK):
            written += len(chunk)
            if written > budget:
                break
            out.write(chunk)
    if written > budget:
        dst.unlink(missing_ok=True)
        return None
    return written


def skipped_name(name: str) -> bool:
    """Hidden files and what a directory walk skips (docs, keys, configs) are skipped inside archives too."""
    base = name.rsplit("/", 1)[-1]
    return not base or base.startswith(".") or base.endswith(SKIP_SUFFIXES) or name.startswith("__MACOSX/")


def expand_zip(path: Path, spool: Path, *, max_members: int = MAX_MEMBERS,
               max_total_bytes: int = MAX_TOTAL_BYTES) -> Iterator[SpooledPath | BadRecord]:
    """The members of a zip archive as spooled files, and what could not be read as bad records."""
    name = str(path)
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as exc:
        yield BadRecord("archive", name, f"cannot read zip archive ({type(exc).__name__})", 0)
        return
    with archive:
        members = [m for m in archive.infolist() if not m.is_dir() and not skipped_name(m.filename)]
        if len(members) > max_members:
            yield BadRecord("archive", name, f"archive has {len(members)} members; only the first {max_members} "
                                             "are read", 0)
            members = members[:max_members]
        budget = max_total_bytes
        target_dir = spool / f"zip-{hashlib.sha256(name.encode()).hexdigest()[:16]}"
        target_dir.mkdir(parents=True, exist_ok=True)
        for index, member in enumerate(members):
            display = f"{name}!{member.filename}"
            if is_archive(Path(member.filename)):
                yield BadRecord("archive", display, "nested archive not followed", member.file_size)
                continue
            target = target_dir / f"{index:06d}-{member.filename.rsplit('/', 1)[-1]}"
            try:
                with archive.open(member) as src:
                    written = copy_bounded(src, target, budget)
            except (zipfile.BadZipFile, RuntimeError, OSError, EOFError, NotImplementedError) as exc:
                target.unlink(missing_ok=True)  # encrypted, corrupt or an unsupported compression
                yield BadRecord("archive", display, f"cannot read archive member ({type(exc).__name__})",
                                member.compress_size)
                continue
            if written is None:
                yield BadRecord("archive", display, f"archive inflates past {max_total_bytes} bytes; "
                                                    "the rest is not read", member.compress_size)
                return
            budget -= written
            yield SpooledPath(display, target)


def remove_spool(spool: Path) -> None:
    """Spooled copies are raw input: removed when the scan that made them ends."""
    shutil.rmtree(spool, ignore_errors=True)
