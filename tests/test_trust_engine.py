"""The engine's promises under pressure: no finding lost to its cache, one runtime safe under concurrency."""

from __future__ import annotations

import json
import threading

from core.model import Event
from pipeline.config import Config
from pipeline.engine.fingerprint import Fingerprinter
from pipeline.engine.scanner import ScanEngine
from pipeline.runtime.build import Body, build

KEY = b"engine-test-key-not-a-secret"


def wide_sentry_events(n: int, fields: int, planted: dict[int, str]) -> list[dict]:
    events = []
    for i in range(n):
        extra = {f"field_{j}": f"value {i}-{j} of a wide event" for j in range(fields)}
        if i in planted:
            extra["contact"] = planted[i]
        events.append({"event_id": f"{i:032x}", "level": "error", "message": f"event {i}", "extra": extra})
    return events


def test_a_large_batch_loses_no_finding_to_cache_eviction():
    """512 events x ~140 fields with the default cache: the email of event 0 must be found."""
    config = Config()
    engine = ScanEngine(config, Fingerprinter(KEY))
    payloads = wide_sentry_events(512, 140, {0: "first.patient@example.org", 511: "last.patient@example.org"})
    evs = [Event("sentry", p["event_id"], f"t:{i}", p) for i, p in enumerate(payloads)]
    found = {(f.event_id, f.entity_type) for f in engine.scan(evs).findings}
    assert (payloads[0]["event_id"], "EMAIL_ADDRESS") in found
    assert (payloads[511]["event_id"], "EMAIL_ADDRESS") in found


def test_a_tiny_cache_still_scrubs_every_value():
    config = Config.model_validate({"detection": {"cache_size": 4}})
    runtime = build(config, engine=ScanEngine(config, Fingerprinter(KEY)))
    planted = {i: f"p{i}.patient@example.org" for i in range(0, 200, 7)}
    body = json.dumps(wide_sentry_events(200, 30, planted)).encode()
    out = runtime.process(body, "sentry", "wide.json", scrub=True)
    assert not out.quarantined
    assert b"patient@example.org" not in out.clean
    assert sum(f.entity_type == "EMAIL_ADDRESS" for f in out.findings) == len(planted)


def test_one_runtime_shared_by_threads_gives_what_sequential_calls_give(engine):
    """The HTTP routes call the runtime from a thread pool: concurrent callers must get sequential results."""
    runtime = build(Config(), engine=engine)
    bodies = []
    for i in range(24):
        rec = {"id": f"r{i}", "deploymentId": "dpl_1", "projectId": "p", "source": "lambda",
               "timestamp": 1700000000000 + i,
               "message": f"user u{i}.patient@example.org ssn 536-90-{4300 + i} name Maria Gonzalez"}
        bodies.append(json.dumps([rec]).encode())

    def summary(out):
        return sorted((f.finding_id, f.fingerprint) for f in out.findings), out.clean

    expected = [summary(runtime.process(b, "vercel", f"b{i}", scrub=True)) for i, b in enumerate(bodies)]
    results: dict[int, tuple] = {}

    def work(i: int) -> None:
        for _ in range(3):
            results[i] = summary(runtime.process_many([Body(bodies[i], f"b{i}")], "vercel", scrub=True)[0])

    threads = [threading.Thread(target=work, args=(i,)) for i in range(len(bodies))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert [results[i] for i in range(len(bodies))] == expected


def test_a_detector_crash_quarantines_only_its_document(engine, monkeypatch):
    """One poison text that makes a detector raise must not take the other documents of its batch with it."""
    runtime = build(Config(), engine=engine)
    real = engine.analyzer.analyze

    def analyze(tasks):
        if any("POISON-TEXT" in t.text for t in tasks):
            raise RuntimeError("detector bug")
        return real(tasks)

    monkeypatch.setattr(engine.analyzer, "analyze", analyze)
    bodies = [Body(json.dumps([{"id": f"r{i}", "deploymentId": "dpl_1", "source": "lambda",
                                # the poison text holds an email too: a text no detector could match is not analyzed
                                "message": "POISON-TEXT p1.patient@example.org" if i == 1
                                else f"mail p{i}.patient@example.org"}]).encode(),
                   f"b{i}") for i in range(3)]
    outs = runtime.process_many(bodies, "vercel", scrub=True)
    assert [o.quarantined for o in outs] == [False, True, False]
    assert outs[1].reason == "scan error (RuntimeError)"
    assert all(b"patient@example.org" not in o.clean for o in (outs[0], outs[2]))



def test_a_route_repeated_in_a_batch_is_templated_in_every_event_even_after_a_rolled_back_one():
    """Label pieces are remembered for the batch: every event with the route gets it templated, and an
    event that fails a limit while its labels are submitted (its origin decodes to too many views) is
    rolled back leaving nothing remembered that points at the views it dropped."""
    config = Config.model_validate({"detection": {"max_views_per_field": 8}})
    engine = ScanEngine(config, Fingerprinter(KEY))
    shared = "/api/users/kim.lee@example.org/notes"
    many_pairs = "&".join(f"k{i}=v{i}" for i in range(40))  # more decoded views than the limit
    evs = [Event("vercel", "e0", many_pairs, {"message": "ok"}, route=shared),
           Event("vercel", "e1", "t:1", {"message": "patient mrn 00000001"}, route=shared),
           *(Event("vercel", f"e{i}", f"t:{i}", {"message": f"patient mrn {i:08d}"}, route=shared)
             for i in range(2, 6))]
    result = engine.scan(evs)
    assert len(result.bad) == 1 and "decoded views" in result.bad[0].reason
    routes = {f.event_id: f.route for f in result.findings}
    assert set(routes) == {"e1", "e2", "e3", "e4", "e5"}
    assert all("@" not in r and "[EMAIL_ADDRESS]" in r for r in routes.values()), routes


def test_a_route_holds_no_value_its_own_field_is_found_to_hold():
    """Canaries in routes: what a field's path views find (a name slug after `/patients/`, an id after
    `/mrn/`) is templated in the route column too, whose segments are keyed by the segment before them."""
    engine = ScanEngine(Config(), Fingerprinter(KEY))
    canaries = {"/patients/zofia-kowalski/chart": "zofia-kowalski", "/patients/mrn/00917731": "00917731",
                "/ssn/078-05-1121/verify": "078-05-1121"}
    evs = [Event("vercel", f"e{i}", f"t:{i}", {"path": route, "message": "ok"}, route=route)
           for i, route in enumerate(canaries)]
    result = engine.scan(evs)
    assert {f.event_id for f in result.findings} == {"e0", "e1", "e2"}
    for f in result.findings:
        stored = json.dumps([f.route, f.field_path, f.field_key, f.event_id, f.origin, f.preview])
        assert not any(c in stored for c in canaries.values()), stored
        assert "[" in f.route


def test_short_positions_are_left_unscanned_only_where_no_detector_could_match():
    """An origin's position (`:1204`, `/0/88123`) is not analyzed when no digit run passes six: checked here
    against the whole analyzer on many such positions; a longer run (a card number in a file name) is still scanned."""
    import random

    from detectors.analyzer import Task
    from pipeline.engine.scanner import _SHORT_POSITION

    engine = ScanEngine(Config(), Fingerprinter(KEY))
    rnd = random.Random(2)
    positions = ["".join(rnd.choice([":", "/", "#", "#item", "["]) + str(rnd.randint(0, 999_999)) + rnd.choice(["", "]"])
                         for _ in range(rnd.randint(1, 8))) for _ in range(3000)]
    positions = [p for p in positions if _SHORT_POSITION.fullmatch(p)]
    assert len(positions) > 2000
    for profile in ("full", "machine"):
        assert not any(engine.analyzer.analyze([Task(p, "origin", "origin", profile) for p in positions])), profile
    result = engine.scan([Event("vercel", "e1", "/exports/4111111111111111:3", {"message": "patient mrn 00000001"})])
    assert result.findings and all("4111111111111111" not in f.origin for f in result.findings)
