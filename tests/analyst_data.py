"""A small scanned output directory with hand-countable findings, shared by the analyst tests.

Day 0 (2025-11-22): 3 emails (one twice) on /api/intake; day 1: an SSN on /api/billing (project
`billing`) and a Sentry event carrying one of the same emails. One email is seen in 2 sources.
Events 7 and 8 tie identifiers together: email 0 with an MRN, and email 0 with a phone number, so
those three identifiers are one estimated individual.
"""

from __future__ import annotations

import json
from pathlib import Path

EMAILS = ["ann.lee@gmail.com", "bo.chen@yahoo.com", "cy.diaz@proton.me"]
SSN = "512-48-9921"
CANARIES = ["qv.canary.7731@gmail.com", "MRN-00773311", "CanarySecret_9f8e7d6c5b4a3f2e1d0c"]


def rec(i, day, message, project="telecare", path="/api/intake"):
    return {"id": f"e{i}", "deploymentId": "d", "source": "lambda", "projectId": "p", "projectName": project,
            "timestamp": 1763769600000 + day * 86400000 + i, "level": "info", "message": message,
            "proxy": {"timestamp": 1, "method": "POST", "host": "h", "path": path, "userAgent": ["UA"],
                      "region": "iad1"}}


def write_inputs(src: Path) -> Path:
    src.mkdir(parents=True, exist_ok=True)
    lines = [rec(1, 0, f"signup {EMAILS[0]}"), rec(2, 0, f"signup {EMAILS[1]}"), rec(3, 0, f"signup {EMAILS[0]}"),
             rec(4, 0, f"signup {EMAILS[2]}"), rec(5, 1, f"ssn {SSN} on file", "billing", "/api/billing"),
             rec(6, 1, "GET /api/health 200 in 3ms")]
    (src / "drain.ndjson").write_text("".join(json.dumps(r) + "\n" for r in lines))
    sentry = {"event_id": "a" * 32, "timestamp": "2025-11-23T10:00:00Z", "platform": "node", "level": "error",
              "user": {"email": EMAILS[1]}, "transaction": "/api/intake"}
    (src / "sentry.json").write_text(json.dumps(sentry))
    return src


def write_linked(src: Path) -> Path:
    """Two more events on day 2 tying email 0 to an MRN and to a phone number."""
    src.mkdir(parents=True, exist_ok=True)
    lines = [rec(7, 2, json.dumps({"email": EMAILS[0], "mrn": "MRN-00482913"}), path="/api/visits"),
             rec(8, 2, json.dumps({"email": EMAILS[0], "phone": "+1 415 867 5309"}), path="/api/visits")]
    (src / "linked.ndjson").write_text("".join(json.dumps(r) + "\n" for r in lines))
    return src


def write_canaries(src: Path) -> Path:
    """Unique values that must never reach a report, triage or fix output."""
    src.mkdir(parents=True, exist_ok=True)
    email, mrn, secret = CANARIES
    lines = [rec(20, 1, json.dumps({"email": email, "mrn": mrn}), path=f"/api/visits?email={email}"),
             rec(21, 1, f"loaded config api_key={secret}", path="/api/boot")]
    (src / "canary.ndjson").write_text("".join(json.dumps(r) + "\n" for r in lines))
    sentry = {"event_id": "b" * 32, "timestamp": "2025-11-23T11:00:00Z", "platform": "node", "level": "error",
              "user": {"email": email}, "request": {"url": f"https://app.example/api/visits?email={email}",
                                                     "cookies": {"__Secure-next-auth.session-token": secret}},
              "transaction": "/api/visits"}
    (src / "canary-sentry.json").write_text(json.dumps(sentry))
    return src


def scanned_out(engine, tmp_path, monkeypatch):
    """The inputs above scanned into `tmp_path/out`; the working directory is `tmp_path`, so policy files
    written next to the output directory land in `tmp_path/config`."""
    from pipeline.runtime.scan import scan_paths

    monkeypatch.chdir(tmp_path)
    write_inputs(tmp_path / "in")
    out = tmp_path / "out"
    scan_paths([tmp_path / "in"], out, engine=engine)
    return out
