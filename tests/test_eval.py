"""The eval command against hand-computed figures."""

import json

from click.testing import CliRunner

from pipeline.cli import main
from pipeline.analyst.evaluate import evaluate
from pipeline.runtime.scan import scan_paths


def test_eval_scores_by_entity_and_benign_events(engine, tmp_path):
    base = {"deploymentId": "d", "source": "lambda", "projectId": "p"}
    recs = [dict(base, id="a", message="email jane.doe@gmail.com and ssn 512-48-9921"),
            dict(base, id="b", message="call 415-555-0134"),
            dict(base, id="c", message="GET /api/health 200 in 3ms"),
            dict(base, id="d", message="card 4242 4242 4242 4242")]
    (tmp_path / "in.ndjson").write_text("".join(json.dumps(r) + "\n" for r in recs))
    m = recs[0]["message"]
    labels = [{"kind": "event", "source": "vercel", "event_id": e} for e in "abcd"] + [
        {"kind": "label", "source": "vercel", "event_id": "a", "field_path": "message",
         "start": m.index("jane"), "end": m.index("jane") + 18, "entity_type": "EMAIL_ADDRESS"},
        {"kind": "label", "source": "vercel", "event_id": "a", "field_path": "message",
         "start": m.index("512"), "end": m.index("512") + 11, "entity_type": "US_SSN"},
        # a label nothing can find, and event d's card left unlabelled (a false finding on a benign event)
        {"kind": "label", "source": "vercel", "event_id": "b", "field_path": "message", "start": 0, "end": 4,
         "entity_type": "PERSON"},
    ]
    (tmp_path / "labels.jsonl").write_text("".join(json.dumps(x) + "\n" for x in labels))
    scan_paths([tmp_path / "in.ndjson"], tmp_path / "out", engine=engine)
    rep = evaluate(tmp_path / "labels.jsonl", tmp_path / "out")
    assert (rep.overall.labels, rep.overall.found) == (3, 2)
    assert rep.by_entity["PERSON"].recall == 0.0 and rep.by_entity["US_SSN"].recall == 1.0
    # findings: email, ssn (correct), phone in b (labelled event, wrong), card in d (benign): precision 2/4
    assert (rep.overall.findings, rep.overall.correct) == (4, 2)
    assert rep.benign_events == 2 and rep.benign_false_findings == 1
    assert rep.false_per_1000_benign == 500.0
    res = CliRunner().invoke(main, ["eval", str(tmp_path / "labels.jsonl"), str(tmp_path / "out"), "--format", "json"])
    assert res.exit_code == 0 and json.loads(res.output)["overall"]["recall"] == round(2 / 3, 4)
