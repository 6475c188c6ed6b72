"""A mixed corpus: every format phiscan reads, in one directory, with one labels file.

    python -m samples.generate --mixed --out samples/generated --events 2000

Per format: Vercel drains (NDJSON, array, gzip), Sentry (NDJSON events, SDK
envelopes with a binary attachment, webhook bodies), Segment (NDJSON and a
batch body), PostHog (capture body, JSONL, CSV and Parquet exports), Mixpanel
(raw export JSONL), GA4 (NDJSON and Parquet), Vercel Web Analytics (NDJSON).
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from connectors.mixpanel import mixpanel_event_id
from samples.formats import Formats
from samples.generate import write_corpus


class Labels:
    def __init__(self, path: Path):
        self.fh = open(path, "a", encoding="utf-8")
        self.count = 0

    def add(self, source: str, event_id: str, labels) -> None:
        self.fh.write(json.dumps({"kind": "event", "source": source, "event_id": event_id}) + "\n")
        for fp, s, e, ent in labels:
            self.fh.write(json.dumps({"kind": "label", "source": source, "event_id": event_id, "field_path": fp,
                                      "start": s, "end": e, "entity_type": ent}) + "\n")
            self.count += 1

    def close(self) -> None:
        self.fh.close()


def _ndjson(path: Path, rows) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r, separators=(",", ":")) + "\n" for r in rows), encoding="utf-8")


def write_mixed(out: Path, events: int, seed: int) -> dict[str, int]:
    """Write every format under `out`; `events` is the Vercel drain count, other formats get a share."""
    counts = write_corpus(out, events, seed)  # drains + labels.jsonl
    labels = Labels(out / "labels.jsonl")
    f = Formats(seed + 1)
    n = max(events // 5, 10)

    evs = [f.sentry_event() for _ in range(n)]
    _ndjson(out / "sentry" / "events.ndjson", [e for e, _ in evs])
    for e, lab in evs:
        labels.add("sentry", e["event_id"], lab)
    for i in range(max(n // 10, 2)):
        data, e, lab = f.sentry_envelope()
        (out / "sentry" / f"browser-{i:03d}.envelope").write_bytes(data)
        labels.add("sentry", e["event_id"], lab)
    for i in range(max(n // 20, 2)):
        e, lab = f.sentry_event()
        body = {"action": "triggered", "actor": {"type": "application", "id": "sentry", "name": "Sentry"},
                "data": {"event": e, "triggered_rule": "PHI alert"}, "installation": {"uuid": f.uuid()}}
        (out / "sentry" / f"webhook-{i:03d}.json").write_text(json.dumps(body, indent=1), encoding="utf-8")
        labels.add("sentry", e["event_id"], lab)

    msgs = [f.segment_message() for _ in range(n)]
    half = len(msgs) // 2
    _ndjson(out / "segment" / "messages.ndjson", [m for m, _ in msgs[:half]])
    (out / "segment" / "batch.json").write_text(json.dumps({"batch": [m for m, _ in msgs[half:]],
                                                            "sentAt": f.iso()}), encoding="utf-8")
    for m, lab in msgs:
        labels.add("segment", m["messageId"], lab)

    ph = [f.posthog_event() for _ in range(n)]
    q = len(ph) // 4
    capture, jsonl, csv_rows, pq_rows = ph[:q], ph[q:2 * q], ph[2 * q:3 * q], ph[3 * q:]
    (out / "posthog").mkdir(parents=True, exist_ok=True)
    (out / "posthog" / "capture.json").write_text(json.dumps({"api_key": "phc_" + f.token(43), "sent_at": f.iso(),
                                                              "batch": [e for e, _ in capture]}), encoding="utf-8")
    _ndjson(out / "posthog" / "export.jsonl", [e for e, _ in jsonl])
    def export_row(e):
        return {"uuid": e["uuid"], "event": e["event"], "distinct_id": e["properties"]["distinct_id"],
                "properties": json.dumps(e["properties"]), "elements_chain": "", "person_properties": "{}",
                "timestamp": e["timestamp"]}
    with open(out / "posthog" / "export.csv", "w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=list(export_row(csv_rows[0][0])))
        w.writeheader()
        w.writerows(export_row(e) for e, _ in csv_rows)
    pq.write_table(pa.Table.from_pylist([export_row(e) for e, _ in pq_rows]), out / "posthog" / "export.parquet")
    for e, lab in ph:
        labels.add("posthog", e["uuid"], lab)

    mp = [f.mixpanel_event() for _ in range(n)]
    _ndjson(out / "mixpanel" / "export.jsonl", [e for e, _ in mp])
    for e, lab in mp:
        labels.add("mixpanel", mixpanel_event_id(e, ""), lab)

    ga = [f.ga4_row() for _ in range(n)]
    half = len(ga) // 2
    _ndjson(out / "ga4" / "events.ndjson", [r for r, _ in ga[:half]])
    pq.write_table(pa.Table.from_pylist([r for r, _ in ga[half:]]), out / "ga4" / "events.parquet")
    for i, (r, lab) in enumerate(ga[:half]):
        labels.add("ga4", f"events.ndjson:{i + 1}", lab)
    for i, (r, lab) in enumerate(ga[half:]):
        labels.add("ga4", f"events.parquet:{i + 1}", lab)

    va = [f.vercel_analytics() for _ in range(n)]
    _ndjson(out / "vercel" / "analytics.ndjson", [r for r, _ in va])
    for i, (r, lab) in enumerate(va):
        labels.add("vercel-analytics", f"analytics.ndjson:{i + 1}", lab)
    labels.close()
    return {"events": counts["events"] + 7 * n, "labels": counts["labels"] + labels.count}
