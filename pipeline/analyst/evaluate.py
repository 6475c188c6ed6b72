"""Scoring findings against labels: recall and precision per entity type and family.

A labels file is JSON lines of two kinds:
  {"kind": "event", "event_id": ..., "source": ...}               every event of the corpus
  {"kind": "label", "event_id": ..., "source": ..., "field_path": ..., "start": ..., "end": ...,
   "entity_type": ...}                                            every planted value
A finding matches a label when event, field path and entity type agree and the
spans overlap. Recall counts labels matched; precision counts findings that
match a label. Events with no label are benign: findings there are false alarms.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import orjson
from rich.console import Console
from rich.table import Table

from pipeline.storage import catalog
from detectors.entities import FAMILY


@dataclass
class Score:
    labels: int = 0
    found: int = 0
    findings: int = 0
    correct: int = 0

    @property
    def recall(self) -> float:
        return self.found / self.labels if self.labels else 1.0

    @property
    def precision(self) -> float:
        return self.correct / self.findings if self.findings else 1.0


@dataclass
class EvalReport:
    by_entity: dict[str, Score] = field(default_factory=dict)
    by_family: dict[str, Score] = field(default_factory=dict)
    overall: Score = field(default_factory=Score)
    events: int = 0
    benign_events: int = 0
    benign_false_findings: int = 0

    @property
    def false_per_1000_benign(self) -> float:
        return 1000 * self.benign_false_findings / self.benign_events if self.benign_events else 0.0


def load_labels(path: str | Path) -> tuple[set[tuple[str, str]], list[dict]]:
    events: set[tuple[str, str]] = set()
    labels: list[dict] = []
    with open(path, "rb") as fh:
        for line in fh:
            if not line.strip():
                continue
            row = orjson.loads(line)
            if row.get("kind") == "event":
                events.add((row["source"], str(row["event_id"])))
            else:
                labels.append(row)
    return events, labels


def evaluate(labels_path: str | Path, out_dir: str | Path, source: str | None = None) -> EvalReport:
    """Scores of the findings in `out_dir` against the labels (of one source, if given)."""
    events, labels = load_labels(labels_path)
    if source is not None:
        events = {e for e in events if e[0] == source}
        labels = [lab for lab in labels if lab["source"] == source]
    con = catalog.connect(out_dir)
    try:
        rows = con.execute(
            'SELECT source, event_id, field_path, start, "end", entity_type FROM findings').fetchall()
    finally:
        con.close()
    findings = [r for r in rows if (r[0], r[1]) in events] if events or source else rows
    index: dict[tuple[str, str, str], list[dict]] = defaultdict(list)
    for lab in labels:
        index[(lab["source"], str(lab["event_id"]), lab["field_path"])].append(lab)
    report = EvalReport(events=len(events))
    labelled_events = {(lab["source"], str(lab["event_id"])) for lab in labels}
    report.benign_events = len(events - labelled_events)
    per: dict[str, Score] = defaultdict(Score)
    matched_labels: set[int] = set()
    for source, event_id, path, start, end, entity in findings:
        s = per[entity]
        s.findings += 1
        hit = False
        for lab in index.get((source, event_id, path), ()):
            if lab["entity_type"] == entity and start < lab["end"] and lab["start"] < end:
                hit = True
                matched_labels.add(id(lab))
        if hit:
            s.correct += 1
        elif (source, event_id) not in labelled_events:
            report.benign_false_findings += 1
    for lab in labels:
        s = per[lab["entity_type"]]
        s.labels += 1
        if id(lab) in matched_labels:
            s.found += 1
    report.by_entity = dict(sorted(per.items()))
    fam: dict[str, Score] = defaultdict(Score)
    for entity, s in per.items():
        for target in (fam[FAMILY.get(entity, "other")], report.overall):
            target.labels += s.labels
            target.found += s.found
            target.findings += s.findings
            target.correct += s.correct
    report.by_family = dict(sorted(fam.items()))
    return report


def render_report(console: Console, report: EvalReport, fmt: str = "table") -> None:
    if fmt == "json":
        def row(s: Score) -> dict:
            return {"labels": s.labels, "found": s.found, "findings": s.findings, "correct": s.correct,
                    "recall": round(s.recall, 4), "precision": round(s.precision, 4)}
        console.print_json(orjson.dumps({
            "overall": row(report.overall),
            "by_entity": {k: row(v) for k, v in report.by_entity.items()},
            "by_family": {k: row(v) for k, v in report.by_family.items()},
            "events": report.events, "benign_events": report.benign_events,
            "false_findings_per_1000_benign_events": round(report.false_per_1000_benign, 3),
        }).decode())
        return
    table = Table("entity type", "labels", "found", "findings", "correct", "recall", "precision",
                  title="phiscan eval")
    for name, s in [*report.by_entity.items(), ("— families —", None), *report.by_family.items(),
                    ("OVERALL", report.overall)]:
        if s is None:
            table.add_row(name, "", "", "", "", "", "")
            continue
        table.add_row(name, str(s.labels), str(s.found), str(s.findings), str(s.correct),
                      f"{s.recall:.3f}", f"{s.precision:.3f}")
    console.print(table)
    console.print(f"events {report.events:,}; benign events {report.benign_events:,}; "
                  f"false findings per 1,000 benign events {report.false_per_1000_benign:.2f}")


def sources_of(labels_path: str | Path) -> list[str]:
    events, _ = load_labels(labels_path)
    return sorted({src for src, _ in events})


def render_by_source(console: Console, labels_path: str | Path, out_dir: str | Path) -> None:
    table = Table("source", "events", "labels", "recall", "precision", "false / 1k benign", title="phiscan eval by source")
    for src in sources_of(labels_path):
        rep = evaluate(labels_path, out_dir, src)
        table.add_row(src, str(rep.events), str(rep.overall.labels), f"{rep.overall.recall:.3f}",
                      f"{rep.overall.precision:.3f}", f"{rep.false_per_1000_benign:.2f}")
    console.print(table)
