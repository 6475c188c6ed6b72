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


def test_eval_cases_scores_recall_false_alarms_and_lists_misses_without_text(engine, tmp_path):
    from pipeline.analyst.evaluate import evaluate_cases

    cases = [
        {"source": "a", "text": "my email address is info@presidio.site", "note": "email",
         "expect": [{"type": "EMAIL_ADDRESS", "start": 20, "end": 38}], "tags": ["t1"]},
        {"source": "a", "text": "ssn 512-48-9921 and nothing else", "note": "ssn",
         "expect": [{"type": "US_SSN"}]},  # no span: any finding of the type counts
        {"source": "b", "text": "the weather is fine", "note": "unfindable",
         "expect": [{"type": "PERSON", "start": 0, "end": 3}], "tags": ["t1"]},
        {"source": "b", "text": "GET /api/health 200", "note": "benign", "expect": [], "neg_type": "PII"},
        {"source": "b", "text": "call 415-555-0134 now", "note": "alarm", "expect": [], "neg_type": "PHONE_NUMBER"},
    ]
    path = tmp_path / "cases.jsonl"
    path.write_text("".join(json.dumps(c) + "\n" for c in cases))
    rep = evaluate_cases(path, engine)
    assert (rep.overall.labels, rep.overall.found) == (3, 2)
    assert (rep.overall.negatives, rep.overall.false_alarms) == (2, 1)
    assert rep.by_source["a"].recall == 1.0 and rep.by_source["b"].recall == 0.0
    assert rep.by_tag["t1"].labels == 2 and rep.by_tag["t1"].found == 1
    assert rep.by_type["PHONE_NUMBER"].false_alarm_rate == 1.0
    assert [(m.index, m.kind) for m in rep.misses] == [(2, "miss"), (4, "false_alarm")]
    res = CliRunner().invoke(main, ["eval", "--cases", str(path), "--by", "source", "--misses", "--format", "json"])
    assert res.exit_code == 0, res.output
    doc = json.loads(res.output)
    assert doc["by_source"]["b"]["false_alarms"] == 1 and len(doc["misses"]) == 2
    assert "415-555-0134" not in res.output and "weather" not in res.output  # indexes and notes, never values
    assert CliRunner().invoke(main, ["eval"]).exit_code == 2


def test_eval_on_a_wrong_file_is_a_clear_usage_error(tmp_path):
    wrong = tmp_path / "wrong.jsonl"
    wrong.write_text('{"foo": 1}\n')
    (tmp_path / "out").mkdir()
    res = CliRunner().invoke(main, ["eval", "--cases", str(wrong)])
    assert res.exit_code == 2 and "missing text, expect" in res.output and "Traceback" not in res.output
    res = CliRunner().invoke(main, ["eval", str(wrong), str(tmp_path / "out")])
    assert res.exit_code == 2 and "wrong.jsonl:1: missing source" in res.output


def test_no_findings_is_no_precision():
    from pipeline.analyst.evaluate import Score

    assert Score(labels=3).precision is None and Score().recall is None and Score(labels=2, found=1).recall == 0.5
