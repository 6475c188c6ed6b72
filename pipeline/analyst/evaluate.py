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

from collections import defaultdict
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
    def recall(self) -> float | None:
        return self.found / self.labels if self.labels else None  # nothing to find: no recall, not 1.000

    @property
    def precision(self) -> float | None:
        return self.correct / self.findings if self.findings else None  # nothing found: no precision


def _ratio(value: float | None, digits: int = 3) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


class LabelsError(ValueError):
    """A labels or cases file is not in the documented format; the message names the line and the key."""


LABEL_KEYS = ("source", "event_id", "field_path", "start", "end", "entity_type")
CASE_KEYS = ("text", "expect")


def _rows(path: str | Path, required: tuple[str, ...], what: str, skip_kind: str | None = None):
    """The JSON lines of a labels or cases file, each checked for the keys its format needs."""
    try:
        fh = open(path, "rb")
    except OSError as exc:
        raise LabelsError(f"cannot read {what} file {path}: {exc.strerror}") from None
    with fh:
        for n, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                row = orjson.loads(line)
            except orjson.JSONDecodeError:
                raise LabelsError(f"{path}:{n}: not a JSON line (see README: {what} format)") from None
            if not isinstance(row, dict):
                raise LabelsError(f"{path}:{n}: expected a JSON object (see README: {what} format)")
            if skip_kind is None or row.get("kind") != skip_kind:
                missing = [k for k in required if k not in row]
                if missing:
                    raise LabelsError(f"{path}:{n}: missing {', '.join(missing)} (see README: {what} format)")
            yield row


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
    for row in _rows(path, LABEL_KEYS, "labels", skip_kind="event"):
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
                    "recall": None if s.recall is None else round(s.recall, 4),
                    "precision": None if s.precision is None else round(s.precision, 4)}
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
                      _ratio(s.recall), _ratio(s.precision))
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
        table.add_row(src, str(rep.events), str(rep.overall.labels), _ratio(rep.overall.recall),
                      _ratio(rep.overall.precision), f"{rep.false_per_1000_benign:.2f}")
    console.print(table)


# -- labelled text cases (other projects' test strings) ------------------------------------------
#
# A cases file is JSON lines: {"source", "text", "expect": [{"type", "start"?, "end"?}], "note",
# "tags"?, "neg_type"?}. Each case is scanned as one event whose payload is `[text]`, so spans index
# the text. A label is found when a finding of its type (any secret type for a secret label)
# overlaps its span (any finding of the type, when the label has no span). A case with no label is
# a negative: a finding of its `neg_type` (a type, `SECRET`, `PII` or `ANY`) is a false alarm.

CASE_BATCH = 256


@dataclass
class CaseScore:
    labels: int = 0
    found: int = 0
    negatives: int = 0
    false_alarms: int = 0

    @property
    def recall(self) -> float | None:
        return self.found / self.labels if self.labels else None

    @property
    def false_alarm_rate(self) -> float | None:
        return self.false_alarms / self.negatives if self.negatives else None


@dataclass(frozen=True)
class CaseMiss:
    """A label not found, or a negative that raised a finding: never the case's text."""

    index: int
    source: str
    entity_type: str
    note: str
    kind: str  # "miss" | "false_alarm"
    found_types: tuple[str, ...] = ()


@dataclass
class CaseReport:
    overall: CaseScore = field(default_factory=CaseScore)
    by_source: dict[str, CaseScore] = field(default_factory=dict)
    by_type: dict[str, CaseScore] = field(default_factory=dict)
    by_tag: dict[str, CaseScore] = field(default_factory=dict)
    misses: list[CaseMiss] = field(default_factory=list)
    cases: int = 0

    def group(self, by: str) -> dict[str, CaseScore]:
        return {"source": self.by_source, "type": self.by_type, "tag": self.by_tag}[by]


def load_cases(path: str | Path) -> list[dict]:
    return list(_rows(path, CASE_KEYS, "cases"))


def _type_matches(label_type: str, found_type: str) -> bool:
    from detectors.entities import SECRETS

    if label_type == found_type:
        return True
    if label_type in ("SECRET", "ANY") or label_type in SECRETS:
        return label_type == "ANY" or found_type in SECRETS
    return label_type == "PII" and found_type not in SECRETS


def _case_findings(cases: list[dict], engine) -> list[list[tuple[str, int, int]]]:
    """(entity type, start, end) of every finding on each case's text, batch by batch."""
    from core.model import Event

    out: list[list[tuple[str, int, int]]] = [[] for _ in cases]
    for lo in range(0, len(cases), CASE_BATCH):
        events = [Event(source="case", event_id=str(i), origin="case", payload=[c["text"]])
                  for i, c in enumerate(cases[lo:lo + CASE_BATCH], start=lo)]
        result = engine.scan(events)
        for f in result.findings:
            out[int(f.event_id)].append((f.entity_type, f.start, f.end))
    return out


def evaluate_cases(path: str | Path, engine) -> CaseReport:
    """Recall per source, type and tag, and false alarms on negatives, of `engine` on a cases file."""
    cases = load_cases(path)
    findings = _case_findings(cases, engine)
    report = CaseReport(cases=len(cases))
    groups: dict[str, dict[str, CaseScore]] = {"source": defaultdict(CaseScore), "type": defaultdict(CaseScore),
                                               "tag": defaultdict(CaseScore)}
    for i, (case, found) in enumerate(zip(cases, findings)):
        tags = case.get("tags") or ["(none)"]
        labels = case.get("expect") or []
        for lab in labels:
            hit = any(_type_matches(lab["type"], t) and
                      ("start" not in lab or (s < lab["end"] and lab["start"] < e)) for t, s, e in found)
            for score in (report.overall, groups["source"][case["source"]], groups["type"][lab["type"]],
                          *(groups["tag"][t] for t in tags)):
                score.labels += 1
                score.found += hit
            if not hit:
                report.misses.append(CaseMiss(i, case["source"], lab["type"], case.get("note", ""), "miss",
                                              tuple(sorted({t for t, _, _ in found}))))
        if not labels:
            neg = case.get("neg_type", "ANY")
            alarm = [t for t, _, _ in found if _type_matches(neg, t)]
            for score in (report.overall, groups["source"][case["source"]], groups["type"][neg],
                          *(groups["tag"][t] for t in tags)):
                score.negatives += 1
                score.false_alarms += bool(alarm)
            if alarm:
                report.misses.append(CaseMiss(i, case["source"], neg, case.get("note", ""), "false_alarm",
                                              tuple(sorted(set(alarm)))))
    report.by_source, report.by_type, report.by_tag = (dict(sorted(groups[g].items()))
                                                       for g in ("source", "type", "tag"))
    return report


def _fmt(x: float | None) -> str:
    return "" if x is None else f"{x:.3f}"


def render_case_report(console: Console, report: CaseReport, by: str = "type", fmt: str = "table",
                       misses: bool = False) -> None:
    """The case report grouped `by` source, type or tag; misses by case index, type and note only."""
    def row(s: CaseScore) -> dict:
        return {"labels": s.labels, "found": s.found, "recall": s.recall and round(s.recall, 4),
                "negatives": s.negatives, "false_alarms": s.false_alarms,
                "false_alarm_rate": s.false_alarm_rate and round(s.false_alarm_rate, 4)}
    if fmt == "json":
        doc = {"cases": report.cases, "overall": row(report.overall),
               f"by_{by}": {k: row(v) for k, v in report.group(by).items()}}
        if misses:
            doc["misses"] = [{"index": m.index, "source": m.source, "type": m.entity_type, "kind": m.kind,
                              "note": m.note, "found_types": list(m.found_types)} for m in report.misses]
        console.print_json(orjson.dumps(doc).decode())
        return
    table = Table(by, "labels", "found", "recall", "negatives", "false alarms", "false-alarm rate",
                  title=f"phiscan eval --cases, by {by}")
    for name, s in [*report.group(by).items(), ("OVERALL", report.overall)]:
        table.add_row(name, str(s.labels), str(s.found), _fmt(s.recall), str(s.negatives), str(s.false_alarms),
                      _fmt(s.false_alarm_rate))
    console.print(table)
    if misses:
        out = Table("case", "source", "type", "kind", "found instead", "note", title="misses and false alarms")
        for m in report.misses:
            out.add_row(str(m.index), m.source, m.entity_type, m.kind, ",".join(m.found_types), m.note)
        console.print(out)
