"""The official Node clients (@sentry/node, posthog-node, @segment/analytics-node) pointed at phiscan.

Node apps (Next.js API routes, workers) send through these libraries. `make test` installs
them (pinned in tests/js/package.json) into .venv/js; each is driven by tests/js/send.js
against phiscan, which forwards to a loopback upstream that records what it gets: the client
reports success, the upstream gets every event, and no planted canary arrives.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.test_clients_sentry import canaries
from tests.test_serve import findings, make_server, upstream  # noqa: F401

ROOT = Path(__file__).resolve().parents[1]
NODE_MODULES = ROOT / ".venv" / "js" / "node_modules"
ANSWER = b'{"status": 1}'


@pytest.fixture(scope="module")
def node():
    binary = shutil.which("node")
    if binary is None:
        pytest.skip("node is not installed: the Node client tests need it (Debian's nodejs)")
    if not (NODE_MODULES / "@sentry" / "node").is_dir():
        pytest.skip("the Node clients are not installed: run `make test` (it installs them into .venv/js)")
    return binary


def run_client(node: str, client: str, url: str, **args) -> None:
    res = subprocess.run([node, str(ROOT / "tests" / "js" / "send.js"), client, url, json.dumps(args)],
                         capture_output=True, text=True, timeout=120, env={**os.environ, "NODE_PATH": str(NODE_MODULES)})
    assert res.returncode == 0 and "ok" in res.stdout, (res.stdout[-1000:], res.stderr[-2000:])


def _no_leaks(upstream, planted: list[str]) -> list[str]:
    sent = b"\n".join(upstream.bodies).decode("utf-8", "replace")
    return [p for p in planted if p in sent]


def test_sentry_node_sdk(node, make_server, upstream, tmp_path):
    key, project = "0123456789abcdef0123456789abcdef", "42"
    allowed = f"http://{key}@{upstream.url.split('://')[1]}/{project}"
    url = make_server(vercel={"enabled": False}, sentry={"enabled": True, "allowed_dsns": [allowed]})
    planted = canaries("jsS", 4)
    run_client(node, "sentry", url, key=key, project=project, planted=planted)
    assert upstream.wait_for(1)
    sent = b"\n".join(upstream.bodies).decode()
    assert '"exception"' in sent and _no_leaks(upstream, planted) == []
    assert {e for _, e, _ in findings(tmp_path)} >= {"EMAIL_ADDRESS", "US_SSN"}


def test_posthog_node(node, make_server, upstream, tmp_path):
    url = make_server(vercel={"enabled": False}, analytics={"posthog": {"enabled": True, "upstream": upstream.url}})
    upstream.answer_body = ANSWER
    planted = canaries("jsP", 3)
    run_client(node, "posthog", url, key="phc_notarealprojectkey0123456789", planted=planted)
    assert upstream.wait_for(1)
    assert _no_leaks(upstream, planted) == []
    assert b"intake submitted" in b"".join(upstream.bodies)
    assert {e for _, e, _ in findings(tmp_path)} >= {"EMAIL_ADDRESS", "US_SSN"}


def test_segment_analytics_node(node, make_server, upstream, tmp_path):
    url = make_server(vercel={"enabled": False}, analytics={"segment": {"enabled": True, "upstream": upstream.url}})
    upstream.answer_body = ANSWER
    planted = canaries("jsG", 3)
    run_client(node, "segment", url, key="notarealwritekey", planted=planted)
    assert upstream.wait_for(1)
    sent = b"".join(upstream.bodies)
    assert b"Intake Submitted" in sent and _no_leaks(upstream, planted) == []
    assert {e for _, e, _ in findings(tmp_path)} >= {"EMAIL_ADDRESS", "US_SSN"}
