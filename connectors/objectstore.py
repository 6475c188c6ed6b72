"""Object storage inputs: `s3://bucket/prefix`, `gs://...`, `az://...`, read through fsspec.

Every object under a prefix (or the one object named) is copied into the scan's
private spool (removed when the scan ends) and read like a local file, named by its
URL (`s3://bucket/logs/app.ndjson`: origins, ids and part keys use it). Credentials
are the user's normal chain of each backend (for S3: environment, shared config and
credentials files, SSO, instance roles; `AWS_ENDPOINT_URL` for S3-compatible stores);
phiscan never takes, stores or logs them. The backends are optional extras:
`pip install 'phiscan[cloud]'` gives S3 (`s3fs`); `gcsfs` and `adlfs` add `gs://` and `az://`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path

from connectors.archives import SpooledPath, copy_bounded, skipped_name
from core.model import BadRecord

SCHEMES = ("s3", "s3a", "gs", "gcs", "az", "abfs", "abfss")
MAX_OBJECT_BYTES = 4 << 30


def is_remote(path: str | Path) -> bool:
    """An object-store URL (only a `str` can be one: a `Path` has already folded `//` into `/`)."""
    scheme, sep, _ = path.partition("://") if isinstance(path, str) else ("", "", "")
    return bool(sep) and scheme.lower() in SCHEMES


def _listing(url: str):
    """(file system, scheme, sorted keys) of the objects at `url`, or the BadRecord that says why not."""
    scheme = url.partition("://")[0].lower()
    try:
        import fsspec

        fs, root = fsspec.core.url_to_fs(url)
        keys = sorted(fs.find(root)) if fs.isdir(root) else [root]
    except ImportError:
        return BadRecord("objectstore", url, f"no fsspec backend for {scheme}:// (install phiscan[cloud], "
                                             "gcsfs or adlfs)", 0)
    except Exception as exc:  # noqa: BLE001 - no credentials, no bucket, access denied: named, never echoed
        return BadRecord("objectstore", url, f"cannot list objects ({type(exc).__name__})", 0)
    return fs, scheme, keys


def list_objects(url: str) -> Iterator[str | BadRecord]:
    """The object URLs under `url` (a prefix is listed recursively, in key order), as `fetch` names them.

    The same names, skips and error reasons as `fetch`, without reading an object: a
    distributed scan lists on the client and each worker fetches its own objects.
    """
    listing = _listing(url)
    if isinstance(listing, BadRecord):
        yield listing
        return
    _, scheme, keys = listing
    for key in keys:
        if not skipped_name(key):
            yield f"{scheme}://{key}"


def fetch(url: str, spool: Path, *, max_object_bytes: int = MAX_OBJECT_BYTES
          ) -> Iterator[SpooledPath | BadRecord]:
    """The objects at a URL (a prefix is listed recursively, in key order) as spooled files."""
    listing = _listing(url)
    if isinstance(listing, BadRecord):
        yield listing
        return
    fs, scheme, keys = listing
    target_dir = spool / f"objects-{hashlib.sha256(url.encode()).hexdigest()[:16]}"
    target_dir.mkdir(parents=True, exist_ok=True)
    for index, key in enumerate(keys):
        if skipped_name(key):
            continue
        display = f"{scheme}://{key}"
        target = target_dir / f"{index:06d}-{key.rsplit('/', 1)[-1]}"
        try:
            with fs.open(key, "rb") as src:
                written = copy_bounded(src, target, max_object_bytes)
        except Exception as exc:  # noqa: BLE001 - one unreadable object is bad input, not a dead scan
            target.unlink(missing_ok=True)
            yield BadRecord("objectstore", display, f"cannot read object ({type(exc).__name__})", 0)
            continue
        if written is None:
            yield BadRecord("objectstore", display, f"object over {max_object_bytes} bytes", 0)
            continue
        yield SpooledPath(display, target)
