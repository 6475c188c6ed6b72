"""Batch scans on a Dask cluster: historical logs in object storage, the findings of a one-machine scan.

    from pipeline.runtime.distributed import scan_paths_dask
    summary = scan_paths_dask(["s3://lake/vercel/2025/"], "out", scheduler="tcp://scheduler:8786")

`scan_paths` plans the units on the client (the same `Unit`s, so the same keys, as a
one-machine scan), a `DaskExecutor` runs one task per unit, and the client writes what
each task sends back, under the same batch keys, into its own output directory:

- Workers need no shared filesystem for the output. A task returns what `Runtime.record`
  would have written, batch by batch (findings without their in-memory `location`, flagged
  events, bad records, coverage counts: no event, no raw value), and the client writes it
  as results arrive (`as_completed`, at most `max_in_flight` tasks out at once).
- Object-store objects and `.zip` archives are not spooled on the client: it lists the
  objects, and the worker that gets one fetches (or expands) it into its own temporary
  directory, plans it as `plan_units` would (format, byte ranges), scans it and removes it.
  Local paths must be visible to the workers at the same path (a shared filesystem).
- The runtime is built once per worker process (the model load is the cost), cached under a
  digest of the config and key, never shipped in the task graph.
- The fingerprint key is resolved on the client (`fingerprint_key`: env, config or
  `DIR/.phiscan-key`) and reaches the workers inside a `WorkerPlugin` registered for this
  scan and removed after it: never in a task's arguments (Dask logs those when a task fails),
  never printed. Dask's comms carry it: use TLS (`tls://` and a `distributed.comm.tls`
  config) anywhere but a single host.
- Re-running or retrying writes the same parts (deterministic keys) and the DuckDB views
  dedupe by `finding_id`, so a worker lost mid-task (Dask reschedules it) adds nothing.
  Bad input stays a bad record with its reason; a unit that fails on a worker (a crash, or
  a worker that dies on it) is quarantined as an error for that unit and the scan goes on.
"""

from __future__ import annotations

import copy
import dataclasses
import hashlib
import logging
import tempfile
import threading
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from connectors.archives import remove_spool, skipped_name
from connectors.registry import FormatError
from core.model import BadRecord
from detectors.analyzer import ModelNotInstalled
from pipeline.config import Config, ConfigError
from pipeline.runtime.build import Runtime, build, fingerprint_key
from pipeline.runtime.scan import UNIT_BYTES, ScanSummary, Unit, plan_units, scan_paths, scan_unit

log = logging.getLogger("phiscan")

try:  # the [dask] extra
    from distributed import Client, LocalCluster, WorkerPlugin, as_completed, get_worker
    from distributed.scheduler import KilledWorker
except ImportError:  # pragma: no cover - exercised by installs without the extra
    Client = LocalCluster = as_completed = get_worker = KilledWorker = None  # type: ignore[assignment,misc]
    WorkerPlugin = object  # type: ignore[assignment,misc]

DASK_MISSING = "Dask scans need the dask extra: pip install 'phiscan[dask]' (dask and distributed)"


def require_dask() -> None:
    """Raises ImportError, saying which extra to install, when dask or distributed is missing."""
    if Client is None:
        raise ImportError(DASK_MISSING)


# -- what travels ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class Deferred:
    """An object or archive a worker fetches or expands, then plans and scans (see `plan_units(deferred=)`)."""

    name: str
    fmt: str
    unit_bytes: int

    @property
    def key(self) -> str:
        return Unit(Path(self.name), "unknown").key  # what `_input_error` keys an input's errors by

    @property
    def size(self) -> int:
        return 0  # not known before it is fetched


@dataclass
class _Done:
    """A unit scanned: its summary and the store writes `record` made, in order (kind, batch key, rows)."""

    summary: ScanSummary
    writes: list[tuple[str, str, object]] = field(default_factory=list)


@dataclass
class _Failed:
    """A unit that could not be scanned: a content-free reason, or an error that stops the scan."""

    reason: str
    fatal: BaseException | None = None


_WRITES = ("findings", "flagged", "errors", "coverage")


class _Capture:
    """Store-shaped: keeps what would be written (sent back to the client) instead of writing it."""

    root = None

    def __init__(self) -> None:
        self.writes: list[tuple[str, str, object]] = []

    def write_findings(self, findings, key: str) -> int:
        # `location` is the raw field path, for an in-process scrubber only: never leaves the worker
        self.writes.append(("findings", key, [dataclasses.replace(f, location=None) for f in findings]))
        return len(findings)

    def write_flagged(self, flagged, key: str) -> int:
        self.writes.append(("flagged", key, list(flagged)))
        return len(flagged)

    def write_errors(self, bad, key: str) -> int:
        self.writes.append(("errors", key, list(bad)))
        return len(bad)

    def write_coverage(self, counts, key: str) -> None:
        self.writes.append(("coverage", key, dict(counts)))


def _replay(store, writes: Sequence[tuple[str, str, object]]) -> None:
    for kind, key, rows in writes:
        if kind not in _WRITES:
            raise ValueError(f"unknown write {kind!r} from a worker")
        getattr(store, f"write_{kind}")(rows, key)


# -- workers ----------------------------------------------------------------------------------------
_RUNTIMES: dict[str, Runtime] = {}  # per worker process: config+key digest -> runtime (engine, model loaded)
_RUNTIMES_MAX = 4
_BUILD = threading.Lock()


def worker_runtime(config: Config, key: bytes) -> Runtime:
    """This process's runtime for a config and key, built on first use and then reused.

    Not `build()`: that resolves the key from this process's environment or disk, and a
    worker must use the client's key (else its fingerprints would silently differ). The
    rest is what `build` composes: the engine, the scrubber, no store (the client writes).
    """
    digest = hashlib.sha256(config.model_dump_json().encode() + b"\x00" + key).hexdigest()
    with _BUILD:
        runtime = _RUNTIMES.get(digest)
        if runtime is None:
            from connectors import jsonlogs
            from pipeline.engine.fingerprint import Fingerprinter
            from pipeline.engine.redact import Scrubber
            from pipeline.engine.scanner import ScanEngine, tune_gc

            jsonlogs.configure(config.formats.jsonlogs.message_keys, config.formats.jsonlogs.time_keys)
            runtime = Runtime(config, ScanEngine(config, Fingerprinter(key)), Scrubber(config.scrub, key), None)
            tune_gc()
            while len(_RUNTIMES) >= _RUNTIMES_MAX:
                _RUNTIMES.pop(next(iter(_RUNTIMES)))
            _RUNTIMES[digest] = runtime
        return runtime


class ScanPlugin(WorkerPlugin):
    """The config and fingerprint key of one scan, on every worker (and every worker that joins later).

    Registered by the client for the scan and unregistered after it. Its repr never shows the key.
    """

    def __init__(self, name: str, config: Config, key: bytes):
        self.name = name
        self._config = config
        self._key = key

    def __repr__(self) -> str:
        return f"<phiscan ScanPlugin {self.name}>"

    __str__ = __repr__

    def setup(self, worker) -> None:  # the model loads in the first task, off the worker's event loop
        self._worker_dir = getattr(worker, "local_directory", None)

    def runtime(self) -> Runtime:
        return worker_runtime(self._config, self._key)


# errors that stop the scan, as they do on one machine; their messages are phiscan's own (no content)
_FATAL = (FormatError, ModelNotInstalled, ConfigError, ImportError)


def _scan_task(plugin_name: str, work: Unit | Deferred) -> _Done | _Failed:
    """One unit on a worker. Never raises: Dask logs a failed task's arguments and exception text,
    and an exception (a decode error, say) can carry input bytes, so only a type name leaves here."""
    try:
        plugin = get_worker().plugins.get(plugin_name)
        if plugin is None:
            return _Failed("no plugin", fatal=RuntimeError(f"a Dask worker has no {plugin_name} plugin "
                                                            "(was the scan's plugin unregistered?)"))
        capture = _Capture()
        runtime = copy.copy(plugin.runtime())  # shares the engine and its lock; records into `capture`
        runtime.store = capture
        if isinstance(work, Deferred):
            part = _scan_deferred(work, runtime, capture, getattr(plugin, "_worker_dir", None))
        else:
            part = scan_unit(work, runtime)
        return _Done(part, capture.writes)
    except _FATAL as exc:
        return _Failed(f"{type(exc).__name__}", fatal=exc)
    except Exception as exc:  # noqa: BLE001 - one unit's failure is that unit's error, not a dead scan
        log.warning("%s: scan failed on a worker (%s)", _name(work), type(exc).__name__)
        return _Failed(f"scan failed on a worker ({type(exc).__name__})")


def _scan_deferred(work: Deferred, runtime: Runtime, capture: _Capture, worker_dir: str | None) -> ScanSummary:
    """Fetch or expand one object or archive into a private spool here, plan it and scan its units."""
    part = ScanSummary()
    spool = Path(tempfile.mkdtemp(prefix="phiscan-spool-", dir=worker_dir))  # 0700, removed below
    try:
        units = plan_units([work.name], work.fmt, part, capture, work.unit_bytes,
                           runtime.config.limits.max_record_bytes, spool)
        for unit in units:
            part.add(scan_unit(unit, runtime))
    finally:
        remove_spool(spool)
    return part


def _name(work: Unit | Deferred) -> str:
    return work.name if isinstance(work, Deferred) else str(work.path)


# -- the client -------------------------------------------------------------------------------------
class DaskExecutor:
    """Runs a scan's units as Dask tasks; writes their results into the client's store as they arrive."""

    defers = True

    def __init__(self, client, plugin_name: str, fmt: str, unit_bytes: int, max_in_flight: int):
        self.client = client
        self.plugin_name = plugin_name
        self.fmt = fmt
        self.unit_bytes = unit_bytes
        self.max_in_flight = max(1, max_in_flight)

    def run(self, units: Sequence[Unit], deferred: Sequence[str], runtime: Runtime,
            on_progress: Callable[[int, int], None] | None) -> Iterator[ScanSummary]:
        work: list[Unit | Deferred] = [*units, *(Deferred(n, self.fmt, self.unit_bytes) for n in deferred)]
        pending = iter(work)
        out: dict[str, tuple[Unit | Deferred, object]] = {}  # task key -> (unit, future), submitted, not yet written
        running = as_completed()

        def submit_next() -> None:
            item = next(pending, None)
            if item is None:
                return
            future = self.client.submit(_scan_task, self.plugin_name, item, key=f"{self.plugin_name}-{item.key}",
                                        pure=False)
            out[future.key] = (item, future)
            running.add(future)

        for _ in range(self.max_in_flight):
            submit_next()
        try:
            for future in running:
                item, _ = out.pop(future.key)
                try:
                    outcome = future.result()
                except KilledWorker:  # the worker died on it every time it was tried: poison input
                    outcome = _Failed("a worker died scanning this input (KilledWorker)")
                future.release()
                submit_next()
                if isinstance(outcome, _Failed):
                    if outcome.fatal is not None:
                        raise outcome.fatal
                    part = _quarantine(runtime.store, item, outcome.reason)
                else:
                    _replay(runtime.store, outcome.writes)
                    _forget_failure(runtime.store, item)
                    part = outcome.summary
                if on_progress:
                    on_progress(part.bytes, part.events)
                yield part
        finally:
            if out:  # stopped early (an error, or the caller): nothing more runs for this scan
                self.client.cancel([f for _, f in out.values()])


def _failure_key(item: Unit | Deferred) -> str:
    return f"{item.key}-task"


def _quarantine(store, item: Unit | Deferred, reason: str) -> ScanSummary:
    """A unit that failed on the cluster: one error for it, with its reason (no content)."""
    source = item.fmt if isinstance(item, Unit) else "unknown"
    if store is not None:
        store.write_errors([BadRecord(source, _name(item), reason, item.size)], _failure_key(item))
    log.warning("%s: %s", _name(item), reason)
    part = ScanSummary(errors=1)
    part.error_reasons[reason] += 1
    return part


def _forget_failure(store, item: Unit | Deferred) -> None:
    """A unit that failed in an earlier run and is scanned now: its old failure record goes."""
    root = getattr(store, "root", None)
    if root is None:
        return
    for stale in (Path(root) / "errors").glob(f"date=*/part-{_failure_key(item)}.parquet"):
        stale.unlink(missing_ok=True)


class _ClientEngine:
    """The client's runtime has a store and a key but no model: the engines run on the workers."""

    def scan(self, events):
        raise RuntimeError("a Dask scan runs its engines on the workers")


class ClusterError(RuntimeError):
    """The Dask scheduler cannot be reached (or `--dask` names none)."""


def local_workers(scheduler: str) -> int | None:
    """`local` -> one worker per core, `local:N` -> N, an address -> None. Raises ClusterError for `local:x`."""
    text = scheduler.strip()
    if text != "local" and not text.startswith("local:"):
        if "://" not in text and ":" not in text:
            raise ClusterError(f"--dask {scheduler!r}: give local, local:N or a scheduler address "
                               "(tcp://host:8786)")
        return None
    count = text.partition(":")[2]
    if not count:
        from pipeline.runtime.scan import default_workers

        return default_workers()
    if not (count.isdigit() and int(count) >= 1):
        raise ClusterError(f"--dask {scheduler!r}: the number of local workers must be a whole number >= 1")
    return int(count)


@contextmanager
def connect(scheduler) -> Iterator:
    """A Dask client: a `distributed.Client` as given (left open), `local` / `local:N` (a LocalCluster
    of N single-threaded worker processes, default one per core, closed after), or a scheduler
    address (`tcp://host:8786`, `tls://...`)."""
    require_dask()
    if isinstance(scheduler, Client):
        yield scheduler
        return
    n = local_workers(str(scheduler))
    if n is not None:
        # the scheduler's HTTP server (dashboard, health) on a free loopback port, not a fixed :8787
        with LocalCluster(n_workers=n, threads_per_worker=1, processes=True,
                          dashboard_address="127.0.0.1:0") as cluster, Client(cluster) as client:
            log.info("a local Dask cluster of %d workers; its dashboard: %s", n, client.dashboard_link)
            yield client
        return
    try:
        client = Client(str(scheduler).strip())
    except (OSError, TimeoutError) as exc:
        raise ClusterError(f"cannot reach the Dask scheduler at {scheduler} ({type(exc).__name__})") from None
    with client:
        yield client


def scan_paths_dask(
    paths: Sequence[str | Path],
    out_dir: str | Path,
    *,
    scheduler="local",
    fmt: str = "auto",
    config: Config | None = None,
    unit_bytes: int = UNIT_BYTES,
    explain: bool = False,
    on_progress: Callable[[int, int], None] | None = None,
    max_in_flight: int | None = None,
) -> ScanSummary:
    """`scan_paths` on a Dask cluster (`scheduler`: see `connect`): the same findings, parts and summary.

    Raises ImportError without the dask extra, ConfigError for a bad key, FormatError as `scan_paths`.
    """
    require_dask()
    config = config or Config()
    out = Path(out_dir)
    runtime = build(config, out_dir=out, engine=_ClientEngine())  # the store (and a key file, made once)
    key = fingerprint_key(config, out)  # what the workers fingerprint with: never logged
    name = f"phiscan-scan-{uuid.uuid4().hex[:12]}"
    with connect(scheduler) as client:
        client.register_plugin(ScanPlugin(name, config, key), name=name)
        try:
            threads = sum(client.nthreads().values())
            executor = DaskExecutor(client, name, fmt, unit_bytes, max_in_flight or 2 * max(threads, 1))
            return scan_paths(paths, out, fmt=fmt, config=config, runtime=runtime, unit_bytes=unit_bytes,
                              explain=explain, on_progress=on_progress, executor=executor)
        finally:
            try:
                client.unregister_worker_plugin(name)  # the key leaves the scheduler's plugin table
            except Exception as exc:  # noqa: BLE001 - a cluster gone already has no plugin to remove
                log.debug("unregistering %s: %s", name, type(exc).__name__)
